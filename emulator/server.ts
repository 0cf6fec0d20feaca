/**
 * The HTTP side: a loopback server that answers IoT Platform OpenAPI 2018-01-20 calls as the API
 * gateway and the service do, in this order for every request:
 * latency → gateway checks (signature, credentials, time, nonce, version, action) → injected fault →
 * account quota → operation. A throttled call, and a call under a fault that replaces the operation, never
 * reaches the operation, so nothing it would have changed has changed. A fault whose FAULTS entry applies the
 * operation (the apply-then kinds) lets it run and then answers as the entry says: the client cannot tell
 * whether the call was applied.
 */
import { randomUUID } from "node:crypto";
import * as http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { API_VERSION, OPERATIONS } from "./api";
import { Authenticator, isRpcSigned, type CredentialSpec, type Principal, type SignatureKind } from "./auth";
import * as errors from "./errors";
import {
  appliesOperation,
  FAULTS,
  FaultInjector,
  unreachableFault,
  type FaultDecision,
  type FaultKind,
  type FaultOptions,
  type FaultSpec,
  type LatencyOptions,
} from "./faults";
import type { DeviceRef, DeviceState, JobState, Registry } from "./model";
import { QuotaLimiter } from "./quota";
import { parseQueryString } from "./signature";

/** How a recorded request ended. */
export type Outcome = "success" | "business-error" | "throttled" | "fault" | "auth-error";

/** One request as the emulator saw and answered it. */
export interface RecordedRequest {
  /** The Action (`x-acs-action`, or the `Action` parameter of an RPC-signed call), or "" when the request named none. */
  action: string;
  /** The HTTP method, e.g. `POST`. */
  method: string;
  /** How the call was signed, once the gateway checks accepted it. */
  signature?: SignatureKind;
  /**
   * The RPC parameters (query string and form body) of an authenticated request; `{}` for one refused by the
   * gateway checks. At most 64 are kept, each value cut to 1,024 characters, so the log stays bounded.
   */
  params: Record<string, string>;
  /** The AccessKey ID from the Authorization header, when there was one (never the secret). */
  accessKeyId?: string;
  /** The HTTP status answered; 0 when no response was sent (dropped or held connection). */
  httpStatus: number;
  /** How the request ended. */
  outcome: Outcome;
  /** The error Code, for every outcome but success. */
  code?: string;
  /** The fault injected, for outcome "fault". */
  fault?: FaultKind;
  /**
   * For a fault that applies the operation (`applyThenDrop`, `applyThenHang`): whether the operation succeeded (a
   * ResetThing reset the device) before the fault answered; false when it failed with a business error (then `code`
   * names it, unless the fault answers a gateway error).
   */
  applied?: boolean;
  /** The RequestId answered (also recorded for dropped and held requests). */
  requestId: string;
  /** Epoch ms when the request was answered (or dropped, or held). */
  time: number;
}

/** Everything the server needs, already validated by startEmulator. */
export interface ServerConfig {
  /** The interface to bind. */
  readonly host: string;
  /** The port to bind (0: a free one). */
  readonly port: number;
  /** The accepted credentials. */
  readonly credentials: readonly CredentialSpec[];
  /** The state. */
  readonly registry: Registry;
  /** Per-action QPS overrides. */
  readonly quotas: Partial<Record<string, number>>;
  /** Added latency. */
  readonly latency: LatencyOptions;
  /** Random fault rates and seed. */
  readonly faults: FaultOptions;
  /** Accepted `x-acs-date` skew in ms. */
  readonly clockSkewMs: number;
  /** How long nonces are remembered, in ms. */
  readonly nonceTtlMs: number;
  /** At most this many requests are kept in the log (the oldest are dropped first). */
  readonly maxRecordedRequests: number;
  /** The time in ms since the epoch: quotas, signature dates, jobs and the request log read it. */
  readonly clock: () => number;
  /** Receives each entry as it is logged. */
  readonly onRequest?: (request: RecordedRequest) => void;
}

/** Largest request body accepted; RPC calls put their parameters in the query string. */
const MAX_BODY_BYTES = 1 << 20;

