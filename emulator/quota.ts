/**
 * Per-account, per-API QPS quotas, enforced the strict way: a sliding one-second window, so that in no
 * one-second window whatsoever do more calls succeed than the quota allows. (A fixed per-second bucket
 * would let twice the quota through across a bucket boundary, which the real gateway does not.)
 */

import { EXTRA_QUOTAS, OPERATIONS } from "./api";

/** The documented QPS quotas of IoT Platform 2018-01-20 per Alibaba Cloud account (shared by its RAM users). */
export const DEFAULT_QUOTAS: Readonly<Record<string, number>> = {
  ...Object.fromEntries(Object.entries(OPERATIONS).map(([action, operation]) => [action, operation.qps])),
  ...EXTRA_QUOTAS,
};

/** Length of the sliding window in ms. */
const WINDOW_MS = 1000;

/** Admits calls per (account, action) while fewer than the quota were admitted in the last second. */
export class QuotaLimiter {
  private readonly quotas: Map<string, number>;
  private readonly windows = new Map<string, number[]>();

  /** @param overrides per-action QPS replacing the defaults. */
  constructor(overrides: Partial<Record<string, number>> = {}) {
    this.quotas = new Map(Object.entries(DEFAULT_QUOTAS));
    for (const [action, qps] of Object.entries(overrides)) if (qps !== undefined) this.set(action, qps);
  }

  /** Sets an action's QPS (0 refuses every call; Infinity removes the limit). */
  set(action: string, qps: number): void {
    if (!(qps >= 0)) throw new RangeError(`quota for ${action} must be a number >= 0, got ${qps}`);
    this.quotas.set(action, qps);
  }

  /** The QPS of an action; Infinity when it has none. */
  get(action: string): number {
    return this.quotas.get(action) ?? Infinity;
  }

  /** Records and admits a call at `now` (epoch ms) if the window has room; returns false when throttled. */
  admit(account: string, action: string, now: number): boolean {
    const qps = this.get(action);
    if (qps === Infinity) return true;
    const key = `${account}\u0000${action}`;
    let window = this.windows.get(key);
    if (!window) {
      window = [];
      this.windows.set(key, window);
    }
    // Calls admitted at or before now - 1000 are outside every window that contains `now`.
    let drop = 0;
    while (drop < window.length && (window[drop] ?? 0) <= now - WINDOW_MS) drop++;
    if (drop > 0) window.splice(0, drop);
    if (window.length >= qps) return false;
    // The clock can step back; keeping the list sorted keeps the window check right.
    window.push(Math.max(now, window[window.length - 1] ?? now));
    return true;
  }
}
