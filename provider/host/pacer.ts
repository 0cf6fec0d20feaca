/**
 * The account-wide call budget, shared by every resource that one provider process serves.
 *
 * IoT Platform quotas are per account (ResetThing: 500 calls per second for all RAM users together), while
 * Pulumi runs many resource operations at once in one provider process. So the process paces its calls
 * itself: one pacer per API action, spacing calls evenly at a rate just under the quota, slowing down when
 * the service throttles a real share of the calls (another pipeline may share the account) and climbing back
 * after. A stray throttle (a gateway hiccup) is retried without slowing the whole update down.
 */
import type { ApiActionName, Quotas } from "../shared/config";

/** Rates and shapes of one pacer. */
export interface PacerOptions {
  /** The quota in calls per second; the pacer never sends faster. */
  readonly ceilingQps: number;
  /** Fraction of the quota aimed at (default 0.98), leaving room for latency jitter at the server's window. */
  readonly headroom?: number;
  /** The lowest rate after repeated throttling. */
  readonly floorQps?: number;
  /** Clock, for tests. */
  readonly now?: () => number;
  /** Sleep, for tests. */
  readonly sleep?: (ms: number) => Promise<void>;
}

interface Waiter {
  readonly order: number;
  readonly seq: number;
  readonly resolve: () => void;
}

/** Whether waiter `a` is served before `b`. */
const before = (a: Waiter, b: Waiter): boolean => a.order < b.order || (a.order === b.order && a.seq < b.seq);

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Evenly spaced calls (a leaky bucket with no burst): call `acquire()` before each attempt. Grants are
 * handed out one after another, each slot computed when the previous grant fires, so a stalled event loop
 * cannot release a backlog of overdue slots at once: after a stall the schedule restarts from now. Evenly
 * spaced calls keep any one-second window at the server within the quota, whatever the number of callers.
 *
 * Each slot goes to the waiting caller with the lowest `order` (then the earliest): a cohort's batches pass
 * the order in which they started, so the oldest batch takes every slot until its last device is sent and
 * the batches end one after another. Handed out in call order instead, the batches the engine runs at once
 * would share the rate, end in the same second and leave the quota idle while the engine records them and
 * starts the next ones; ending one at a time, a batch is recorded and replaced while the others send.
 */
export class Pacer {
  readonly ceilingQps: number;
  private readonly target: number;
  private readonly floor: number;
  private rate: number;
  private nextSlot = 0;
  /** Callers waiting for a slot, sorted by order, then by arrival. */
  private readonly waiting: Waiter[] = [];
  /** Arrivals so far: the tie-break among callers of the same order. */
  private arrivals = 0;
  /** Whether the loop that hands out slots is running. */
  private granting = false;
  /** The last slot handed out by `respace`. */
  private lastRelease = -Infinity;
  private lastCut = -Infinity;
  private lastRaise: number;
  /** Times of the answers, and of the throttled ones, in the last second (oldest first). */
  private readonly answers: number[] = [];
  private readonly throttles: number[] = [];
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  /** Answers that were throttled, since the pacer was made. */
  throttled = 0;

  constructor(options: PacerOptions) {
    if (!(options.ceilingQps > 0))
      throw new RangeError(`ceilingQps must be a positive number, got ${options.ceilingQps}`);
    this.ceilingQps = options.ceilingQps;
    // 2% under the quota, and at least 2 calls a second under it at small quotas, where one early call
    // is a larger share of the window.
    this.target = Math.min(
      options.ceilingQps * (options.headroom ?? 0.98),
      Math.max(options.ceilingQps - 2, options.ceilingQps * 0.8),
    );
    this.floor = Math.min(this.target, options.floorQps ?? Math.max(1, options.ceilingQps / 20));
    this.rate = this.target;
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? realSleep;
    this.lastRaise = this.now();
  }

  /** The current rate in calls per second. */
  get currentQps(): number {
    return this.rate;
  }