/** The request log keeps at most this many parameters of a request, each cut to this many characters. */
export const MAX_LOGGED_PARAMS = 64;
/** See MAX_LOGGED_PARAMS. */
export const MAX_LOGGED_VALUE = 1024;

/** Cuts a text for the log, saying how much was left out. */
function bounded(text: string): string {
  return text.length > MAX_LOGGED_VALUE
    ? `${text.slice(0, MAX_LOGGED_VALUE)}…[${text.length - MAX_LOGGED_VALUE} more characters]`
    : text;
}

/** The parameters as the log keeps them: the first MAX_LOGGED_PARAMS, each value bounded, never an STS token. */
function loggedParams(params: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(params)
      // An RPC-signed call of an STS key carries its token as a parameter: a credential, kept out of the log.
      .filter(([k]) => k !== "SecurityToken")
      .slice(0, MAX_LOGGED_PARAMS)
      .map(([k, v]) => [bounded(k), bounded(v)]),
  );
}

/** The key of `EmulatorServer`'s per-action, per-outcome counters. */
function counterKey(action: string, outcome: Outcome): string {
  return `${action}\u0000${outcome}`;
}

/** The running server and its inspection surface (wrapped by the public Emulator in index.ts). */
export class EmulatorServer {
  private readonly server: http.Server;
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly auth: Authenticator;
  private readonly quota: QuotaLimiter;
  private readonly injector: FaultInjector;
  private log: RecordedRequest[] = [];
  /** Requests logged since the emulator started, by `action` and outcome: counted as logged, never rescanned. */
  private readonly counted = new Map<string, number>();
  private stopping: Promise<void> | undefined;

