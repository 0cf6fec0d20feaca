/**
 * The IoT Platform API as the provider uses it: the real `@alicloud/iot20180120` SDK, paced by the
 * process-wide budget, retried where that is safe, and with every failure turned into an error that names
 * the device, the Code and the RequestId. A ResetThing whose outcome is unknown (written, no answer) is never
 * retried: it ends in an UnknownOutcomeError.
 */
import * as diagnostics from "node:diagnostics_channel";
import type { Agent, ClientRequest } from "node:http";
import Iot, {
  QueryDeviceListByDeviceGroupRequest,
  QueryDeviceRequest,
  QueryJobRequest,
  ResetThingRequest,
} from "@alicloud/iot20180120";
import * as $OpenApi from "@alicloud/openapi-client";
import * as $Util from "@alicloud/tea-util";
import type Credential from "@alicloud/credentials";
import { API_ACTIONS, ApiActionName } from "../shared/config";
import { Pacers } from "./pacer";
import {
  describeDevice,
  DeviceRef,
  IotApiError,
  RequestFailedError,
  RetriesExhaustedError,
  SendingStoppedError,
  UnknownOutcomeError,
} from "../shared/errors";
import { backoffDelay, classifyFailure, RetryPolicy } from "./retry";
import { credentialError, ProviderSettings, Target } from "./settings";
import { tracked, WireProgress } from "./wire-progress";
import { Underway } from "./underway";

/** What a successful ResetThing returned. */
export interface ResetResult {
  /** The RequestId of the accepted call. */
  readonly requestId: string;
  /** Present when the reset runs as an asynchronous device job (a gateway with > 2,000 sub-devices). */
  readonly jobId?: string;
}

/**
 * The process's switch that stops every further call before it is sent: flipped when the engine is gone or the
 * update is cancelled. Calls already on the wire finish and are recorded.
 */
export class SendGate {
  private reason: string | undefined;
  private readonly attempts = new Underway();
  private readonly wakers = new Set<() => void>();

  /** Why sending stopped, or undefined while it may go on. */
  get stopped(): string | undefined {
    return this.reason;
  }

  /** Stops every call not yet sent; the first reason given is kept. */
  stop(reason: string): void {
    this.reason ??= reason;
    for (const wake of [...this.wakers]) wake();
    this.wakers.clear();
  }

  /**
   * Waits for `wait` (a pacer slot, a backoff) unless sending stops first: a call that can no longer leave must not
   * hold a shutdown up for its slot or its backoff.
   */
  async unlessStopped(wait: Promise<void>): Promise<void> {
    if (this.reason !== undefined) return;
    let wake!: () => void;
    const stopped = new Promise<void>((resolve) => this.wakers.add((wake = resolve)));
    try {
      await Promise.race([wait, stopped]);
    } finally {
      this.wakers.delete(wake);
    }
  }

  /** Waits `ms` (a backoff), or less when sending stops meanwhile: a call that can no longer leave waits for nothing. */
  sleep(ms: number): Promise<void> {
    if (this.reason !== undefined) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakers.add(done);
    });
  }

  /**
   * Counts a journaled reset from its first "sending" line until its outcome line is appended, so that a shutdown
   * waits for that line, which the journal's next flush then writes: between attempts (a backoff after a
   * throttled answer) the journal holds "sending" alone, which a later update would read as an unknown outcome.
   * Returns the function that ends the count.
   */
  hold(): () => void {
    return this.attempts.begin();
  }

  /** Throws SendingStoppedError once stopped. */
  check(): void {
    if (this.reason !== undefined) throw new SendingStoppedError(`sending stopped: ${this.reason}`);
  }

  /**
   * Runs one attempt from its journal line to its answer, or to the check that keeps it from leaving, counted until it
   * settles, so that a shutdown waits for it: an attempt journaled as sending and still waiting in the pacer when
   * sending stops ends as not sent, instead of being cut off by the exit and read back as an unknown outcome.
   */
  underway<T>(attempt: () => Promise<T>): Promise<T> {
    return this.attempts.run(attempt);
  }

  /** Resolves once no attempt is underway. */
  idle(): Promise<void> {
    return this.attempts.idle();
  }
}

