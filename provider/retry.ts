/**
 * Which failures are safe to retry, and how long to wait. The SDK retries nothing itself (we run it with
 * `autoretry` off), so this is the only retry layer: one place to bound attempts and time.
 */

/** How many attempts and how much time one API call may take. */
export interface RetryPolicy {
  /** Attempts in all, the first included. */
  readonly maxAttempts: number;
  /** No new attempt starts once this much time has passed since the first. */
  readonly maxElapsedMs: number;
  /** The backoff before the second attempt, doubled each time (full jitter). */
  readonly baseDelayMs: number;
  /** The largest backoff between two attempts. */
  readonly maxDelayMs: number;
}

/** The defaults: 8 attempts within 2 minutes, 200 ms doubling to at most 10 s. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 8,
  maxElapsedMs: 120_000,
  baseDelayMs: 200,
  maxDelayMs: 10_000,
};

/** How a failed attempt is classified. */
export interface FailureKind {
  /** Whether another attempt is safe and useful. */
  readonly retryable: boolean;
  /** Whether the service said we went too fast (feeds the adaptive rate budget). */
  readonly throttled: boolean;
}

/** `Throttling`, `Throttling.User`, `Throttling.Api`, …: the gateway's flow control. */
const THROTTLING_CODES = /^Throttling(\.|$)/;
const TRANSPORT_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "EPIPE",
  "ETIMEDOUT",
  "ECONNABORTED",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "UND_ERR_SOCKET",
]);

/**
 * Classifies an error thrown by the SDK. Business failures never reach here (the API answers them with
 * HTTP 200 and `Success: false`), so what is left is the gateway and the network.
 */
export function classifyFailure(err: unknown): FailureKind {
  const e = (err ?? {}) as { code?: unknown; statusCode?: unknown; name?: unknown; message?: unknown };
  const code = typeof e.code === "string" ? e.code : "";
  const status = typeof e.statusCode === "number" ? e.statusCode : undefined;
  if (THROTTLING_CODES.test(code)) return { retryable: true, throttled: true };
  if (status === 429) return { retryable: true, throttled: true };
  if (status !== undefined && status >= 500) return { retryable: true, throttled: false };
  if (TRANSPORT_CODES.has(code)) return { retryable: true, throttled: false };
  // The SDK names its read/connect timeouts RequestTimeoutError; a non-JSON error body (an HTML 502 page
  // from a load balancer) surfaces as a bare SyntaxError from JSON.parse.
  if (e.name === "RequestTimeoutError" || e.name === "SyntaxError") return { retryable: true, throttled: false };
  if (typeof e.message === "string" && /socket hang up|ECONNRESET|ReadTimeout|ConnectTimeout/.test(e.message)) {
    return { retryable: true, throttled: false };
  }
  return { retryable: false, throttled: false };
}

/** The wait before attempt `attempt + 1` (attempt counts from 1): full jitter over an exponential cap. */
export function backoffDelay(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.floor(random() * cap);
}
