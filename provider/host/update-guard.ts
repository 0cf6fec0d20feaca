/**
 * Guardrails of one update, held in the provider process (one process serves one `pulumi up`), so that
 * they count across every batch of the update and stop a bad rollout before it takes the fleet offline.
 */
import { GuardrailError } from "../shared/errors";
import type { IotApi, SendHooks } from "./iot-api";
import { closedAt } from "../shared/windows";
import {
  CriterionFailureType,
  FailureType,
  MIN_FAILURE_SAMPLE,
  Ramp,
  RolloutControls,
} from "../shared/rollout-controls";

/** How an admitted reset ended: `true` accepted, `false` a business error (as before), or what else happened. */
export type Settlement = boolean | FailureType | "unsent";

/** The time source of the guard: the system clock in the provider, a fake one in tests. */
export interface GuardClock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Resolves after `ms` milliseconds. */
  sleep(ms: number): Promise<void>;
}

/** The system clock. */
export const systemClock: GuardClock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/** One criterion as the guard applies it; `maxFailureRatio` is the one that must be exceeded strictly. */
interface Criterion {
  readonly failureType: CriterionFailureType;
  readonly thresholdPercentage: number;
  readonly minExecuted: number;
  /** Where it came from, for the message: `abortCriteria[0]`. */
  readonly source: string;
  /** The `maxFailureRatio` shorthand: trips when the share is above, not at, the threshold. */
  readonly ratio?: number;
}

const FAILURE_WORDS: Record<CriterionFailureType, string> = {
  businessError: "with a business error (an answered failure, or refused after retries)",
  unknownOutcome: "with an unknown outcome (sent, no answer)",
  jobFailed: "in their device job (ended other than COMPLETED)",
  any: "(of any kind)",
};

/** The criteria of `limits`, `maxFailureRatio` last as `{ any, ratio × 100, 20 }` exceeded strictly. */
export function criteriaOf(limits: RolloutControls): Criterion[] {
  const list: Criterion[] = (limits.abortCriteria ?? []).map((c, i) => ({ ...c, source: `abortCriteria[${i}]` }));
  const ratio = limits.maxFailureRatio;
  if (ratio !== undefined) {
    list.push({
      failureType: "any",
      thresholdPercentage: ratio * 100,
      minExecuted: MIN_FAILURE_SAMPLE,
      source: "maxFailureRatio",
      ratio,
    });
  }
  return list;
}

/** The gap before the `sent`-th reset (0-based) of a ramp, in ms: 60,000 / the rate after `sent` resets. */
export function rampInterval(ramp: Ramp, sent: number): number {
  const steps = Math.floor(sent / ramp.increaseEveryResets);
  return 60_000 / (ramp.baseRatePerMinute * Math.pow(ramp.incrementFactor, steps));
}

/** Counts of this update so far. */
export class UpdateGuard {
  /** Resets sent and accepted. */
  succeeded = 0;
  /** Resets sent that failed (business errors, exhausted retries, unknown outcomes, failed device jobs). */
  failed = 0;
  /** Failed resets by kind. */
  readonly failures: Record<FailureType, number> = { businessError: 0, unknownOutcome: 0, jobFailed: 0 };
  /** Resets admitted (finished or in flight), for the cap. */
  private admitted = 0;
  private inFlight = 0;
  private waiters: Array<() => void> = [];
  /** When the ramp's next admission may go, ms since the epoch; 0 before the first. */
  private rampNext = 0;
  /** Admissions the ramp has spaced so far. */
  private rampSent = 0;

  constructor(readonly clock: GuardClock = systemClock) {}

