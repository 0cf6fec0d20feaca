/**
 * The IoT Platform 2018-01-20 operations the emulator serves. Each handler reads the RPC parameters,
 * changes the registry and returns the response fields that follow `RequestId` and `Success: true`, or
 * throws a BusinessError, which the server answers as HTTP 200 with `Success: false`.
 */
import { createHash } from "node:crypto";
import * as errors from "./errors";
import type { Registry } from "./model";

/** The API version every call must name in `x-acs-version`. */
export const API_VERSION = "2018-01-20";

/** Context handed to every handler. */
export interface CallContext {
  /** The registry to read and change. */
  readonly registry: Registry;
  /** Epoch ms of the call. */
  readonly now: number;
}

/** A handler: parameters in, extra response fields out. */
export type Handler = (params: Readonly<Record<string, string>>, ctx: CallContext) => Record<string, unknown>;

const opt = (v: string | undefined): string | undefined => (v === undefined || v === "" ? undefined : v);

const identity = (p: Readonly<Record<string, string>>) => ({
  ...(opt(p["IotInstanceId"]) !== undefined ? { iotInstanceId: p["IotInstanceId"] as string } : {}),
  ...(opt(p["IotId"]) !== undefined ? { iotId: p["IotId"] as string } : {}),
  ...(opt(p["ProductKey"]) !== undefined ? { productKey: p["ProductKey"] as string } : {}),
  ...(opt(p["DeviceName"]) !== undefined ? { deviceName: p["DeviceName"] as string } : {}),
});

/** Formats epoch ms as the GMT+8 "yyyy-MM-dd HH:mm:ss" the service uses for Gmt* fields. */
function gmt(ms: number): string {
  return new Date(ms + 8 * 3600_000).toISOString().replace("T", " ").slice(0, 19);
}

/** Formats epoch ms as the UTC ISO-8601 string of Utc* fields. */
function utc(ms: number): string {
  return new Date(ms).toISOString();
}

/** A stable 32-character DeviceSecret, so repeated QueryDeviceDetail calls agree. */
function deviceSecret(iotId: string): string {
  return createHash("sha256").update(`secret:${iotId}`).digest("hex").slice(0, 32);
}

const resetThing: Handler = (params, { registry, now }) => {
  const iotId = registry.resolve(identity(params));
  const { jobId } = registry.reset(iotId, now);
  return jobId !== undefined ? { JobId: jobId } : {};
};

/** The most devices one BatchGetDeviceState call may name (API reference: "up to 50 devices"). */
export const BATCH_GET_DEVICE_STATE_LIMIT = 50;
/** The most DeviceNames one BatchQueryDeviceDetail call may name (API reference: "up to 100 devices"). */
export const BATCH_QUERY_DEVICE_DETAIL_LIMIT = 100;

/** The values of a RepeatList parameter (`Name.1`, `Name.2`, …) in index order, empty ones left out. */
function repeatList(params: Readonly<Record<string, string>>, name: string): string[] {
  const prefix = `${name}.`;
  const entries: Array<[number, string]> = [];
  for (const [key, value] of Object.entries(params)) {
    if (!key.startsWith(prefix) || value === "") continue;
    const n = Number(key.slice(prefix.length));
    if (Number.isInteger(n) && n >= 1) entries.push([n, value]);
  }
  return entries.sort((a, b) => a[0] - b[0]).map((e) => e[1]);
}

/** A stable documentation-range (TEST-NET-2) address per device, for AsAddress / IpAddress. */
function deviceAddress(iotId: string): string {
  const h = createHash("sha256").update(`ip:${iotId}`).digest();
  return `198.51.100.${((h[0] ?? 0) % 254) + 1}`;
}

/** The fields QueryDeviceDetail and BatchQueryDeviceDetail share. */
function detailFields(d: NonNullable<ReturnType<Registry["view"]>>): Record<string, unknown> {
  return {
    IotId: d.iotId,
    ProductKey: d.productKey,
    ProductName: d.productName,
    DeviceName: d.deviceName,
    DeviceSecret: deviceSecret(d.iotId),
    // NodeType 1 is a gateway, 0 a device that is not one.
    NodeType: d.gateway ? 1 : 0,
    Status: d.status,
    GmtCreate: gmt(d.createdAt),
    UtcCreate: utc(d.createdAt),
    // ResetThing leaves activation alone, so the activation time survives a reset.
    ...(d.activated ? { GmtActive: gmt(d.createdAt), UtcActive: utc(d.createdAt) } : {}),
    Region: "cn-shanghai",
  };
}

