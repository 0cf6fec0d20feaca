/**
 * Guardrails of one update, held in the provider process (one process serves one `pulumi up`), so that
 * they count across every batch of the update and stop a bad rollout before it takes the fleet offline.
 */
import { GuardrailError } from "./errors";

/** The smallest number of finished resets before the failure ratio can abort an update. */
export const MIN_FAILURE_SAMPLE = 20;

/** The limits one batch passes in; both optional. */
export interface Limits {
  /** At most this many resets admitted in this update. */
  readonly maxResetsPerUpdate?: number;
  /** Abort once failed / finished exceeds this, after MIN_FAILURE_SAMPLE finished. */
  readonly maxFailureRatio?: number;
}

/** Counts of this update so far. */
export class UpdateGuard {
  /** Resets sent and accepted. */
  succeeded = 0;
  /** Resets sent that failed (business errors, exhausted retries). */
  failed = 0;
  /** Resets admitted (finished or in flight), for the cap. */
  private admitted = 0;
  private inFlight = 0;
  private waiters: Array<() => void> = [];

  /**
   * Admits one more reset, waits, or throws before any call when a guardrail stops it.
   *
   * With `maxFailureRatio`, a reset is sent only if the ratio would still hold were it and every reset in
   * flight to fail: the first MIN_FAILURE_SAMPLE go out together, then the window grows with the successes
   * (a quarter of the finished ones at 0.2). So once the ratio is exceeded, no further call has gone out.
   */
  async admit(limits: Limits): Promise<void> {
    for (;;) {
      const finished = this.succeeded + this.failed;
      const ratio = limits.maxFailureRatio;
      if (ratio !== undefined && finished >= MIN_FAILURE_SAMPLE && this.failed / finished > ratio) {
        throw new GuardrailError(
          `aborted by maxFailureRatio ${ratio}: ${this.failed} of ${finished} resets in this update failed ` +
            `(${this.succeeded} devices were reset). No further device is reset in this update; fix the cause, then run it ` +
            `again (devices already reset are recorded and will not be reset again).`,
        );
      }
      if (limits.maxResetsPerUpdate !== undefined && this.admitted >= limits.maxResetsPerUpdate) {
        throw new GuardrailError(
          `stopped by maxResetsPerUpdate ${limits.maxResetsPerUpdate}: this update already sent ${this.admitted} resets ` +
            `(${this.succeeded} succeeded so far). The rest are left for the next update; raise maxResetsPerUpdate to go further.`,
        );
      }
      if (ratio === undefined || this.inFlight === 0 || this.safeToSend(ratio, finished)) {
        this.admitted++;
        this.inFlight++;
        return;
      }
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** Records how an admitted reset ended, and lets waiting resets look again. */
  settle(ok: boolean): void {
    this.inFlight--;
    if (ok) this.succeeded++;
    else this.failed++;
    const waiting = this.waiters;
    this.waiters = [];
    for (const wake of waiting) wake();
  }

  private safeToSend(ratio: number, finished: number): boolean {
    if (finished < MIN_FAILURE_SAMPLE) return finished + this.inFlight < MIN_FAILURE_SAMPLE;
    return (this.failed + this.inFlight + 1) / (finished + this.inFlight + 1) <= ratio;
  }
}
