/**
 * Fault injection: added latency, random faults at given rates, and one-off scripted faults.
 *
 * A fault kind is one entry of FAULTS: its rate option, its `iot-emulator` flag and help line, and the server's
 * answer all derive from that entry.
 *
 * Random choices come from seeded mulberry32 generators, one for faults and one for latency, so a run
 * with the same seed and the same sequence of requests meets the same faults and delays again.
 */

import { BAD_GATEWAY_HTML, gateway, type GatewayError } from "./errors";

/** How a fault answers the client; the server carries out each way in one place, so a kind only picks one. */
export type FaultAnswer =
  | {
      /** A gateway error with a JSON body. */
      readonly send: "gatewayError";
      /**
       * The errors answered: a random fault draws each for an equal share of the kind's rate, in this order; a
       * scripted fault answers the last, so that a script is exact.
       */
      readonly errors: readonly [() => GatewayError, ...Array<() => GatewayError>];
    }
  | {
      /** A page that is not JSON, as a load balancer in front of the service answers; the SDK cannot parse it. */
      readonly send: "html";
      /** The HTTP status. */
      readonly status: number;
      /** The HTML body. */
      readonly body: string;
    }
  | {
      /** No status line, no body: the connection is destroyed and the client sees it reset (`ECONNRESET`). */
      readonly send: "reset";
    }
  | {
      /** Never an answer: the socket is held until the client gives up or the emulator stops. */
      readonly send: "silence";
    };

/** One fault kind: its CLI help line, whether the operation runs first, and how the client is answered. */
export interface FaultSpec {
  /** The help line of the kind's `--<kind-in-kebab-case>-rate R` flag of `iot-emulator`. */
  readonly help: string;
  /**
   * Whether the operation runs (a ResetThing resets the device) before the fault answers, so that the client cannot
   * tell whether its call was applied; default false: the fault replaces the operation and nothing changes.
   */
  readonly appliesOperation?: boolean;
  /** How the client is answered. */
  readonly answer: FaultAnswer;
}

/**
 * Every fault the emulator can inject, one entry per kind; the doc of an entry is the doc of its rate option.
 * The entries' order is the order their rates are stacked on the unit interval: new kinds go last, so that a seed
 * keeps giving the same faults to configurations that do not use them.
 */
export const FAULTS = {
  /** Rate of 5xx answers with a JSON body (half 500 InternalError, half 503 ServiceUnavailable). */
  serverError: {
    help: "rate 0..1 of 500 InternalError / 503 ServiceUnavailable answers",
    answer: { send: "gatewayError", errors: [gateway.internalError, gateway.serviceUnavailable] },
  },
  /** Rate of `Throttling` answers (HTTP 400), independent of the quota. */
  throttle: {
    help: "rate 0..1 of 400 Throttling answers",
    answer: { send: "gatewayError", errors: [gateway.throttling] },
  },
  /** Rate of connections destroyed without any response. */
  drop: {
    help: "rate 0..1 of connections dropped without a response",
    answer: { send: "reset" },
  },
  /** Rate of requests never answered (the socket is held until the client gives up or the server stops). */
  timeout: {
    help: "rate 0..1 of requests never answered",
    answer: { send: "silence" },
  },
  /** Rate of HTTP 502 answers with an HTML body (not JSON). */
  badGateway: {
    help: "rate 0..1 of 502 answers with an HTML body",
    answer: { send: "html", status: 502, body: BAD_GATEWAY_HTML },
  },
  /** Rate of calls that are applied (a ResetThing resets the device), then the connection is destroyed unanswered. */
  applyThenDrop: {
    help: "rate 0..1 of calls applied (the device IS reset), then dropped unanswered",
    appliesOperation: true,
    answer: { send: "reset" },
  },
  /** Rate of calls that are applied, then never answered (the socket is held as for `timeout`). */
  applyThenHang: {
    help: "rate 0..1 of calls applied (the device IS reset), then never answered",
    appliesOperation: true,
    answer: { send: "silence" },
  },
} as const satisfies Record<string, FaultSpec>;

/** The faults the emulator can inject: the keys of FAULTS. */
export type FaultKind = keyof typeof FAULTS;

/** Every fault kind, in the order their rates are stacked on the unit interval (the order of FAULTS). */
export const FAULT_KINDS = Object.keys(FAULTS) as readonly FaultKind[];

/** Whether a fault lets the operation run before it answers (so a ResetThing under it resets the device). */
export function appliesOperation(kind: FaultKind): boolean {
  const spec: FaultSpec = FAULTS[kind];
  return spec.appliesOperation ?? false;
}

/** The compile-time guard of every switch over a fault's answer: a way left out makes `answer` not `never`. */
export function unreachableFault(answer: never): never {
  throw new Error(`unhandled fault answer ${JSON.stringify(answer)}`);
}

/** How many answers a fault kind draws from: the errors of a `gatewayError` answer, otherwise one. */
function answerCount(kind: FaultKind): number {
  const answer: FaultAnswer = FAULTS[kind].answer;
  return answer.send === "gatewayError" ? answer.errors.length : 1;
}

/** A decided fault. */
export interface FaultDecision {
  /** The fault kind. */
  readonly kind: FaultKind;
  /** Which of a `gatewayError` answer's `errors` to answer (its index); 0 for the other answers. */
  readonly variant: number;
  /** Whether it came from a script rather than from the random rates. */
  readonly scripted: boolean;
}

/** Rates (0..1) of random faults, one per kind, each documented at its FAULTS entry. */
export type FaultRates = { -readonly [K in keyof typeof FAULTS]?: number };

/** Rates (0..1) of random faults, the seed, and the actions they apply to. */
export interface FaultOptions extends FaultRates {
  /** Seed of the fault and latency generators; default 1. */
  seed?: number;
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
  /** Each kind's rate, in the order of FAULT_KINDS. */
  private readonly rates: ReadonlyArray<readonly [FaultKind, number]>;
  /** The rates' sum: the chance that a call meets a random fault. */
  private readonly total: number;
  private readonly actions: ReadonlySet<string> | undefined;
  private readonly fixedMs: number;
  private readonly jitterMs: number;

  constructor(faults: FaultOptions = {}, latency: LatencyOptions = {}) {
    const seed = faults.seed ?? 1;
    this.faultRandom = mulberry32(seed);
    // A second stream, so that turning latency on or off does not shift which requests fault.
    this.latencyRandom = mulberry32(seed ^ 0x9e3779b9);
    this.rates = FAULT_KINDS.map((kind) => {
      const rate = faults[kind] ?? 0;
      if (!(rate >= 0 && rate <= 1))
        throw new RangeError(`fault rate \`${kind}\` must be between 0 and 1, got ${rate}`);
      return [kind, rate] as const;
    });
    this.total = this.rates.reduce((s, [, rate]) => s + rate, 0);
    if (this.total > 1) throw new RangeError(`fault rates must add up to at most 1, got ${this.total}`);
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
    if (scripted) return { kind: scripted, variant: answerCount(scripted) - 1, scripted: true };
    if (this.actions && !this.actions.has(action)) return undefined;
    if (this.total === 0) return undefined;
    const u = this.faultRandom();
    let floor = 0;
    for (const [kind, rate] of this.rates) {
      if (u < floor + rate) {
        // The kind's slice [floor, floor + rate) is cut into equal shares, one per answer, in order.
        const count = answerCount(kind);
        let variant = 0;
        while (variant < count - 1 && u >= floor + (rate * (variant + 1)) / count) variant += 1;
        return { kind, variant, scripted: false };
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