const queryDeviceDetail: Handler = (params, { registry, now }) => {
  const iotId = registry.resolve(identity(params));
  const d = registry.view(iotId, now);
  if (!d) throw errors.invalidIotId();
  return {
    Data: {
      ...detailFields(d),
      ...(d.lastOnlineAt !== undefined
        ? { GmtOnline: gmt(d.lastOnlineAt), UtcOnline: utc(d.lastOnlineAt), IpAddress: deviceAddress(d.iotId) }
        : {}),
      Owner: true,
    },
  };
};

/**
 * BatchGetDeviceState: up to 50 devices by `IotId.N` (any products; wins over the pair, as for single-device
 * calls) or by `ProductKey` + `DeviceName.N`. The reference documents no error wording for too many devices or an
 * unknown one; the emulator answers iot.common.InvalidFormattedParameter for the first and, like the single-device
 * APIs, iot.device.InvalidIoTId / iot.device.NotExistedDevice for the second (the whole call fails).
 */
const batchGetDeviceState: Handler = (params, { registry, now }) => {
  const iotInstanceId = opt(params["IotInstanceId"]);
  if (!registry.hasInstance(iotInstanceId)) throw errors.instanceNotFound();
  const iotIds = repeatList(params, "IotId");
  const deviceNames = repeatList(params, "DeviceName");
  const productKey = opt(params["ProductKey"]);
  let refs: Array<{ iotId: string } | { productKey: string; deviceName: string }>;
  if (iotIds.length > 0) refs = iotIds.map((iotId) => ({ iotId }));
  else if (productKey !== undefined && deviceNames.length > 0)
    refs = deviceNames.map((deviceName) => ({ productKey, deviceName }));
  else throw errors.invalidFormattedParameter();
  if (refs.length > BATCH_GET_DEVICE_STATE_LIMIT) throw errors.invalidFormattedParameter();
  const ids = registry.resolveAll(iotInstanceId, refs);
  return {
    DeviceStatusList: {
      DeviceStatus: ids.map((id) => {
        const d = registry.view(id, now);
        if (!d) throw errors.invalidIotId();
        return {
          // The legacy DeviceId: the IotId without its 5-character suffix, as in the reference's example.
          DeviceId: d.iotId.slice(0, -5),
          DeviceName: d.deviceName,
          IotId: d.iotId,
          Status: d.status,
          ...(d.lastOnlineAt !== undefined
            ? { LastOnlineTime: gmt(d.lastOnlineAt), AsAddress: deviceAddress(d.iotId) }
            : {}),
          Timestamp: d.statusChangedAt,
        };
      }),
    },
  };
};

/**
 * BatchQueryDeviceDetail: up to 100 DeviceNames of one product. As the reference says, names the product does not
 * have are left out of the answer rather than failing the call.
 */
const batchQueryDeviceDetail: Handler = (params, { registry, now }) => {
  const productKey = opt(params["ProductKey"]);
  const deviceNames = repeatList(params, "DeviceName");
  if (productKey === undefined || deviceNames.length === 0) throw errors.invalidFormattedParameter();
  if (deviceNames.length > BATCH_QUERY_DEVICE_DETAIL_LIMIT) throw errors.invalidFormattedParameter();
  const ids = registry.existingInProduct(opt(params["IotInstanceId"]), productKey, deviceNames);
  return {
    Data: {
      Data: ids.map((id) => {
        const d = registry.view(id, now);
        if (!d) throw errors.invalidIotId();
        return detailFields(d);
      }),
    },
  };
};

