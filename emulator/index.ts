/**
 * A local Alibaba Cloud IoT Platform (OpenAPI 2018-01-20) for tests and demos: the real
 * `@alicloud/iot20180120` SDK talks to it as to the cloud — ACS3-HMAC-SHA256 signatures verified,
 * quotas enforced, business errors and gateway errors answered with the real statuses, Codes and wording.
 *
 * ```ts
 * const emu = await startEmulator();
 * const client = new Client(new $OpenApi.Config({ ...emu.credentials, endpoint: emu.endpoint.slice(7), protocol: "http", regionId: "cn-shanghai" }));
 * await client.resetThing(new ResetThingRequest({ productKey: "a1DemoProduct", deviceName: "sensor-001" }));
 * emu.resetCount({ productKey: "a1DemoProduct", deviceName: "sensor-001" }); // 1
 * await emu.stop();
 * ```
 * See emulator/README.md for the CLI, the fleet file format and the fault options.
 */
import { randomBytes } from "node:crypto";
import type { CredentialSpec } from "./auth";
import { BUSINESS_MESSAGES, BusinessError } from "./errors";
import type { FaultKind, FaultOptions } from "./faults";
import { demoFleetPath, loadFleetFile, validateFleet, type FleetFile } from "./fleet";
import { comeBackPlan, validateComeBack, type ComeBackOptions, type ComeBackOutcome } from "./comeback";
import {
  applyFleet,
  Registry,
  type ComeBackRecord,
  type DeviceRef,
  type DeviceState,
  type JobState,
  type SettableStatus,
} from "./model";
import { EmulatorServer, type Outcome, type RecordedRequest } from "./server";
import { startOssEmulator, type OssEmulator, type OssEmulatorOptions } from "./oss";

export { iotIdFor, SYNC_TOPOLOGY_LIMIT } from "./model";
export type {
  ComeBackRecord,
  DeviceRef,
  DeviceState,
  DeviceStatus,
  JobState,
  JobStatus,
  SettableStatus,
} from "./model";
export type { ComeBackOptions, ComeBackOutcome, ComeBackRule, DelayRange } from "./comeback";
export { comeBackPlan, DEFAULT_COME_BACK_DELAY, DEFAULT_COME_BACK_SEED } from "./comeback";
export { BATCH_GET_DEVICE_STATE_LIMIT, BATCH_QUERY_DEVICE_DETAIL_LIMIT } from "./api";
export type { RecordedRequest, Outcome } from "./server";
export type { FleetFile, FleetInstance, FleetProduct, FleetDevice, FleetGenerate } from "./fleet";
export { FleetError, demoFleetPath, loadFleetFile, validateFleet } from "./fleet";
export type { FaultKind, FaultOptions } from "./faults";
export { appliesOperation, FAULT_KINDS, mulberry32 } from "./faults";
export { DEFAULT_QUOTAS } from "./quota";
export { DEFAULT_ACCOUNT_ID } from "./auth";
export type { CredentialSpec } from "./auth";
export * as signature from "./signature";
export { startOssEmulator } from "./oss";
export type { OssEmulator, OssEmulatorOptions, OssFault, OssOperation, OssRecordedRequest, OssVersioning } from "./oss";
export { OSS_ERRORS } from "./oss-errors";
export * as ossSignature from "./oss-signature";

/** The AccessKey ID of the default credentials. */
export const DEFAULT_ACCESS_KEY_ID = "LTAIEmulatorTestKey01";

