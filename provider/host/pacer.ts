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

/**
 * How far behind its schedule the pacer still makes up missed slots. Stalls of the host's event loop up to this
 * long cost no throughput; an idle pacer starts its next caller with at most this much credit, drained at the
 * pace `respace` allows.
 */
const CATCH_UP_MS = 200;

/**
 * How many calls a backlog may send together. Node fires a timer on whole milliseconds (a fractional delay is cut
 * down, a delay under 1 ms is 1 ms), later on a busy event loop; one call per timer would drain a backlog at about
 * one call per timer tick plus the send's own work, barely above the rate, so each stall's slots would be made up
 * over a second or more and partly lost. Instead the calls that came due while the timer waited go together: no more
 * than this many within this many half slots, which is twice the rate over any such run (its calls leave at the same
 * moment). A run is also no larger than the room the pacer leaves in the server's window, and at least 1 (10 calls
 * of room at ResetThing's 500, 2 at BatchGetDeviceState's 50, 1 at QueryJob's 5), so the calls of one run reaching
 * the server a little apart cannot overfill it on their own.
 */
const RELEASE_BURST = 8;

/** How far back the pacer weighs throttled answers against all answers. */
const THROTTLE_HORIZON_MS = 3000;

/** Times in ascending order, counted from a cutoff: old times are dropped in bulk, not shifted one by one. */
class RecentTimes {
  private times: number[] = [];
  private head = 0;

  push(t: number): void {
    this.times.push(t);
  }