const queryJob: Handler = (params, { registry, now }) => {
  const jobId = opt(params["JobId"]);
  if (!jobId) throw errors.invalidFormattedParameter();
  const job = registry.job(jobId, opt(params["IotInstanceId"]), now);
  return {
    Data: {
      JobId: job.jobId,
      JobName: `ResetThing-${job.productKey}-${job.deviceName}`,
      Description: `Delete the topology of gateway ${job.iotId}`,
      Type: "RESET_THING",
      Status: job.status,
      UtcCreate: utc(job.createdAt),
      UtcModified: utc(job.status === "IN_PROGRESS" ? job.createdAt : job.endsAt),
    },
  };
};

const queryJobStatistics: Handler = (params, { registry, now }) => {
  const jobId = opt(params["JobId"]);
  if (!jobId) throw errors.invalidFormattedParameter();
  const job = registry.job(jobId, opt(params["IotInstanceId"]), now);
  const total = job.total;
  let succeeded = 0;
  let failed = 0;
  let timedOut = 0;
  if (job.status === "IN_PROGRESS") {
    // Progress grows linearly over the job's duration, so polls see it move.
    const span = Math.max(1, job.endsAt - job.createdAt);
    succeeded = Math.min(total - 1, Math.floor((total * (now - job.createdAt)) / span));
  } else if (job.status === "COMPLETED") succeeded = total;
  else if (job.status === "FAILED") failed = total;
  else timedOut = total;
  const inProgress = total - succeeded - failed - timedOut;
  return {
    Data: {
      Total: total,
      Queued: 0,
      Sent: total,
      InProgress: inProgress,
      Succeeded: succeeded,
      Failed: failed,
      Rejected: 0,
      TimeOut: timedOut,
      Cancelled: 0,
    },
  };
};

const registerDevice: Handler = (params, { registry }) => {
  const productKey = opt(params["ProductKey"]);
  if (!productKey) throw errors.invalidFormattedParameter();
  const instanceId = opt(params["IotInstanceId"]);
  if (!registry.product(instanceId, productKey)) throw errors.notExistedProduct();
  // Without a DeviceName the service names the device itself.
  const deviceName = opt(params["DeviceName"]) ?? `dev${registry.deviceCount().toString(36)}${Date.now().toString(36)}`;
  if (!/^[A-Za-z0-9_.:@-]{4,32}$/.test(deviceName)) throw errors.invalidFormattedParameter();
  if (registry.find({ productKey, deviceName, ...(instanceId !== undefined ? { iotInstanceId: instanceId } : {}) })) {
    throw errors.alreadyExistedDeviceName();
  }
  // A device just registered has neither completed dynamic registration nor been activated.
  const d = registry.addDevice(instanceId, productKey, { deviceName, registered: false, activated: false });
  return {
    Data: {
      IotId: d.iotId,
      ProductKey: d.productKey,
      DeviceName: d.deviceName,
      DeviceSecret: deviceSecret(d.iotId),
      ...(opt(params["Nickname"]) !== undefined ? { Nickname: params["Nickname"] } : {}),
    },
  };
};

// ---- Listings -----------------------------------------------------------------------------------------

/** The largest PageSize of the listing APIs (QueryDevice reference: "the maximum value is 50"). */
export const LISTING_MAX_PAGE_SIZE = 50;
/** Without NextToken, QueryDevice serves only pages with CurrentPage × PageSize up to this (QueryDevice reference). */
export const QUERY_DEVICE_OFFSET_LIMIT = 10_000;
/** With NextToken, CurrentPage × PageSize must stay under this (QueryDevice reference). */
export const QUERY_DEVICE_TOKEN_LIMIT = 1_000_000;
/** From this CurrentPage × PageSize on, QueryDevice calls count against the deep-page quota. */
export const QUERY_DEVICE_DEEP_PAGE_FROM = 100_000;
/** The name of QueryDevice's deep-page quota (`quotas`, `--qps`, `setQuota`). */
export const QUERY_DEVICE_DEEP_PAGE = "QueryDeviceDeepPage";