/** Options of startEmulator; every one has a default. */
export interface EmulatorOptions {
  /** The port to listen on; default 0 (a free port, read it from `emulator.port`). */
  port?: number;
  /** The interface to bind; default "127.0.0.1" (anything else exposes unauthenticated test state to the network). */
  host?: string;
  /** A fleet object, or the path of a fleet JSON file; default: the bundled demo fleet (emulator/fleets/demo.json). */
  fleet?: FleetFile | string;
  /** The accepted AccessKeys (STS ones with `securityToken`); default one pair, ID "LTAIEmulatorTestKey01" with a random secret per start. */
  credentials?: CredentialSpec[];
  /** Per-action QPS per account, replacing the documented defaults (ResetThing 500, QueryDeviceDetail 50, BatchGetDeviceState 50, BatchQueryDeviceDetail 5, QueryJob 5, QueryJobStatistics 5, RegisterDevice 50, QueryDevice 50 and QueryDeviceDeepPage 2 for its pages from the 100,000th device, QueryDeviceByStatus 50, QueryDeviceListByDeviceGroup 5). */
  quotas?: Partial<Record<string, number>>;
  /** Latency added to every answer: `fixedMs` plus a seeded uniform `0..jitterMs`; default none. */
  latency?: {
    /** Milliseconds added to every answer. */
    fixedMs?: number;
    /** The upper bound of a seeded uniform delay added on top, in ms. */
    jitterMs?: number;
  };
  /**
   * Seeded random faults: rates 0..1 of each kind (summing to at most 1), optionally only for some actions; default
   * none. A kind whose FAULTS entry applies the operation (the apply-then kinds) runs the call before it answers; the
   * others replace it.
   */
  faults?: FaultOptions;
  /** How long a gateway topology job stays IN_PROGRESS, in ms; default 3000. */
  jobDurationMs?: number;
  /**
   * How devices come back after a reset: a device a ResetThing takes OFFLINE is ONLINE again after a seeded uniform
   * delay, or never for a seeded share; per product with `byProduct`. Default: seed 1, none never, 2–10 s.
   */
  comeBack?: ComeBackOptions;
  /** The emulator's clock, in ms since the epoch; default `Date.now`. Tests freeze it to make quotas exact. */
  clock?: () => number;
  /** The largest accepted distance between `x-acs-date` and the emulator's clock, in ms; default 15 minutes. */
  clockSkewMs?: number;
  /**
   * How long a signature nonce is remembered (a reuse within it is refused), in ms; at least twice `clockSkewMs`,
   * since a request dated up to the skew ahead stays acceptable that long; default twice `clockSkewMs` (30 minutes).
   */
  nonceTtlMs?: number;
  /** The request log keeps at most this many entries (the oldest half is dropped when full); default 1,000,000. */
  maxRecordedRequests?: number;
  /** Receives each request as it is logged (the same entry `requests()` returns), e.g. to print it; default none. */
  onRequest?: (request: RecordedRequest) => void;
  /** Receives each warning (binding an address other than loopback); default `process.emitWarning`. */
  onWarning?: (message: string) => void;
  /**
   * Also start the OSS side (the reset journal's bucket) on its own port, with the credentials, host, clock and
   * skew: `true`, or `{ maxKeys }` to cap ListObjects pages; default off. See `emulator.oss`.
   */
  oss?: boolean | Pick<OssEmulatorOptions, "maxKeys">;
}