  constructor(private readonly config: ServerConfig) {
    this.auth = new Authenticator(config.credentials, config.clockSkewMs, config.nonceTtlMs);
    this.quota = new QuotaLimiter(config.quotas);
    this.injector = new FaultInjector(config.faults, config.latency);
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        // A bug must not leave the client hanging: answer InternalError as the gateway would.
        if (!res.headersSent && !res.destroyed)
          this.sendGatewayError(req, res, randomUUID().toUpperCase(), errors.gateway.internalError());
        process.emitWarning(`iot emulator: ${(err as Error).stack ?? String(err)}`);
      });
    });
    // Idle keep-alive connections are closed after 65 s, as load balancers in front of cloud APIs commonly do. A
    // short idle timeout races the client's reuse of a pooled socket: the request is written as the server closes
    // it, and the client cannot tell that reset from one after the reset was applied (an unknown outcome).
    this.server.keepAliveTimeout = 65_000;
    this.server.on("connection", (socket: Socket) => {
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
    });
  }

  /** Binds and starts listening. */
  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(this.config.port, this.config.host, () => {
        this.server.off("error", reject);
        resolve();
      });
    });
    return (this.server.address() as AddressInfo).port;
  }

  /** Closes the server and every open socket, including held "timeout" sockets; idempotent. */
  stop(): Promise<void> {
    if (!this.stopping) {
      this.stopping = new Promise<void>((resolve) => {
        for (const t of this.timers) clearTimeout(t);
        this.timers.clear();
        this.server.close(() => resolve());
        for (const socket of this.sockets) socket.destroy();
        this.sockets.clear();
      });
    }
    return this.stopping;
  }

  /** The request log, optionally filtered. */
  requests(filter: { action?: string; outcome?: Outcome } = {}): RecordedRequest[] {
    return this.log
      .filter(
        (r) =>
          (filter.action === undefined || r.action === filter.action) &&
          (filter.outcome === undefined || r.outcome === filter.outcome),
      )
      .map((r) => ({ ...r, params: { ...r.params } }));
  }

  /** How many requests of `action` got `outcome` since the emulator started (the log may have been cleared). */
  countOf(action: string, outcome: Outcome): number {
    return this.counted.get(counterKey(action, outcome)) ?? 0;
  }

  /** Empties the request log. */
  clearRequests(): void {
    this.log = [];
  }

  /** Scripts the next `count` calls of `action` to fail with `fault`. */
  scriptFaults(action: string, fault: FaultKind, count: number): void {
    this.injector.script(action, fault, count);
  }

  /** Sets an action's QPS quota. */
  setQuota(action: string, qps: number): void {
    this.quota.set(action, qps);
  }

  /** An action's QPS quota (Infinity: none). */
  quotaOf(action: string): number {
    return this.quota.get(action);
  }

  /** The registry, for the public wrapper. */
  get registry(): Registry {
    return this.config.registry;
  }

  /** A device's state. */
  device(ref: DeviceRef): DeviceState | undefined {
    this.config.registry.settle(this.config.clock());
    return this.config.registry.find(ref);
  }

  /** Every job. */
  jobs(): JobState[] {
    return this.config.registry.allJobs(this.config.clock());
  }

  private record(entry: RecordedRequest): void {
    this.log.push(entry);
    this.config.onRequest?.({ ...entry, params: { ...entry.params } });
    const counter = counterKey(entry.action, entry.outcome);
    this.counted.set(counter, (this.counted.get(counter) ?? 0) + 1);
    if (this.log.length > this.config.maxRecordedRequests) {
      this.log.splice(0, this.log.length - Math.floor(this.config.maxRecordedRequests / 2));
    }
  }

  private sleep(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      if (this.stopping) return resolve(false);
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve(!this.stopping);
      }, ms);
      this.timers.add(t);
    });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const requestId = randomUUID().toUpperCase();
    const body = await readBody(req);
    if (body === undefined) {
      req.socket.destroy();
      return;
    }
    const delay = this.injector.nextLatencyMs();
    if (delay > 0 && !(await this.sleep(delay))) return;
    if (res.destroyed) return;

    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const pathname = q < 0 ? url : url.slice(0, q);
    const query = parseQueryString(q < 0 ? "" : url.slice(q + 1));
    const headers = lowerHeaders(req);
    const params: Record<string, string> = { ...query };
    if ((headers["content-type"] ?? "").startsWith("application/x-www-form-urlencoded")) {
      Object.assign(params, parseQueryString(body.toString("utf8")));
    }
    const rpc = isRpcSigned({ headers, params });
    const action = (rpc ? params["Action"] : headers["x-acs-action"]) ?? "";
    const version = rpc ? params["Version"] : headers["x-acs-version"];
    const accessKeyId = rpc ? params["AccessKeyId"] : /Credential=([^,\s]+)/.exec(headers["authorization"] ?? "")?.[1];
    // Until the gateway checks pass, nothing of the request is trusted: the log keeps no parameter of it, and
    // bounded names, so an unauthenticated caller cannot grow the emulator's memory.
    const unauthenticated = {
      method: bounded(req.method ?? ""),
      action: bounded(action),
      params: {},
      requestId,
      ...(accessKeyId !== undefined ? { accessKeyId: bounded(accessKeyId) } : {}),
    };
    const base: Omit<RecordedRequest, "httpStatus" | "outcome" | "time"> = {
      ...unauthenticated,
      params: loggedParams(params),
    };

    // ---- gateway checks
    let principal: Principal;
    try {
      if (req.method !== "GET" && req.method !== "POST") throw errors.gateway.unsupportedHttpMethod();
      principal = this.auth.verify({ method: req.method, pathname, query, headers, body, params }, this.config.clock());
      if (version !== API_VERSION) throw errors.gateway.invalidVersion();
      if (!Object.prototype.hasOwnProperty.call(OPERATIONS, action)) throw errors.gateway.invalidActionNotFound();
    } catch (err) {
      if (!(err instanceof errors.GatewayError)) throw err;
      this.sendGatewayError(req, res, requestId, err);
      this.record({
        ...unauthenticated,
        httpStatus: err.status,
        outcome: "auth-error",
        code: err.code,
        time: this.config.clock(),
      });
      return;
    }

    base.signature = principal.signature;

    // ---- injected faults: most replace the operation; the apply-then kinds answer after it ran
    const fault = this.injector.decide(action);
    if (fault && !appliesOperation(fault.kind)) {
      this.answerFault(req, res, requestId, fault, { ...base, time: this.config.clock() });
      return;
    }

    // ---- account quota, checked in the same tick as the answer so recorded times obey it
    const now = this.config.clock();
    const operation = OPERATIONS[action];
    if (!operation) return; // unreachable: checked above
    if (!this.quota.admit(principal.accountId, operation.quotaOf?.(params) ?? action, now)) {
      const err = errors.gateway.throttlingUser();
      this.sendGatewayError(req, res, requestId, err);
      this.record({ ...base, httpStatus: err.status, outcome: "throttled", code: err.code, time: now });
      return;
    }

    // ---- the operation
    this.config.registry.settle(now);
    try {
      const fields = operation.handle(params, { registry: this.config.registry, now });
      if (fault) {
        this.answerFault(req, res, requestId, fault, { ...base, applied: true, time: now });
        return;
      }
      sendJson(res, 200, requestId, { RequestId: requestId, Success: true, ...fields });
      this.record({ ...base, httpStatus: 200, outcome: "success", time: now });
    } catch (err) {
      if (!(err instanceof errors.BusinessError)) throw err;
      if (fault) {
        this.answerFault(req, res, requestId, fault, { ...base, applied: false, code: err.code, time: now });
        return;
      }
      sendJson(res, 200, requestId, {
        RequestId: requestId,
        Success: false,
        Code: err.code,
        ErrorMessage: err.message,
      });
      this.record({ ...base, httpStatus: 200, outcome: "business-error", code: err.code, time: now });
    }
  }

  /** Answers the client as the fault's FAULTS entry says, and records it. */
  private answerFault(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    requestId: string,
    fault: FaultDecision,
    entry: Omit<RecordedRequest, "httpStatus" | "outcome" | "fault">,
  ): void {
    // Read through FaultSpec, so that the switch must handle every way of FaultAnswer, not only those in use.
    const spec: FaultSpec = FAULTS[fault.kind];
    const answer = spec.answer;
    const record = (httpStatus: number, code?: string) =>
      this.record({
        ...entry,
        httpStatus,
        outcome: "fault",
        fault: fault.kind,
        ...(code !== undefined ? { code } : {}),
      });
    switch (answer.send) {
      case "gatewayError": {
        const err = (answer.errors[fault.variant] ?? answer.errors[0])();
        this.sendGatewayError(req, res, requestId, err);
        return record(err.status, err.code);
      }
      case "html":
        res.writeHead(answer.status, { "content-type": "text/html", "content-length": Buffer.byteLength(answer.body) });
        res.end(answer.body);
        return record(answer.status);
      case "reset":
        req.socket.destroy();
        return record(0);
      case "silence":
        // The socket stays open until the client gives up or stop() destroys it.
        return record(0);
      default:
        // A way to answer left out here does not compile; at run time, throwing gets the client an InternalError.
        return unreachableFault(answer);
    }
  }

  private sendGatewayError(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    requestId: string,
    err: errors.GatewayError,
  ): void {
    sendJson(res, err.status, requestId, {
      RequestId: requestId,
      HostId: req.headers.host ?? "iot.cn-shanghai.aliyuncs.com",
      Code: err.code,
      Message: err.message,
      Recommend: `https://api.aliyun.com/troubleshoot?q=${encodeURIComponent(err.code)}&product=Iot&requestId=${requestId}`,
    });
  }
}

function sendJson(res: http.ServerResponse, status: number, requestId: string, body: Record<string, unknown>): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json;charset=utf-8",
    "content-length": Buffer.byteLength(text),
    "x-acs-request-id": requestId,
  });
  res.end(text);
}

function lowerHeaders(req: http.IncomingMessage): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    out[name.toLowerCase()] = Array.isArray(value) ? value.join(",") : value;
  }
  return out;
}

/** A request's body, or undefined when it is over `limit` bytes or the request broke off (the OSS side reads its own). */
export function readBody(req: http.IncomingMessage, limit: number = MAX_BODY_BYTES): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", () => resolve(undefined));
    req.on("aborted", () => resolve(undefined));
  });
}
