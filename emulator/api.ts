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

const queryDeviceDetail: Handler = (params, { registry }) => {
  const iotId = registry.resolve(identity(params));
  const d = registry.view(iotId);
  if (!d) throw errors.invalidIotId();
  return {
    Data: {
      IotId: d.iotId,
      ProductKey: d.productKey,
      ProductName: d.productName,
      DeviceName: d.deviceName,
      DeviceSecret: deviceSecret(d.iotId),
      // NodeType 1 is a gateway, 0 a device that is not one.
      NodeType: d.gateway ? 1 : 0,
      // Activation is what the console shows; ResetThing leaves it alone.
      Status: d.activated ? "OFFLINE" : "UNACTIVE",
      GmtCreate: gmt(d.createdAt),
      UtcCreate: utc(d.createdAt),
      ...(d.activated ? { GmtActive: gmt(d.createdAt), UtcActive: utc(d.createdAt) } : {}),
      Region: "cn-shanghai",
      Owner: true,
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

/** The operations by Action name. */
export const HANDLERS: Readonly<Record<string, Handler>> = {
  ResetThing: resetThing,
  QueryDeviceDetail: queryDeviceDetail,
  QueryJob: queryJob,
  QueryJobStatistics: queryJobStatistics,
  RegisterDevice: registerDevice,
};