/** Called around each ResetThing attempt, so that what is sent is journaled first. */
export interface SendHooks {
  /** Runs after the budget admitted the attempt and before it is sent; the attempt goes out once it resolves. */
  beforeAttempt(attempt: number, sentAt: string): Promise<void>;
}

/** One device's state as BatchGetDeviceState reports it. */
export interface DeviceStatus {
  /** The device's IotId. */
  readonly iotId?: string;
  /** The device's name (with the ProductKey of the call, when the call named devices by pair). */
  readonly deviceName?: string;
  /** `ONLINE`, `OFFLINE`, `UNACTIVE` or `DISABLE`. */
  readonly status: string;
  /** When the status last changed, in epoch milliseconds, when the answer gave it. */
  readonly changedAt?: number;
}

/** The devices of one BatchGetDeviceState call: up to 50, by one product's DeviceNames or by IotIds. */
export type DeviceStateQuery =
  { readonly productKey: string; readonly deviceNames: readonly string[] } | { readonly iotIds: readonly string[] };

/** One page of a product's devices (QueryDevice), or of a device group's (QueryDeviceListByDeviceGroup). */
export interface DevicePage {
  /** The RequestId of the call. */
  readonly requestId: string;
  /** The devices of the page; `status` only from QueryDevice. */
  readonly devices: ReadonlyArray<{ productKey: string; deviceName: string; iotId: string; status?: string }>;
  /** How many devices the whole listing has, as the answer says. */
  readonly total: number;
  /** The token of the next page, when the answer gave one. */
  readonly nextToken?: string;
}

/** Which page of a product's devices to read with QueryDevice. */
export interface DevicePageQuery {
  /** The product. */
  readonly productKey: string;
  /** Its instance; absent for the public instance. */
  readonly iotInstanceId?: string;
  /** The page, from 1. */
  readonly currentPage: number;
  /** Devices per page, at most 50. */
  readonly pageSize: number;
  /** The NextToken of the page before. */
  readonly nextToken?: string;
}

/** From this CurrentPage × PageSize on, QueryDevice is paced at its deep-page quota (the QueryDevice reference). */
export const QUERY_DEVICE_DEEP_FROM = 100_000;

/** BatchGetDeviceState reads at most this many devices per call. */
export const DEVICE_STATE_BATCH = 50;

/** Job statuses that mean "not finished yet". */
const PENDING_JOB_STATUSES = new Set(["PLANNED", "SCHEDULED", "QUEUED", "IN_PROGRESS", "CREATED", "SENT"]);

