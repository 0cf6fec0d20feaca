/**
 * Guardrails of one update, held in the provider process (one process serves one `pulumi up`), so that
 * they count across every batch of the update and stop a bad rollout before it takes the fleet offline.
 */
import { GuardrailError } from "./errors";

/** The smallest number of attempted resets before the failure ratio can abort an update. */
export const MIN_FAILURE_SAMPLE = 20;

/** Counts of this update so far. */
export class UpdateGuard {
  /** Resets sent and accepted. */
  succeeded = 0;
  /** Resets sent that failed (business errors, exhausted retries). */
  failed = 0;
  /** Resets admitted by the cap (sent or in flight). */
  private admitted = 0;

  /**
   * Admits one more reset, or throws before any call when a guardrail stops it. `maxResets` is the cap of
   * the update; `maxFailureRatio` the abort threshold (checked once MIN_FAILURE_SAMPLE resets were tried).
   */
  admit(limits: { maxResetsPerUpdate?: number; maxFailureRatio?: number }): void {
    const tried = this.succeeded + this.failed;
    if (limits.maxFailureRatio !== undefined && tried >= MIN_FAILURE_SAMPLE && this.failed / tried > limits.maxFailureRatio) {
      throw new GuardrailError(
        `aborted by maxFailureRatio ${limits.maxFailureRatio}: ${this.failed} of ${tried} resets in this update failed ` +
          `(${this.succeeded} devices were reset). No further device is reset in this update; fix the cause, then run it again ` +
          `(devices already reset are recorded and will not be reset again).`,
      );
    }
    if (limits.maxResetsPerUpdate !== undefined && this.admitted >= limits.maxResetsPerUpdate) {
      throw new GuardrailError(
        `stopped by maxResetsPerUpdate ${limits.maxResetsPerUpdate}: this update already reset ${this.succeeded} devices ` +
          `(${this.admitted} admitted). The rest are left for the next update; raise maxResetsPerUpdate to go further.`,
      );
    }
    this.admitted++;
  }

  /** Records how an admitted reset ended. */
  settle(ok: boolean): void {
    if (ok) this.succeeded++;
    else this.failed++;
  }
}