  /** How many times are after `cutoff`; forgets the others. */
  since(cutoff: number): number {
    while (this.head < this.times.length && (this.times[this.head] as number) <= cutoff) this.head++;
    if (this.head > 1024 && this.head * 2 > this.times.length) {
      this.times = this.times.slice(this.head);
      this.head = 0;
    }
    return this.times.length - this.head;
  }
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Evenly spaced calls at the current rate: call `acquire()` before each attempt, for the caller's slot, and
 * `respace()` right before the request leaves. Slots follow an ideal schedule; a stalled event loop (the host
 * converts a batch's records to protobuf, collects garbage: stalls of 15-50 ms are common under load) fires
 * them late, and the slots it missed, up to `CATCH_UP_MS` of them, are made up after it rather than lost.
 * Longer behind (idle, or a long stall), the schedule restarts from now. `respace` is what keeps the server's
 * one-second window within the quota, whatever the grants and the work between grant and send do.
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
  /** How many calls a backlog may send together: `RELEASE_BURST`, or the room left in the server's window if less. */
  private readonly burst: number;
  /** How many releases `released` keeps when trimmed: enough for a window's and a run's look back. */
  private readonly releasesKept: number;
  private readonly floor: number;
  private rate: number;
  private nextSlot = 0;
  /** Callers waiting for a slot, sorted by order, then by arrival. */
  private readonly waiting: Waiter[] = [];
  /** Arrivals so far: the tie-break among callers of the same order. */
  private arrivals = 0;
  /** Whether the loop that hands out slots is running. */
  private granting = false;
  /** When `respace` let its callers go, oldest first (the last second's at least). */
  private readonly released: number[] = [];
  /** Callers of `respace` waiting to go, in arrival order. */
  private readonly leaving: (() => void)[] = [];
  /** Whether the loop that lets them go is running. */
  private releasing = false;
  private lastCut = -Infinity;
  private lastRaise: number;
  /** Times of the answers, and of the throttled ones, within the last `THROTTLE_HORIZON_MS`. */
  private readonly answers = new RecentTimes();
  private readonly throttles = new RecentTimes();
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
    this.burst = Math.max(1, Math.min(RELEASE_BURST, Math.floor(options.ceilingQps - this.target)));
    this.releasesKept = Math.max(options.ceilingQps, this.burst);
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
   * Waits until this call may leave: the last step before every send, after the journal's fdatasync (which holds
   * granted calls back and releases them together) and after a stall that left slots to make up. A backlog leaves
   * at up to twice the current rate (at most `RELEASE_BURST` calls within as many half slots, fewer at small
   * quotas), and no one-second window ever holds more releases than the rate allows, so the server's sliding
   * window keeps most of the quota's 2% headroom while a backlog drains (a stall in the middle of a run can push
   * the sends of the rest of the run into the next window). Drained at only 1% above the rate, each stall of a few
   * milliseconds would cost its slots for good.
   */
  respace(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.leaving.push(resolve);
      if (this.releasing) return;
      this.releasing = true;
      void this.releaseInTurn();
    });
  }

  /**
   * Lets the callers of `respace` go in turn. Each release is logged at the time it really happens, after the timer
   * fired, so the calls a late timer lets go together count where they left, and the spacing after them holds.
   */
  private async releaseInTurn(): Promise<void> {
    try {
      while (this.leaving.length > 0) {
        let now = this.now();
        // Checked again after each wait: Node cuts a fractional delay down to whole milliseconds, and its timers
        // keep a clock of their own, so a timer can fire a little before `now` reaches the time it was set for.
        for (let earliest = this.earliestRelease(); earliest > now; earliest = this.earliestRelease()) {
          await this.sleep(earliest - now);
          now = this.now();
        }
        this.released.push(now);
        // Only the last window's (or run's) worth is ever read; trimmed now and then rather than shifted on every
        // call.
        if (this.released.length > 2 * this.releasesKept) {
          this.released.splice(0, this.released.length - this.releasesKept);
        }
        (this.leaving.shift() as () => void)();
      }
    } finally {
      this.releasing = false;
    }
  }

  /**
   * As many half slots after the release a run's worth (`burst`) back, and once the release a window's worth back
   * is a whole window old.
   */
  private earliestRelease(): number {
    const perWindow = Math.max(1, Math.floor(this.rate));
    const back = this.released.length - perWindow;
    // The server counts calls in (t - 1000, t].
    const windowFree = back >= 0 ? (this.released[back] as number) + 1000 : -Infinity;
    const burstStart = this.released.length - this.burst;
    const burstFree =
      burstStart >= 0 ? (this.released[burstStart] as number) + (this.burst * 1000) / this.rate / 2 : -Infinity;
    return Math.max(burstFree, windowFree);
  }

  private async grant(): Promise<void> {
    let now = this.now();
    this.recover(now);
    // Idle or stalled for long: start again from now rather than hand out a backlog of old slots.
    if (now - this.nextSlot > CATCH_UP_MS) this.nextSlot = now;
    if (this.nextSlot > now) {
      await this.sleep(this.nextSlot - now);
      now = this.now();
    }
    // The next slot follows this one's ideal time, so a late timer or a short stall does not lower the rate.
    this.nextSlot += 1000 / this.rate;
  }

  /**
   * Records one answer. When over 5% of the answers of the last three seconds were throttled (at least 5 of them,
   * among at least a fifth of a second's worth of calls), the account is over its quota: the rate drops by a fifth,
   * at most once a second, down to the floor. Another pipeline sharing the account throttles calls steadily and
   * crosses that share within a second. A stalled event loop at either end sends or admits a few dozen calls late
   * and together, which the server's window refuses in one burst: under 5% of three seconds, only retried, where a
   * one-second share would cut the rate by a fifth for several seconds. Scattered throttles (a gateway hiccup, 1%
   * of calls) are only retried too.
   */
  onAnswer(throttled: boolean): void {
    const now = this.now();
    this.answers.push(now);
    if (throttled) {
      this.throttled++;
      this.throttles.push(now);
    }
    const answers = this.answers.since(now - THROTTLE_HORIZON_MS);
    const throttles = this.throttles.since(now - THROTTLE_HORIZON_MS);
    if (!throttled) return;
    const overrun = throttles >= 5 && answers >= Math.max(5, this.ceilingQps / 5) && throttles > answers * 0.05;
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