/** CurrentPage (default 1) and PageSize (default 10, at most 50); iot.common.InvalidPageParams when out of range. */
function paging(params: Readonly<Record<string, string>>): { page: number; size: number } {
  const page = Number(opt(params["CurrentPage"]) ?? 1);
  const size = Number(opt(params["PageSize"]) ?? 10);
  if (!Number.isInteger(page) || page < 1 || !Number.isInteger(size) || size < 1 || size > LISTING_MAX_PAGE_SIZE)
    throw errors.invalidPageParams();
  return { page, size };
}

/** CurrentPage × PageSize as asked (0 when either is not a number: paging() refuses the call anyway). */
function pageEnd(params: Readonly<Record<string, string>>): number {
  const end = Number(opt(params["CurrentPage"]) ?? 1) * Number(opt(params["PageSize"]) ?? 10);
  return Number.isFinite(end) ? end : 0;
}

/** A NextToken: where the next page starts, bound to the instance and product it lists (opaque to clients). */
function nextToken(iotInstanceId: string | undefined, productKey: string, from: number): string {
  return Buffer.from(JSON.stringify([iotInstanceId ?? "", productKey, from])).toString("base64url");
}

/** The position a NextToken carries; iot.common.InvalidFormattedParameter for a token of another listing. */
function tokenPosition(token: string, iotInstanceId: string | undefined, productKey: string): number {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    throw errors.invalidFormattedParameter();
  }
  if (
    !Array.isArray(parsed) ||
    parsed[0] !== (iotInstanceId ?? "") ||
    parsed[1] !== productKey ||
    !Number.isInteger(parsed[2]) ||
    (parsed[2] as number) < 0
  )
    throw errors.invalidFormattedParameter();
  return parsed[2] as number;
}

/** The page fields every listing answers besides its devices. */
function pageFields(total: number, page: number, size: number): Record<string, number> {
  return { Total: total, PageSize: size, Page: page, PageCount: Math.ceil(total / size) };
}

type DeviceView = NonNullable<ReturnType<Registry["view"]>>;

function viewOf(registry: Registry, iotId: string, now: number): DeviceView {
  const d = registry.view(iotId, now);
  if (!d) throw errors.invalidIotId();
  return d;
}

/** The fields QueryDevice's DeviceInfo and QueryDeviceByStatus's SimpleDeviceInfo share. */
function listedFields(d: DeviceView): Record<string, unknown> {
  return {
    IotId: d.iotId,
    ProductKey: d.productKey,
    DeviceName: d.deviceName,
    DeviceSecret: deviceSecret(d.iotId),
    GmtCreate: gmt(d.createdAt),
    UtcCreate: utc(d.createdAt),
    GmtModified: gmt(d.statusChangedAt),
    UtcModified: utc(d.statusChangedAt),
  };
}

/**
 * QueryDevice: a product's devices, newest first, PageSize up to 50. Pages with CurrentPage × PageSize over 10,000
 * need the NextToken of the page before (the reference says no data is returned otherwise; the emulator answers
 * iot.common.InvalidPageParams, so a client that skips the token fails instead of ending its listing early), and
 * with a NextToken the product must stay under 1,000,000. Every page that has a next one carries its NextToken.
 */
const queryDevice: Handler = (params, { registry, now }) => {
  const productKey = opt(params["ProductKey"]);
  if (productKey === undefined) throw errors.invalidFormattedParameter();
  const iotInstanceId = opt(params["IotInstanceId"]);
  const { page, size } = paging(params);
  const token = opt(params["NextToken"]);
  if (page * size > (token === undefined ? QUERY_DEVICE_OFFSET_LIMIT : QUERY_DEVICE_TOKEN_LIMIT - 1))
    throw errors.invalidPageParams();
  const at =
    token === undefined ? { offset: (page - 1) * size } : { from: tokenPosition(token, iotInstanceId, productKey) };
  const listed = registry.productPage(iotInstanceId, productKey, at, size);
  return {
    Data: {
      DeviceInfo: listed.iotIds.map((id) => {
        const d = viewOf(registry, id, now);
        return {
          ...listedFields(d),
          // DeviceId is the legacy ID (the IotId without its suffix); DeviceType the product's category.
          DeviceId: d.iotId.slice(0, -5),
          DeviceStatus: d.status,
          DeviceType: d.productName,
        };
      }),
    },
    ...pageFields(listed.total, page, size),
    ...(listed.next !== undefined ? { NextToken: nextToken(iotInstanceId, productKey, listed.next) } : {}),
  };
};