  /**
   * Admits one more reset, waits, or throws before any call when a guardrail stops it.
   *
   * With a failure criterion, a reset is sent only if the criterion would still hold were it and every reset in
   * flight to fail its way: the first `minExecuted` go out together, then the window grows with the successes
   * (a quarter of the finished ones at 20%). So once a criterion trips, no further call has gone out. Outside the
   * rollout windows it throws; with a ramp it waits for the ramp's next slot (counted as in flight meanwhile), or
   * less: `unlessStopped` ends the wait when sending stops, since each waiting reset holds a slot further ahead and a
   * Ctrl-C must not wait for them all.
   */
  async admit(
    limits: RolloutControls,
    unlessStopped: (wait: Promise<void>) => Promise<void> = (wait) => wait,
  ): Promise<void> {
    const criteria = criteriaOf(limits);
    for (;;) {
      try {
        this.checkStops(limits, criteria);
      } catch (err) {
        this.wakeNext(); // the next waiter sees the stop too
        throw err;
      }
      if (this.inFlight === 0 || criteria.every((c) => this.safeToSend(c))) break;
      // Waiting again ends this round of wake-ups: the next settle starts another.
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    this.admitted++;
    this.inFlight++;
    this.wakeNext(); // there may be room for the next one as well
    if (!limits.ramp) return;
    const now = this.clock.now();
    const slot = Math.max(now, this.rampNext);
    this.rampNext = slot + rampInterval(limits.ramp, ++this.rampSent);
    if (slot > now) await unlessStopped(this.clock.sleep(slot - now));
    try {
      // A criterion or a window may have closed while this reset waited for its slot.
      this.checkStops(limits, criteria, true);
    } catch (err) {
      this.settle("unsent");
      throw err;
    }
  }

  /**
   * Throws GuardrailError when the rollout windows are closed at this moment: called again right before a request
   * goes on the wire, so that no reset leaves after a window ends.
   */
  checkWindow(limits: RolloutControls): void {
    const closed = closedAt(limits, this.clock.now());
    if (!closed) return;
    const next =
      closed.nextOpening !== undefined
        ? `the next window opens at ${new Date(closed.nextOpening).toISOString()}; run the update again then`
        : "no window opens again: widen notAfter (or the maintenance windows) to go on";
    throw new GuardrailError(
      `outside the rollout window: ${closed.reason}, so nothing more is sent in this update; ${next} ` +
        `(devices not reset stay pending and are reset by that update).`,
    );
  }

  /** Records how an admitted reset ended, and lets waiting resets look again. */
  settle(outcome: Settlement): void {
    this.inFlight--;
    if (outcome === "unsent") this.admitted--;
    else if (outcome === true) this.succeeded++;
    else {
      this.failed++;
      this.failures[outcome === false ? "businessError" : outcome]++;
    }
    this.wakeNext();
  }

  /**
   * Wakes the longest waiting reset, which wakes the next once admitted: one at a time, since a batch keeps hundreds of
   * resets waiting and waking them all at every settle costs the host more than the calls themselves.
   */
  private wakeNext(): void {
    this.waiters.shift()?.();
  }

  /** Throws for a tripped criterion, the cap (not once admitted: `admitted`), or closed windows. */
  private checkStops(limits: RolloutControls, criteria: readonly Criterion[], admitted = false): void {
    const finished = this.succeeded + this.failed;
    for (const c of criteria) {
      if (this.tripped(c)) {
        throw new GuardrailError(c.ratio !== undefined ? this.ratioMessage(c.ratio, finished) : this.message(c));
      }
    }
    if (!admitted && limits.maxResetsPerUpdate !== undefined && this.admitted >= limits.maxResetsPerUpdate) {
      throw new GuardrailError(
        `stopped by maxResetsPerUpdate ${limits.maxResetsPerUpdate}: this update already sent ${this.admitted} resets ` +
          `(${this.succeeded} succeeded so far). The rest are left for the next update; raise maxResetsPerUpdate to go further.`,
      );
    }
    this.checkWindow(limits);
  }

  private counted(type: CriterionFailureType): number {
    return type === "any" ? this.failed : this.failures[type];
  }

  private tripped(c: Criterion): boolean {
    const finished = this.succeeded + this.failed;
    if (finished < c.minExecuted || finished === 0) return false;
    const f = this.counted(c.failureType);
    return c.ratio !== undefined ? f / finished > c.ratio : f * 100 >= c.thresholdPercentage * finished;
  }

  /**
   * Whether one more reset may go out with the ones in flight: until `minExecuted` have finished, only as many as
   * make up the sample; after, only if the criterion would not trip were every one of them to fail its way.
   */
  private safeToSend(c: Criterion): boolean {
    const finished = this.succeeded + this.failed;
    if (finished < c.minExecuted) return finished + this.inFlight < c.minExecuted;
    const f = this.counted(c.failureType) + this.inFlight + 1;
    const n = finished + this.inFlight + 1;
    return c.ratio !== undefined ? f / n <= c.ratio : f * 100 < c.thresholdPercentage * n;
  }

  private ratioMessage(ratio: number, finished: number): string {
    return (
      `aborted by maxFailureRatio ${ratio}: ${this.failed} of ${finished} resets in this update failed ` +
      `(${this.succeeded} devices were reset). No further device is reset in this update; fix the cause, then run it ` +
      `again (devices already reset are recorded and will not be reset again).`
    );
  }

  private message(c: Criterion): string {
    const finished = this.succeeded + this.failed;
    const f = this.counted(c.failureType);
    const share = Math.round((f * 10000) / finished) / 100;
    const kinds = (Object.keys(this.failures) as FailureType[])
      .filter((k) => this.failures[k] > 0)
      .map((k) => `${k} ${this.failures[k]}`)
      .join(", ");
    return (
      `aborted by ${c.source} (${c.failureType} at ${c.thresholdPercentage}% or more of at least ${c.minExecuted} ` +
      `executed): ${f} of ${finished} resets executed in this update failed ${FAILURE_WORDS[c.failureType]}, ` +
      `${share}% (${this.succeeded} succeeded; failures by kind: ${kinds || "none"}). No further device is reset in ` +
      `this update; find and fix the cause (the failures are listed with this error), then run it again: devices ` +
      `already reset are recorded and will not be reset again.`
    );
  }
}

/**
 * The API with the rollout window checked before every ResetThing attempt leaves: after the pacer's wait and before
 * the journal records the send, so that no request goes out after a window ends (a closed window throws
 * GuardrailError and the device stays pending).
 */
export function windowChecked(api: IotApi, guard: UpdateGuard, limits: RolloutControls): IotApi {
  const checked = Object.create(api) as IotApi;
  checked.resetThing = (device, hooks?: SendHooks, order?: number) =>
    api.resetThing(
      device,
      {
        beforeAttempt: async (attempt, sentAt) => {
          guard.checkWindow(limits);
          await hooks?.beforeAttempt(attempt, sentAt);
        },
      },
      order,
    );
  return checked;
}