/** A running emulator. */
export interface Emulator {
  /** The base URL, e.g. "http://127.0.0.1:41234"; the SDK's `endpoint` is this without "http://". */
  readonly endpoint: string;
  /** The port it listens on. */
  readonly port: number;
  /** The OSS side, when `oss` was asked for: its endpoint, buckets, request log and faults. */
  readonly oss?: OssEmulator;
  /** The first configured AccessKey pair. */
  readonly credentials: {
    /** The AccessKey ID. */
    accessKeyId: string;
    /** The AccessKey secret. */
    accessKeySecret: string;
  };
  /** The recorded requests, oldest first, optionally only one action and/or outcome. */
  requests(filter?: { action?: string; outcome?: Outcome }): RecordedRequest[];
  /**
   * How many requests of `action` got `outcome` since the emulator started, cleared log or not: a counter, so a
   * progress line can read it every second without scanning a log of 100,000 requests (a pause the server's own
   * quota window would feel).
   */
  countOf(action: string, outcome: Outcome): number;
  /** Empties the request log (device reset counts are kept). */
  clearRequests(): void;
  /** How many ResetThing calls succeeded for the device; 0 for an unknown device. */
  resetCount(device: DeviceRef): number;
  /** How many ResetThing calls succeeded in total. */
  totalResets(): number;
  /** A copy of the device's state (status as of the emulator's clock), or undefined when there is no such device. */
  device(device: DeviceRef): DeviceState | undefined;
  /** Every device a reset took OFFLINE: back (and when), pending (and when it will be), or never; optionally one product. */
  comeBacks(filter?: { productKey?: string }): ComeBackRecord[];
  /**
   * What the come-back draw gives this device after a reset under the current options (it applies only to a device a
   * reset takes OFFLINE: activated, not DISABLE, of a dynamic-registration product); throws for an unknown device.
   */
  comeBackPlan(device: DeviceRef): ComeBackOutcome;
  /** Replaces the come-back options for resets from now on (a return already drawn keeps its time). */
  setComeBack(options: ComeBackOptions): void;
  /** Sets a device's status now (ONLINE, OFFLINE or DISABLE) and cancels its pending return. */
  setDeviceStatus(device: DeviceRef, status: SettableStatus): void;
  /** Adds devices to a product, creating the instance and product if missing (dynamic registration defaults to on). */
  addDevices(
    productKey: string,
    devices: Array<{
      deviceName: string;
      iotId?: string;
      gateway?: boolean;
      subDeviceCount?: number;
      registered?: boolean;
      activated?: boolean;
      status?: SettableStatus;
      groups?: string[];
    }>,
    opts?: { iotInstanceId?: string; dynamicRegistration?: boolean },
  ): void;
  /** The next `count` calls of `action` ("*": of any action) get this fault, before any random fault. */
  scriptFaults(action: string, fault: FaultKind, count: number): void;
  /** The next gateway topology job ends in FAILED or TIMEOUT (after its duration) instead of COMPLETED. */
  failNextJob(status: "FAILED" | "TIMEOUT"): void;
  /** A job still IN_PROGRESS ends in FAILED or TIMEOUT instead of COMPLETED. */
  failJob(jobId: string, status: "FAILED" | "TIMEOUT"): void;
  /** Every topology job, with its current status. */
  jobs(): JobState[];
  /** Every ResetThing of this device answers this business error (HTTP 200, Success false) until healDevice. */
  failDevice(device: DeviceRef, code: string, message?: string): void;
  /** Undoes failDevice. */
  healDevice(device: DeviceRef): void;
  /** Sets an action's QPS quota per account (0 refuses every call, Infinity lifts the limit). */
  setQuota(action: string, qps: number): void;
  /** An action's current QPS quota (Infinity when it has none). */
  quota(action: string): number;
  /** Closes the server and every open socket (including held "timeout" ones); resolves once closed. */
  stop(): Promise<void>;
}