/** QueryDeviceByStatus's `Status`: 0 inactive, 1 online, 3 offline, 8 disabled (the reference). */
const STATUS_CODES: Readonly<Record<string, string>> = {
  "0": "UNACTIVE",
  "1": "ONLINE",
  "3": "OFFLINE",
  "8": "DISABLE",
};

/** QueryDeviceByStatus: the devices of an instance (one product, with ProductKey) in one status, newest first. */
const queryDeviceByStatus: Handler = (params, { registry, now }) => {
  const status = STATUS_CODES[params["Status"] ?? ""];
  if (status === undefined) throw errors.invalidFormattedParameter();
  const { page, size } = paging(params);
  const all = registry.devicesOf(opt(params["IotInstanceId"]), opt(params["ProductKey"]));
  const matching: DeviceView[] = [];
  for (let i = all.length - 1; i >= 0; i--) {
    const d = viewOf(registry, (all[i] as { iotId: string }).iotId, now);
    if (d.status === status) matching.push(d);
  }
  return {
    Data: {
      SimpleDeviceInfo: matching
        .slice((page - 1) * size, page * size)
        .map((d) => ({ ...listedFields(d), Status: d.status })),
    },
    ...pageFields(matching.length, page, size),
  };
};

/** QueryDeviceListByDeviceGroup: the members of a device group, in the order they joined. */
const queryDeviceListByDeviceGroup: Handler = (params, { registry, now }) => {
  const groupId = opt(params["GroupId"]);
  if (groupId === undefined) throw errors.invalidFormattedParameter();
  const { page, size } = paging(params);
  const members = registry.groupMembers(opt(params["IotInstanceId"]), groupId);
  return {
    Data: {
      SimpleDeviceInfo: members.slice((page - 1) * size, page * size).map(({ iotId }) => {
        const d = viewOf(registry, iotId, now);
        return { IotId: d.iotId, ProductKey: d.productKey, ProductName: d.productName, DeviceName: d.deviceName };
      }),
    },
    ...pageFields(members.length, page, size),
  };
};

/** An action the emulator serves: what it does, and its documented QPS quota per Alibaba Cloud account. */
interface Operation {
  readonly handle: Handler;
  readonly qps: number;
  /** The quota a call counts against when it is not the action's own (QueryDevice's deep pages have their own). */
  readonly quotaOf?: (params: Readonly<Record<string, string>>) => string;
}

/** The operations by Action name, with the quotas of IoT Platform 2018-01-20 (shared by an account's RAM users). */
export const OPERATIONS: Readonly<Record<string, Operation>> = {
  ResetThing: { handle: resetThing, qps: 500 },
  QueryDeviceDetail: { handle: queryDeviceDetail, qps: 50 },
  BatchGetDeviceState: { handle: batchGetDeviceState, qps: 50 },
  BatchQueryDeviceDetail: { handle: batchQueryDeviceDetail, qps: 5 },
  QueryJob: { handle: queryJob, qps: 5 },
  QueryJobStatistics: { handle: queryJobStatistics, qps: 5 },
  RegisterDevice: { handle: registerDevice, qps: 50 },
  QueryDevice: {
    handle: queryDevice,
    qps: 50,
    quotaOf: (p) => (pageEnd(p) >= QUERY_DEVICE_DEEP_PAGE_FROM ? QUERY_DEVICE_DEEP_PAGE : "QueryDevice"),
  },
  QueryDeviceByStatus: { handle: queryDeviceByStatus, qps: 50 },
  QueryDeviceListByDeviceGroup: { handle: queryDeviceListByDeviceGroup, qps: 5 },
};

/**
 * Quotas that are not an action's own: QueryDevice calls whose CurrentPage × PageSize is at least 100,000 count
 * against 2 QPS instead of 50 (the QueryDevice reference, "QPS limits").
 */
export const EXTRA_QUOTAS: Readonly<Record<string, number>> = { [QUERY_DEVICE_DEEP_PAGE]: 2 };
