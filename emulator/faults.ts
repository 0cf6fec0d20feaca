/**
 * Fault injection: added latency, random faults at given rates, and one-off scripted faults.
 *
 * Random choices come from seeded mulberry32 generators, one for faults and one for latency, so a run
 * with the same seed and the same sequence of requests meets the same faults and delays again.
 */

/**
 * The faults the emulator can inject. `applyThenDrop` and `applyThenHang` let the operation run (the device is
 * reset) and then lose the answer; every other fault replaces the operation, so nothing changes.
 */
export type FaultKind =
  "throttle" | "serverError" | "drop" | "timeout" | "badGateway" | "applyThenDrop" | "applyThenHang";

/**
 * Every fault kind, in the order their rates are stacked on the unit interval. New kinds go last, so that a
 * seed keeps giving the same faults to configurations that do not use them.
 */
export const FAULT_KINDS: readonly FaultKind[] = [
  "serverError",
  "throttle",
  "drop",
  "timeout",
  "badGateway",
  "applyThenDrop",
  "applyThenHang",
];

/** Whether a fault lets the operation run before the answer is lost (so a ResetThing under it resets the device). */
export function appliesOperation(kind: FaultKind): boolean {
  switch (kind) {
    case "applyThenDrop":
    case "applyThenHang":
      return true;
    case "throttle":
    case "serverError":
    case "drop":
    case "timeout":
    case "badGateway":
      return false;
    default:
      return unreachableFault(kind);
  }
}

/** The compile-time guard of every switch over FaultKind: a kind left out makes `kind` not `never`. */
export function unreachableFault(kind: never): never {
  throw new Error(`unhandled fault kind ${String(kind)}`);
}

/** A decided fault; `variant` tells a 503 ServiceUnavailable from a 500 InternalError. */
export interface FaultDecision {
  /** The fault kind. */
  readonly kind: FaultKind;
  /** For `serverError`: which server error to answer. */
  readonly variant?: "ServiceUnavailable" | "InternalError";
  /** Whether it came from a script rather than from the random rates. */
  readonly scripted: boolean;
}

/** Rates (0..1) of random faults, the seed, and the actions they apply to. */
export interface FaultOptions {
  /** Seed of the fault and latency generators; default 1. */
  seed?: number;
  /** Rate of 5xx answers with a JSON body (half 500 InternalError, half 503 ServiceUnavailable). */
  serverError?: number;
  /** Rate of `Throttling` answers (HTTP 400), independent of the quota. */
  throttle?: number;
  /** Rate of connections destroyed without any response. */
  drop?: number;
  /** Rate of requests never answered (the socket is held until the client gives up or the server stops). */
  timeout?: number;
  /** Rate of HTTP 502 answers with an HTML body (not JSON). */
  badGateway?: number;
  /** Rate of calls that are applied (a ResetThing resets the device), then the connection is destroyed unanswered. */
  applyThenDrop?: number;
  /** Rate of calls that are applied, then never answered (the socket is held as for `timeout`). */
  applyThenHang?: number;
  /** The actions random faults apply to; default every action. */
  actions?: string[];
}

/** Added latency: every answer waits `fixedMs` plus a uniform random `0..jitterMs`. */
export interface LatencyOptions {
  /** Fixed delay in ms; default 0. */
  fixedMs?: number;
  /** Upper bound of the random extra delay in ms; default 0. */
  jitterMs?: number;
}

/** mulberry32: a small, fast, seedable PRNG returning numbers in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Decides, per request, the added latency and whether a fault replaces the answer. */
export class FaultInjector {
  private readonly faultRandom: () => number;
  private readonly latencyRandom: () => number;
  private readonly scripts = new Map<string, Array<{ kind: FaultKind; remaining: number }>>();
  private readonly rates: Record<FaultKind, number>;
  private readonly actions: ReadonlySet<string> | undefined;
  private readonly fixedMs: number;
  private readonly jitterMs: number;

  constructor(faults: FaultOptions = {}, latency: LatencyOptions = {}) {
    const seed = faults.seed ?? 1;
    this.faultRandom = mulberry32(seed);
    // A second stream, so that turning latency on or off does not shift which requests fault.
    this.latencyRandom = mulberry32(seed ^ 0x9e3779b9);
    this.rates = {
      serverError: 0,
      throttle: 0,
      drop: 0,
      timeout: 0,
      badGateway: 0,
      applyThenDrop: 0,
      applyThenHang: 0,
    };
    let sum = 0;
    for (const kind of FAULT_KINDS) {
      const rate = faults[kind] ?? 0;
      if (!(rate >= 0 && rate <= 1))
        throw new RangeError(`fault rate \`${kind}\` must be between 0 and 1, got ${rate}`);
      this.rates[kind] = rate;
      sum += rate;
    }
    if (sum > 1) throw new RangeError(`fault rates must add up to at most 1, got ${sum}`);
    this.actions = faults.actions ? new Set(faults.actions) : undefined;
    this.fixedMs = latency.fixedMs ?? 0;
    this.jitterMs = latency.jitterMs ?? 0;
    if (!(this.fixedMs >= 0) || !(this.jitterMs >= 0)) throw new RangeError("latency must be >= 0 ms");
  }

  /** The next `count` calls of `action` (`*`: of any action) get `kind`, before any random fault. */
  script(action: string, kind: FaultKind, count: number): void {
    if (!Number.isInteger(count) || count < 0)
      throw new RangeError(`count must be a non-negative integer, got ${count}`);
    if (!FAULT_KINDS.includes(kind))
      throw new RangeError(`unknown fault \`${kind}\`; expected one of ${FAULT_KINDS.join(", ")}`);
    if (count === 0) return;
    const queue = this.scripts.get(action) ?? [];
    queue.push({ kind, remaining: count });
    this.scripts.set(action, queue);
  }

  /** The latency to add to the next answer, in ms. */
  nextLatencyMs(): number {
    if (this.jitterMs === 0) return this.fixedMs;
    return this.fixedMs + Math.floor(this.latencyRandom() * (this.jitterMs + 1));
  }

  /** The fault for the next call of `action`, if any. Scripted faults come first. */
  decide(action: string): FaultDecision | undefined {
    const scripted = this.takeScripted(action) ?? this.takeScripted("*");
    if (scripted)
      return {
        kind: scripted,
        scripted: true,
        ...(scripted === "serverError" ? { variant: "ServiceUnavailable" as const } : {}),
      };
    if (this.actions && !this.actions.has(action)) return undefined;
    const total = FAULT_KINDS.reduce((s, k) => s + this.rates[k], 0);
    if (total === 0) return undefined;
    const u = this.faultRandom();
    let floor = 0;
    for (const kind of FAULT_KINDS) {
      const rate = this.rates[kind];
      if (u < floor + rate) {
        if (kind !== "serverError") return { kind, scripted: false };
        return { kind, scripted: false, variant: u < floor + rate / 2 ? "InternalError" : "ServiceUnavailable" };
      }
      floor += rate;
    }
    return undefined;
  }

  private takeScripted(action: string): FaultKind | undefined {
    const queue = this.scripts.get(action);
    const head = queue?.[0];
    if (!queue || !head) return undefined;
    head.remaining -= 1;
    if (head.remaining <= 0) queue.shift();
    return head.kind;
  }
}