/** Starts an emulator on 127.0.0.1 (unless told otherwise) and resolves once it listens. */
export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const host = options.host ?? "127.0.0.1";
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new RangeError(`\`port\` must be an integer from 0 to 65535, got ${port}`);
  const clockSkewMs = options.clockSkewMs ?? 15 * 60_000;
  if (!(Number.isFinite(clockSkewMs) && clockSkewMs >= 0))
    throw new RangeError(`\`clockSkewMs\` must be a finite number of ms, 0 or more, got ${clockSkewMs}`);
  const nonceTtlMs = options.nonceTtlMs ?? 2 * clockSkewMs;
  if (!(Number.isFinite(nonceTtlMs) && nonceTtlMs >= 2 * clockSkewMs)) {
    throw new RangeError(
      `\`nonceTtlMs\` must be at least twice \`clockSkewMs\` (${2 * clockSkewMs} ms), got ${nonceTtlMs}: a request ` +
        `dated up to clockSkewMs ahead stays acceptable for twice clockSkewMs, and a nonce forgotten sooner could be replayed`,
    );
  }
  if (!isLoopback(host)) {
    (options.onWarning ?? ((m: string) => process.emitWarning(m, "IotEmulatorWarning")))(
      `the IoT emulator binds ${host}, which is not a loopback address: its test credentials, request log and ` +
        `state are reachable from other hosts. Bind 127.0.0.1 unless that is what you want.`,
    );
  }
  const jobDurationMs = options.jobDurationMs ?? 3000;
  if (!(jobDurationMs >= 0)) throw new RangeError(`\`jobDurationMs\` must be >= 0, got ${jobDurationMs}`);
  const credentials: CredentialSpec[] =
    options.credentials && options.credentials.length > 0
      ? options.credentials.map((c) => ({ ...c }))
      : [{ accessKeyId: DEFAULT_ACCESS_KEY_ID, accessKeySecret: randomSecret() }];
  const first = credentials[0] as CredentialSpec;

  const clock = options.clock ?? Date.now;
  const registry = new Registry(jobDurationMs, clock, validateComeBack(options.comeBack ?? {}));
  const fleet = options.fleet ?? demoFleetPath();
  if (typeof fleet === "string") applyFleet(registry, loadFleetFile(fleet), fleet);
  else applyFleet(registry, validateFleet(fleet, "fleet option"), "fleet option");

  const server = new EmulatorServer({
    host,
    port,
    credentials,
    registry,
    quotas: options.quotas ?? {},
    latency: options.latency ?? {},
    faults: options.faults ?? {},
    clockSkewMs,
    clock,
    nonceTtlMs,
    maxRecordedRequests: options.maxRecordedRequests ?? 1_000_000,
    ...(options.onRequest ? { onRequest: options.onRequest } : {}),
  });
  const boundPort = await server.listen();
  const oss = options.oss
    ? await startOssEmulator({
        ...(typeof options.oss === "object" ? options.oss : {}),
        host,
        credentials,
        clock,
        clockSkewMs,
      })
    : undefined;
  const endpointHost = host.includes(":") ? `[${host}]` : host;

  return {
    endpoint: `http://${endpointHost}:${boundPort}`,
    port: boundPort,
    ...(oss ? { oss } : {}),
    credentials: { accessKeyId: first.accessKeyId, accessKeySecret: first.accessKeySecret },
    requests: (filter) => server.requests(filter),
    countOf: (action, outcome) => server.countOf(action, outcome),
    clearRequests: () => server.clearRequests(),
    resetCount: (ref) => server.device(ref)?.resetCount ?? 0,
    totalResets: () => registry.totalResets(),
    device: (ref) => server.device(ref),
    comeBacks: (filter) => registry.comeBacks(clock(), filter),
    comeBackPlan: (ref) => {
      const d = registry.find(ref);
      if (!d) throw new Error(`comeBackPlan: no such device ${JSON.stringify(ref)}`);
      return comeBackPlan(registry.comeBack, d);
    },
    setComeBack: (opts) => {
      registry.comeBack = validateComeBack(opts);
    },
    setDeviceStatus: (ref, status) => registry.setStatus(ref, status, clock()),
    addDevices: (productKey, devices, opts = {}) => {
      registry.ensureProduct(opts.iotInstanceId, productKey, {
        ...(opts.dynamicRegistration !== undefined ? { dynamicRegistration: opts.dynamicRegistration } : {}),
      });
      for (const d of devices) registry.addDevice(opts.iotInstanceId, productKey, d);
    },
    scriptFaults: (action, fault, count) => server.scriptFaults(action, fault, count),
    failNextJob: (status) => registry.failNextJob(status),
    failJob: (jobId, status) => registry.failJob(jobId, status),
    jobs: () => server.jobs(),
    failDevice: (ref, code, message) =>
      registry.failDevice(
        ref,
        new BusinessError(
          code,
          message ??
            (BUSINESS_MESSAGES as Readonly<Record<string, string>>)[code] ??
            BUSINESS_MESSAGES["iot.system.SystemException"],
        ),
      ),
    healDevice: (ref) => registry.healDevice(ref),
    setQuota: (action, qps) => server.setQuota(action, qps),
    quota: (action) => server.quotaOf(action),
    stop: async () => {
      await Promise.all([server.stop(), oss?.stop()]);
    },
  };
}

/** Whether an address to bind is loopback only: 127.0.0.0/8, ::1 or localhost. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || /^(::ffff:)?127(\.\d{1,3}){3}$/.test(h);
}

/** A 30-character secret of letters and digits, like a real AccessKey secret. */
function randomSecret(): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  return [...randomBytes(30)].map((b) => alphabet[b % alphabet.length]).join("");
}
