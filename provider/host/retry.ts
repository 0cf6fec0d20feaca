/**
 * What a failed attempt says about the request, which failures are safe to retry, and how long to wait. The
 * SDK retries nothing itself (we run it with `autoretry` off), so this is the only retry layer: one place to
 * bound attempts and time.
 */
import { CONFIG_KEYS, defaultOf } from "../shared/config";
import type { WireProgress } from "./wire-progress";

/** How many attempts and how much time one API call may take. */
export interface RetryPolicy {
  /** Attempts in all, the first included. */
  readonly maxAttempts: number;
  /**
   * No new attempt starts once the attempts and the backoffs between them have taken this long; the time a call waits
   * for its turn at the shared pacer does not count.
   */
  readonly maxElapsedMs: number;
  /** The backoff before the second attempt, doubled each time (full jitter). */
  readonly baseDelayMs: number;
  /** The largest backoff between two attempts. */
  readonly maxDelayMs: number;
}

/** The defaults: 8 attempts within 2 minutes, 200 ms doubling to at most 10 s. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: defaultOf(CONFIG_KEYS.maxAttempts),
  maxElapsedMs: defaultOf(CONFIG_KEYS.maxRetrySeconds) * 1000,
  baseDelayMs: 200,
  maxDelayMs: 10_000,
};

/**
 * What a failure says about the request:
 * - `notApplied`: refused before the service acted (not connected, not fully written, throttled, or a gateway
 *   4xx such as a signature or permission error);
 * - `answered`: the service answered with an error it made (a JSON 5xx such as `ServiceUnavailable`);
 * - `unknown`: the request was written and no usable answer came (read timeout, connection reset or closed
 *   after sending, a page that is not JSON from a proxy): the service may have acted on it.
 * Business failures (`Success: false`) never reach here: the API answers them with HTTP 200.
 */
export type FailureOutcome = "notApplied" | "answered" | "unknown";

/** How a failed attempt is classified. */
export interface FailureKind {
  /** What the failure says about the request. */
  readonly outcome: FailureOutcome;
  /**
   * Whether another attempt is safe and useful: throttling, transport failures before the request was out,
   * and answered 5xx. Never for `unknown`: a call that changes something must not be resent blindly.
   */
  readonly retryable: boolean;
  /** Whether the service said we went too fast (feeds the adaptive rate budget). */
  readonly throttled: boolean;
}

/** `Throttling`, `Throttling.User`, `Throttling.Api`, …: the gateway's flow control. */
const THROTTLING_CODES = /^Throttling(\.|$)/;

/**
 * Classifies an error thrown by the SDK for one attempt, given how far that attempt's request got.
 *
 * The SDK throws an error with `statusCode` and `code` only for an error answer with a JSON body; everything
 * else (a connect error, a reset, a timeout, an HTML page that fails JSON.parse) is told apart by `wire`.
 */
export function classifyFailure(err: unknown, wire: WireProgress): FailureKind {
  const e = (err ?? {}) as { code?: unknown; statusCode?: unknown };
  const code = typeof e.code === "string" ? e.code : "";
  const status = typeof e.statusCode === "number" ? e.statusCode : undefined;
  if (status !== undefined) {
    if (THROTTLING_CODES.test(code) || status === 429)
      return { outcome: "notApplied", retryable: true, throttled: true };
    if (status >= 500) return { outcome: "answered", retryable: true, throttled: false };
    return { outcome: "notApplied", retryable: false, throttled: false };
  }
  // Not written: connection refused, name not resolved, connect timeout, a stale socket closed under the
  // write. The service never had the whole request, so another attempt is safe. Not even started: the
  // credential chain or the signing failed, and trying again changes nothing.
  if (!wire.written) return { outcome: "notApplied", retryable: wire.started, throttled: false };
  return { outcome: "unknown", retryable: false, throttled: false };
}

/** The wait before attempt `attempt + 1` (attempt counts from 1): full jitter over an exponential cap. */
export function backoffDelay(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.floor(random() * cap);
}