/** Whether a device job status is final. */
export function isJobDone(status: string): boolean {
  return !PENDING_JOB_STATUSES.has(status);
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * How long an idle keep-alive socket to the API stays open. The SDK's HTTP agent sets no idle timeout, so it keeps
 * idle sockets until the server closes them, and a request written to a socket at the moment the server closes it
 * fails with ECONNRESET after it was sent: an unknown outcome, held until the operator decides. Closing idle sockets
 * first removes that race with any server that keeps them longer (the emulator keeps them 65 s); with an agent
 * timeout set, Node also honours a shorter `Keep-Alive: timeout=N` a server announces. It must stay below the
 * connect timeout (`ProviderSettings.connectTimeoutMs`): Node gives a request's socket the request's own timeout
 * only when the two differ.
 */
export const IDLE_SOCKET_MS = 4_000;

let idleTimeoutSet = false;

/**
 * Gives the SDK's agent its idle timeout. The SDK builds the agent inside its HTTP library and takes none from the
 * caller, so the timeout is set on the agent of the first API request (Node publishes each client request on this
 * channel); it applies from the request's socket's first idle moment on.
 */
function closeIdleSockets(): void {
  if (idleTimeoutSet) return;
  idleTimeoutSet = true;
  diagnostics.subscribe("http.client.request.start", (message) => {
    const request = (message as { request?: ClientRequest }).request;
    if (!request?.getHeader("x-acs-action")) return;
    const agent = (
      request as ClientRequest & { agent?: Agent & { keepAlive?: boolean; options?: { timeout?: number } } }
    ).agent;
    if (agent?.keepAlive && agent.options && !agent.options.timeout) agent.options.timeout = IDLE_SOCKET_MS;
  });
}

/**
 * How the SDK's generic `callApi` reaches an IoT Platform 2018-01-20 action, as its typed methods do (the typed model
 * of some answers drops fields the API documents).
 */
export function rpcParams(action: ApiActionName): $OpenApi.Params {
  return new $OpenApi.Params({
    action,
    version: "2018-01-20",
    protocol: "HTTPS",
    pathname: "/",
    method: "POST",
    authType: "AK",
    style: "RPC",
    reqBodyType: "formData",
    bodyType: "json",
  });
}

/** One client per target and credential; cheap to keep, so the host caches them. */
export class IotApi {
  private readonly client: Iot;
  private readonly runtime: $Util.RuntimeOptions;

  constructor(
    target: Target,
    credential: Credential,
    private readonly settings: ProviderSettings,
    /** The process's switch that stops sending. */
    private readonly gate: SendGate,
    /** The provider process's pacers, shared by every client of the process. */
    private readonly pacers: Pacers,
  ) {
    closeIdleSockets();
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

  /** Holds the process's shutdown until the returned function is called: see `SendGate.hold`. */
  holdShutdown(): () => void {
    return this.gate.hold();
  }

  /**
   * Calls ResetThing once, retrying only what was not applied or was answered with a retryable error; throws
   * IotApiError for `Success: false` and gateway refusals, UnknownOutcomeError when an attempt was written and
   * got no usable answer, and SendingStoppedError when the gate closed before an attempt was sent. `order` ranks
   * the call at the shared pacer (lower first; a cohort batch passes the order it started in).
   */
  async resetThing(
    device: DeviceRef & { iotInstanceId?: string },
    hooks?: SendHooks,
    order?: number,
  ): Promise<ResetResult> {
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
      hooks,
      order,
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
   * Reads the state of up to 50 devices in one BatchGetDeviceState call (read-only, so retried like QueryJob).
   *
   * The SDK's response model drops `Timestamp` (when the status changed), which the API documents and a promotion
   * gate needs to tell a device that came back after its reset from one that never went away; so the call goes
   * through the SDK's generic `callApi` and keeps the raw body.
   */
  async batchGetDeviceState(query: DeviceStateQuery, iotInstanceId?: string): Promise<DeviceStatus[]> {
    const names = "iotIds" in query ? query.iotIds : query.deviceNames;
    const who: DeviceRef =
      "iotIds" in query
        ? { iotId: describeList(names), ...(iotInstanceId ? { iotInstanceId } : {}) }
        : {
            productKey: query.productKey,
            deviceName: describeList(names),
            ...(iotInstanceId ? { iotInstanceId } : {}),
          };
    const request = new $OpenApi.OpenApiRequest({
      query: {
        ...("iotIds" in query
          ? Object.fromEntries(query.iotIds.map((id, i) => [`IotId.${i + 1}`, id]))
          : {
              ProductKey: query.productKey,
              ...Object.fromEntries(query.deviceNames.map((n, i) => [`DeviceName.${i + 1}`, n])),
            }),
        ...(iotInstanceId ? { IotInstanceId: iotInstanceId } : {}),
      },
    });
    const body = await this.call("BatchGetDeviceState", who, async () => {
      const raw = (await this.client.callApi(rpcParams("BatchGetDeviceState"), request, this.runtime)) as {
        body?: RawDeviceStateBody;
      };
      const b = raw.body ?? {};
      return { success: b.Success, code: b.Code, errorMessage: b.ErrorMessage, requestId: b.RequestId, raw: b };
    });
    return (body.raw.DeviceStatusList?.DeviceStatus ?? []).map((d) => ({
      ...(typeof d.IotId === "string" ? { iotId: d.IotId } : {}),
      ...(typeof d.DeviceName === "string" ? { deviceName: d.DeviceName } : {}),
      status: typeof d.Status === "string" ? d.Status : "UNKNOWN",
      ...(typeof d.Timestamp === "number" ? { changedAt: d.Timestamp } : {}),
    }));
  }

  /**
   * Reads one page of a product's devices with QueryDevice (read-only, so retried like QueryJob). Pages from the
   * 100,000th device on are paced at the deep-page quota, which the service counts apart.
   */
  async queryDevicePage(q: DevicePageQuery): Promise<DevicePage> {
    const request = new QueryDeviceRequest({
      productKey: q.productKey,
      currentPage: q.currentPage,
      pageSize: q.pageSize,
      ...(q.nextToken !== undefined ? { nextToken: q.nextToken } : {}),
      ...(q.iotInstanceId ? { iotInstanceId: q.iotInstanceId } : {}),
    });
    const who = {
      productKey: q.productKey,
      deviceName: "*",
      ...(q.iotInstanceId ? { iotInstanceId: q.iotInstanceId } : {}),
    };
    const deep = q.currentPage * q.pageSize >= QUERY_DEVICE_DEEP_FROM;
    const body = await this.call(
      "QueryDevice",
      who,
      async () => (await this.client.queryDeviceWithOptions(request, this.runtime)).body,
      undefined,
      undefined,
      deep ? "QueryDeviceDeepPage" : undefined,
    );
    return {
      requestId: body.requestId ?? "",
      devices: (body.data?.deviceInfo ?? []).map((d) => ({
        productKey: d.productKey ?? q.productKey,
        deviceName: d.deviceName ?? "",
        iotId: d.iotId ?? "",
        ...(d.deviceStatus !== undefined ? { status: d.deviceStatus } : {}),
      })),
      total: body.total ?? 0,
      ...(body.nextToken ? { nextToken: body.nextToken } : {}),
    };
  }

  /** Reads one page of a device group's members with QueryDeviceListByDeviceGroup (read-only). */
  async deviceGroupPage(q: {
    groupId: string;
    iotInstanceId?: string;
    currentPage: number;
    pageSize: number;
  }): Promise<DevicePage> {
    const request = new QueryDeviceListByDeviceGroupRequest({
      groupId: q.groupId,
      currentPage: q.currentPage,
      pageSize: q.pageSize,
      ...(q.iotInstanceId ? { iotInstanceId: q.iotInstanceId } : {}),
    });
    const who = { iotId: `group ${q.groupId}`, ...(q.iotInstanceId ? { iotInstanceId: q.iotInstanceId } : {}) };
    const body = await this.call(
      "QueryDeviceListByDeviceGroup",
      who,
      async () => (await this.client.queryDeviceListByDeviceGroupWithOptions(request, this.runtime)).body,
    );
    return {
      requestId: body.requestId ?? "",
      devices: (body.data?.simpleDeviceInfo ?? []).map((d) => ({
        productKey: d.productKey ?? "",
        deviceName: d.deviceName ?? "",
        iotId: d.iotId ?? "",
      })),
      total: body.total ?? 0,
    };
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
   * One API call: wait for the budget, send, classify. Business failures (`Success: false`) and gateway
   * refusals other than throttling are final; throttling, failures before the request was written and 5xx
   * answers are retried with exponential backoff and full jitter, bounded by the policy's attempts and total
   * time. An attempt written without a usable answer ends a ResetThing with UnknownOutcomeError; the other actions
   * only read, so they are tried again. `paceAs` names the quota the call counts against when it is not the
   * action's own.
   */
  private async call<T extends { success?: boolean; code?: string; errorMessage?: string; requestId?: string }>(
    action: ApiActionName,
    device: DeviceRef,
    send: () => Promise<T>,
    hooks?: SendHooks,
    order?: number,
    paceAs?: ApiActionName,
  ): Promise<T> {
    const pacer = this.pacers.of(paceAs ?? action, this.settings.quotas);
    const policy: RetryPolicy = this.settings.retry;
    const readOnly = API_ACTIONS[action].readOnly;
    // The retry budget counts the time spent trying, not the time queued for a turn at the shared pacer: a call of a
    // late batch can wait minutes there behind earlier batches, and its first throttling answer must still be retried.
    let trying = 0;
    for (let attempt = 1; ; attempt++) {
      this.gate.check();
      await this.gate.unlessStopped(pacer.acquire(order));
      this.gate.check();
      let attemptStarted = Date.now();
      const sentAt = new Date().toISOString();
      const wire: WireProgress = { started: false, written: false };
      const answer = await this.gate.underway(async () => {
        if (hooks) await hooks.beforeAttempt(attempt, sentAt);
        await pacer.respace();
        attemptStarted = Date.now();
        // Stopped while the journal was written or the call waited to leave: the attempt does not leave (the
        // journal's caller records that).
        this.gate.check();
        return tracked(action, wire, send).then(
          (body) => ({ body }),
          (err: unknown) => ({ err }),
        );
      });
      if ("err" in answer) {
        const err = answer.err;
        const kind = classifyFailure(err, wire);
        pacer.onAnswer(kind.throttled);
        if (kind.outcome === "unknown" && !readOnly) {
          throw new UnknownOutcomeError(action, device, attempt, sentAt, describeFailure(err));
        }
        if (!kind.retryable && !(kind.outcome === "unknown" && readOnly)) throw toApiError(action, device, err);
        trying += Date.now() - attemptStarted;
        const delay = backoffDelay(attempt, policy);
        if (attempt >= policy.maxAttempts || trying + delay >= policy.maxElapsedMs) {
          throw new RetriesExhaustedError(action, device, attempt, trying, describeFailure(err));
        }
        // Sending stopped during the backoff: the next turn's check ends the call at once.
        await this.gate.sleep(delay);
        trying += delay;
        continue;
      }
      const body = answer.body;
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

/** The raw BatchGetDeviceState answer, as the API documents it. */
interface RawDeviceStateBody {
  readonly Success?: boolean;
  readonly Code?: string;
  readonly ErrorMessage?: string;
  readonly RequestId?: string;
  readonly DeviceStatusList?: {
    readonly DeviceStatus?: ReadonlyArray<{
      IotId?: unknown;
      DeviceName?: unknown;
      Status?: unknown;
      Timestamp?: unknown;
    }>;
  };
}

/** `a, b and 48 more`: the devices of one multi-device call, for its error messages. */
function describeList(names: readonly string[]): string {
  return names.length <= 2 ? names.join(", ") : `${names[0]}, ${names[1]} and ${names.length - 2} more`;
}

/** One line for a failed attempt: its Code, message and RequestId where the response had them. */
export function describeFailure(err: unknown): string {
  const e = (err ?? {}) as { code?: unknown; statusCode?: unknown; name?: unknown; message?: unknown; data?: unknown };
  const data = (e.data ?? {}) as { Message?: unknown; RequestId?: unknown };
  const status = typeof e.statusCode === "number" ? `HTTP ${e.statusCode} ` : "";
  if (e.name === "SyntaxError") return `${status}a response that is not JSON (a gateway or load-balancer error page)`;
  const code = typeof e.code === "string" ? e.code : typeof e.name === "string" ? e.name : "Error";
  // The SDK's transport appends "POST <url> failed." to Node's message; the URL only repeats the device.
  const message =
    typeof data.Message === "string"
      ? data.Message
      : typeof e.message === "string"
        ? e.message
            .replace(/\.?\s*(?:GET|POST|PUT|DELETE|HEAD) \S+ failed\.$/, "")
            // The SDK's connect timeout is a socket idle timer, which also fires after the request was written.
            .replace(/^ConnectTimeout: Connect \S+ failed\.$/, "ConnectTimeout (the SDK's socket idle timeout)")
        : String(err);
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
  return new RequestFailedError(`${action} for ${describeDevice(device)} failed before any response: ${message}`);
}