  /**
   * Waits for this caller's slot. Each slot goes to the lowest `order` waiting (default: after every ordered
   * caller), callers of one order in call order.
   */
  acquire(order: number = Number.MAX_SAFE_INTEGER): Promise<void> {
    return new Promise<void>((resolve) => {
      const waiter: Waiter = { order, seq: this.arrivals++, resolve };
      // Binary search for the first waiter that goes after this one; a batch's callers mostly land at the end.
      let lo = 0;
      let hi = this.waiting.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (before(this.waiting[mid] as Waiter, waiter)) lo = mid + 1;
        else hi = mid;
      }
      this.waiting.splice(lo, 0, waiter);
      if (this.granting) return;
      this.granting = true;
      // Started after the caller's synchronous work, as each slot is computed when it is handed out.
      void Promise.resolve().then(() => this.handOut());
    });
  }

  /** Hands out slots while callers wait; the caller is chosen when its slot comes, so a newer, older-ordered caller goes first. */
  private async handOut(): Promise<void> {
    try {
      while (this.waiting.length > 0) {
        await this.grant();
        (this.waiting.shift() as Waiter).resolve();
        // The granted caller goes on (and sends) before the next slot is computed.
        await Promise.resolve();
      }
    } finally {
      this.granting = false;
    }
  }

  /**
   * Spaces calls again after work done between `acquire()` and the send (the journal's fdatasync), which can hold
   * granted calls back and release them together. Slots follow each other at 99% of the current interval, so a
   * backlog drains while any one second still holds fewer calls than the quota.
   */
  respace(): Promise<void> {
    const now = this.now();
    const slot = Math.max(now, this.lastRelease + (1000 / this.rate) * 0.99);
    this.lastRelease = slot;
    return slot > now ? this.sleep(slot - now) : Promise.resolve();
  }

  private async grant(): Promise<void> {
    let now = this.now();
    this.recover(now);
    const interval = 1000 / this.rate;
    // Behind by more than one slot (idle, or a stall): start again from now instead of catching up.
    if (now - this.nextSlot > interval) this.nextSlot = now;
    if (this.nextSlot > now) {
      await this.sleep(this.nextSlot - now);
      now = this.now();
    }
    // The next slot follows this one's ideal time, so timer lateness under one slot does not lower the rate.
    this.nextSlot = Math.max(this.nextSlot, now - interval) + interval;
  }

  /**
   * Records one answer. When over 5% of the last second's answers were throttled (at least 5 of them, among
   * at least a fifth of a second's worth of calls), the account is over its quota: the rate drops by a fifth,
   * at most once a second, down to the floor. Scattered throttles (a gateway hiccup, 1% of calls) stay far
   * below that share and are only retried.
   */
  onAnswer(throttled: boolean): void {
    const now = this.now();
    this.answers.push(now);
    if (throttled) {
      this.throttled++;
      this.throttles.push(now);
    }
    while ((this.answers[0] as number) <= now - 1000) this.answers.shift();
    while (this.throttles.length > 0 && (this.throttles[0] as number) <= now - 1000) this.throttles.shift();
    if (!throttled) return;
    const overrun =
      this.throttles.length >= 5 &&
      this.answers.length >= Math.max(5, this.ceilingQps / 5) &&
      this.throttles.length > this.answers.length * 0.05;
    if (!overrun || now - this.lastCut < 1000) return;
    this.lastCut = now;
    this.rate = Math.max(this.floor, this.rate * 0.8);
    this.lastRaise = now;
  }

  /**
   * Additive recovery: +5% of the target for each second, starting two clean seconds after the last cut.
   * Slower than the cut (a fifth), so that sharing the quota with another pipeline settles near the share
   * left rather than swinging between the two every second.
   */
  private recover(now: number): void {
    if (this.rate >= this.target || now - this.lastCut < 2000) return;
    const seconds = Math.floor((now - this.lastRaise) / 1000);
    if (seconds <= 0) return;
    this.rate = Math.min(this.target, this.rate + seconds * this.target * 0.05);
    this.lastRaise += seconds * 1000;
  }
}

/**
 * The pacers of one provider process, one per API action: every resource the process serves shares them, since the
 * quotas are per account. A pacer is made anew when its quota changes (quotas come from stack config, the same for
 * every resource of one update).
 */
export class Pacers {
  private readonly byAction = new Map<ApiActionName, Pacer>();

  /** The pacer of an action at its quota. */
  of(action: ApiActionName, quotas: Quotas): Pacer {
    let pacer = this.byAction.get(action);
    if (!pacer || pacer.ceilingQps !== quotas[action]) {
      pacer = new Pacer({ ceilingQps: quotas[action] });
      this.byAction.set(action, pacer);
    }
    return pacer;
  }
}
