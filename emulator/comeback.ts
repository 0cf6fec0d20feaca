/**
 * Devices that come back after a reset. ResetThing resets a device's dynamic registration, so the device drops
 * its connection (OFFLINE); a healthy device then runs dynamic registration again and reconnects (ONLINE) after a
 * while, and a share of a real fleet never does (dead battery, bad firmware, no network). A promotion gate that
 * watches the fleet come back needs both, reproducibly.
 *
 * The draw is a pure function of the seed and the device's IotId, so a test can compute exactly who never comes
 * back and when each device does (`comeBackPlan`), and so can an independent computation of the documented formula:
 * `h = sha256("<seed>\0<IotId>")`; `u = h[0..4) / 2^32` (big-endian); `v = h[4..8) / 2^32`;
 * the device never comes back when `u < neverRatio`, otherwise it is ONLINE `minMs + floor(v * (maxMs - minMs + 1))`
 * ms after the reset (a uniform integer delay in `[minMs, maxMs]`).
 */
import { createHash } from "node:crypto";

/** A uniform delay range in ms, both ends included. */
export interface DelayRange {
  /** The shortest delay between a reset and the device being ONLINE again, in ms (an integer, 0 or more). */
  readonly minMs: number;
  /** The longest delay, in ms (an integer, at least `minMs`). */
  readonly maxMs: number;
}

/** How a set of devices comes back after a reset. */
export interface ComeBackRule {
  /** The share 0..1 of devices that never come back ONLINE after a reset; default 0. */
  readonly neverRatio?: number;
  /** The delay until a device that comes back is ONLINE again; default `{ minMs: 2000, maxMs: 10000 }`. */
  readonly delayMs?: DelayRange;
}

/** The come-back behaviour of the whole emulator: a fleet default, overrides per ProductKey, and the seed. */
export interface ComeBackOptions extends ComeBackRule {
  /** The seed of the draw (an integer); default 1. The same seed and IotId always give the same outcome. */
  readonly seed?: number;
  /** Rules per ProductKey; a field a product's rule leaves out falls back to the fleet default. */
  readonly byProduct?: Readonly<Record<string, ComeBackRule>>;
}

/** The fleet default delay when none is configured, in ms. */
export const DEFAULT_COME_BACK_DELAY: DelayRange = { minMs: 2000, maxMs: 10000 };

/** The seed when none is configured. */
export const DEFAULT_COME_BACK_SEED = 1;

/** What the draw decided for one device: never back, or back after `delayMs`. */
export type ComeBackOutcome =
  | {
      /** The device never comes back online. */
      readonly never: true;
    }
  | {
      /** The device comes back online. */
      readonly never: false;
      /** How long after its reset, in ms. */
      readonly delayMs: number;
    };

/** The rule a product's devices follow: its own fields first, then the fleet default, then the built-in default. */
export function ruleFor(options: ComeBackOptions, productKey: string): Required<ComeBackRule> {
  const own = options.byProduct?.[productKey];
  return {
    neverRatio: own?.neverRatio ?? options.neverRatio ?? 0,
    delayMs: own?.delayMs ?? options.delayMs ?? DEFAULT_COME_BACK_DELAY,
  };
}

/**
 * Whether a device comes back after a reset, and after how many ms: a pure function of the options (seed and the
 * rule of the device's product) and the device's IotId. See the module comment for the formula.
 */
export function comeBackPlan(options: ComeBackOptions, device: { productKey: string; iotId: string }): ComeBackOutcome {
  const { neverRatio, delayMs } = ruleFor(options, device.productKey);
  const h = createHash("sha256")
    .update(`${options.seed ?? DEFAULT_COME_BACK_SEED}\u0000${device.iotId}`)
    .digest();
  const u = h.readUInt32BE(0) / 2 ** 32;
  if (u < neverRatio) return { never: true };
  const v = h.readUInt32BE(4) / 2 ** 32;
  return { never: false, delayMs: delayMs.minMs + Math.floor(v * (delayMs.maxMs - delayMs.minMs + 1)) };
}

/** Checks come-back options; the error names the option and the rule. */
export function validateComeBack(options: ComeBackOptions, name = "comeBack"): ComeBackOptions {
  if (options.seed !== undefined && !Number.isSafeInteger(options.seed))
    throw new RangeError(`\`${name}.seed\` must be an integer, got ${options.seed}`);
  checkRule(options, name);
  for (const [productKey, rule] of Object.entries(options.byProduct ?? {}))
    checkRule(rule, `${name}.byProduct.${productKey}`);
  return options;
}

function checkRule(rule: ComeBackRule, at: string): void {
  const r = rule.neverRatio;
  if (r !== undefined && !(typeof r === "number" && r >= 0 && r <= 1))
    throw new RangeError(`\`${at}.neverRatio\` must be a number from 0 to 1, got ${String(r)}`);
  const d = rule.delayMs;
  if (d === undefined) return;
  if (!Number.isSafeInteger(d.minMs) || d.minMs < 0)
    throw new RangeError(`\`${at}.delayMs.minMs\` must be an integer number of ms, 0 or more, got ${String(d.minMs)}`);
  if (!Number.isSafeInteger(d.maxMs) || d.maxMs < d.minMs)
    throw new RangeError(
      `\`${at}.delayMs.maxMs\` must be an integer number of ms, at least minMs (${d.minMs}), got ${String(d.maxMs)}`,
    );
}
