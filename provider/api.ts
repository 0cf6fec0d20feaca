/**
 * The IoT Platform API as the provider uses it: the real `@alicloud/iot20180120` SDK, paced by the
 * process-wide budget, retried where that is safe, and with every failure turned into an error that names
 * the device, the Code and the RequestId.
 */
import Iot, { QueryJobRequest, ResetThingRequest } from "@alicloud/iot20180120";
import * as $OpenApi from "@alicloud/openapi-client";
import * as $Util from "@alicloud/tea-util";
import type Credential from "@alicloud/credentials";
import { Pacer, pacerFor } from "./budget";
import { describeDevice, DeviceRef, IotApiError, RetriesExhaustedError } from "./errors";
import { backoffDelay, classifyFailure, RetryPolicy } from "./retry";
import { credentialError, ProviderSettings, Target } from "./settings";

/** What a successful ResetThing returned. */
export interface ResetResult {
  /** The RequestId of the accepted call. */
  readonly requestId: string;
  /** Present when the reset runs as an asynchronous device job (a gateway with > 2,000 sub-devices). */
  readonly jobId?: string;
}

/** Job statuses that mean "not finished yet". */
const PENDING_JOB_STATUSES = new Set(["PLANNED", "SCHEDULED", "QUEUED", "IN_PROGRESS", "CREATED", "SENT"]);

/** Whether a device job status is final. */
export function isJobDone(status: string): boolean {
  return !PENDING_JOB_STATUSES.has(status);
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** One client per target and credential; cheap to keep, so the host caches them. */
export class IotApi {
  private readonly client: Iot;
  private readonly runtime: $Util.RuntimeOptions;

  constructor(
    target: Target,
    credential: Credential,
    private readonly settings: ProviderSettings,
  ) {
    this.client = new Iot(
      new $OpenApi.Config({
        credential,
        endpoint: target.endpoint,
        protocol: target.protocol,
        regionId: target.region,
      }),
    );
    // autoretry stays off: retries happen in call() below, where they share the budget and the policy.
    this.runtime = new $Util.RuntimeOptions({
      autoretry: false,
      readTimeout: settings.readTimeoutMs,
      connectTimeout: settings.connectTimeoutMs,
    });
  }

  /** Calls ResetThing once (retrying only transient failures); throws for `Success: false`. */
  async resetThing(device: DeviceRef & { iotInstanceId?: string }): Promise<ResetResult> {
    const request = new ResetThingRequest({
      // The API gives IotId precedence; send only what identifies the device, so the request log says
      // exactly which identity was used.
      ...(device.iotId ? { iotId: device.iotId } : { productKey: device.productKey, deviceName: device.deviceName }),
      ...(device.iotInstanceId ? { iotInstanceId: device.iotInstanceId } : {}),
    });
    const body = await this.call(
      "ResetThing",
      device,
      async () => (await this.client.resetThingWithOptions(request, this.runtime)).body,
    );
    return body.jobId ? { requestId: body.requestId ?? "", jobId: body.jobId } : { requestId: body.requestId ?? "" };
  }

  /** Reads a device job's status once. */
  async queryJob(
    jobId: string,
    device: DeviceRef & { iotInstanceId?: string },
  ): Promise<{ requestId: string; status: string }> {
    const request = new QueryJobRequest({
      jobId,
      ...(device.iotInstanceId ? { iotInstanceId: device.iotInstanceId } : {}),
    });
    const body = await this.call(
      "QueryJob",
      device,
      async () => (await this.client.queryJobWithOptions(request, this.runtime)).body,
    );
    return { requestId: body.requestId ?? "", status: body.data?.status ?? "UNKNOWN" };
  }

  /**
   * Polls a job until it is final or `timeoutMs` passes; returns the last status seen. Polls share the
   * QueryJob budget (5 calls per second per account) with every other job of the process.
   */
  async waitForJob(jobId: string, device: DeviceRef & { iotInstanceId?: string }, timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { status } = await this.queryJob(jobId, device);
      if (isJobDone(status)) return status;
      if (Date.now() + this.settings.jobPollMs > deadline) return status;
      await sleep(this.settings.jobPollMs);
    }
  }

  /**
   * One API call: wait for the budget, send, classify. Business failures (`Success: false`) are final;
   * throttling, 5xx, timeouts and dropped connections are retried with exponential backoff and full
   * jitter, bounded by the policy's attempts and total time.
   */
  private async call<T extends { success?: boolean; code?: string; errorMessage?: string; requestId?: string }>(
    action: "ResetThing" | "QueryJob",
    device: DeviceRef,
    send: () => Promise<T>,
  ): Promise<T> {
    const pacer: Pacer = pacerFor(action, this.settings.quotas);
    const policy: RetryPolicy = this.settings.retry;
    const started = Date.now();
    for (let attempt = 1; ; attempt++) {
      await pacer.acquire();
      let body: T;
      try {
        body = await send();
      } catch (err) {
        const kind = classifyFailure(err);
        pacer.onAnswer(kind.throttled);
        if (!kind.retryable) throw toApiError(action, device, err);
        const elapsed = Date.now() - started;
        const delay = backoffDelay(attempt, policy);
        if (attempt >= policy.maxAttempts || elapsed + delay >= policy.maxElapsedMs) {
          throw new RetriesExhaustedError(action, device, attempt, elapsed, describeFailure(err));
        }
        await sleep(delay);
        continue;
      }
      pacer.onAnswer(false);
      if (body.success === false) {
        throw new IotApiError(
          action,
          device,
          body.code ?? "Unknown",
          body.errorMessage ?? "(no message)",
          body.requestId,
        );
      }
      return body;
    }
  }
}

/** One line for a transient failure: its Code, message and RequestId where the response had them. */
export function describeFailure(err: unknown): string {
  const e = (err ?? {}) as { code?: unknown; statusCode?: unknown; name?: unknown; message?: unknown; data?: unknown };
  const data = (e.data ?? {}) as { Message?: unknown; RequestId?: unknown };
  const status = typeof e.statusCode === "number" ? `HTTP ${e.statusCode} ` : "";
  if (e.name === "SyntaxError") return `${status}a response that is not JSON (a gateway or load-balancer error page)`;
  const code = typeof e.code === "string" ? e.code : typeof e.name === "string" ? e.name : "Error";
  const message =
    typeof data.Message === "string" ? data.Message : typeof e.message === "string" ? e.message : String(err);
  const requestId = typeof data.RequestId === "string" ? ` (RequestId: ${data.RequestId})` : "";
  return `${status}${code}: ${message}${requestId}`;
}

/** Maps a final SDK exception (signature, permission, credentials) to an error a user can act on. */
function toApiError(action: string, device: DeviceRef, err: unknown): Error {
  const e = (err ?? {}) as { code?: unknown; statusCode?: unknown; message?: unknown; data?: unknown };
  const data = (e.data ?? {}) as { Message?: unknown; RequestId?: unknown; Code?: unknown };
  if (typeof e.statusCode === "number" && typeof e.code === "string") {
    const message = typeof data.Message === "string" ? data.Message : String(e.message);
    const requestId = typeof data.RequestId === "string" ? data.RequestId : undefined;
    return new IotApiError(action, device, e.code, message, requestId, e.statusCode);
  }
  const message = typeof e.message === "string" ? e.message : String(err);
  if (/credential|AccessKey|unable to get credentials/i.test(message)) return credentialError(err);
  return new Error(`${action} for ${describeDevice(device)} failed before any response: ${message}`);
}
