/**
 * The lifecycle of one `DeviceBatchReset`: a batch of a cohort, resetting its devices concurrently under the
 * shared budget and recording each device's result, so that the next update resets only what is left.
 */
import type * as dynamic from "@pulumi/pulumi/dynamic";
import { IotApi } from "./api";
import { ProviderContext } from "./context";
import { changed, jobOutcome, partialOutputs, Props, targetChanges } from "./device";
import type { ProviderSettings } from "./settings";
import { describeDevice, GuardrailError, PartialResetError } from "./errors";
import { Limits, UpdateGuard } from "./guardrails";
import { CheckFailure, checkBatchArgs, escapeText, identityForm, isUnknown } from "./inputs";
import * as log from "./log";
import { deviceKey, FleetDevice } from "./selection";

/** The record of one device's reset, kept in the batch's outputs under the device key. */
export interface DeviceRecord {
  /** RequestId of the ResetThing call. */
  readonly requestId: string;
  /** ISO-8601 time the reset was sent. */
  readonly resetAt: string;
  /** The device job, when the API returned one. */
  readonly jobId?: string;
  /** The job's final status, when `waitForJob` followed it. */
  readonly jobStatus?: string;
}

/** Arguments whose change replaces the batch, resetting every device in it again. */
export const BATCH_REPLACE_KEYS = ["campaign", "iotInstanceId", "region", "endpoint"] as const;
const BATCH_UPDATE_KEYS = ["devices", "waitForJob", "maxFailureRatio", "maxResetsPerUpdate"] as const;
const ECHOED = [...BATCH_REPLACE_KEYS, ...BATCH_UPDATE_KEYS];

/** How many resets of one batch are in flight at once; the shared pacer sets the actual rate. */
const CONCURRENCY_PER_BATCH = 64;

/** The guard of this provider process, that is, of this update. */
export const updateGuard = new UpdateGuard();

function devicesOf(props: Props): FleetDevice[] {
  return Array.isArray(props.devices) ? (props.devices as FleetDevice[]) : [];
}

function recordsOf(props: Props): Record<string, DeviceRecord> {
  const r = props.results;
  return r !== null && typeof r === "object" && !Array.isArray(r) ? (r as Record<string, DeviceRecord>) : {};
}

/** check: every device valid and named one way, no device twice, the guardrails in range; with the context, a region and credentials. */
export function check(_olds: Props, news: Props, ctx?: ProviderContext): dynamic.CheckResult {
  const failures: CheckFailure[] = [];
  checkBatchArgs(news, failures);
  if (ctx) failures.push(...ctx.preflight(news));
  return { inputs: news, failures };
}

/** diff: a new campaign or target replaces (all devices reset again); other changes update in place. */
export function diff(_id: string, olds: Props, news: Props, settings?: ProviderSettings): dynamic.DiffResult {
  const moved = targetChanges(olds, news, settings);
  const rewritten = (["region", "endpoint"] as const).filter((k) => changed(olds, news, k) && !moved.includes(k));
  const replaces: string[] = BATCH_REPLACE_KEYS.filter(
    (k) => changed(olds, news, k) && !(rewritten as string[]).includes(k),
  );
  if (replaces.length === 0 && namingChanged(olds, news)) replaces.push("devices");
  const updates = [...BATCH_UPDATE_KEYS.filter((k) => changed(olds, news, k)), ...rewritten];
  // Devices listed but without a record (a failed or stopped reset) are still to do: an update resets them.
  const records = recordsOf(olds);
  const pending = !isUnknown(news.devices) && pendingDevices(devicesOf(news), records).length > 0;
  return { changes: replaces.length > 0 || updates.length > 0 || pending, replaces, deleteBeforeReplace: false };
}

/**
 * Whether the devices are now named the other way (IotIds where the records have pairs, or the reverse) within
 * the same campaign. The records cannot be matched to the new names without asking IoT Platform, so every device
 * is reset again: shown as the replace it is, with a warning that says why.
 */
function namingChanged(olds: Props, news: Props): boolean {
  if (isUnknown(news.devices)) return false;
  const forms = (list: FleetDevice[]) => new Set(list.map((d) => identityForm(d)));
  const before = forms(devicesOf(olds));
  const after = forms(devicesOf(news));
  const form = [...after][0];
  if (before.size !== 1 || after.size !== 1 || before.has(form as "iotId" | "pair")) return false;
  const name = (f: string | undefined) => (f === "iotId" ? "iotId" : "productKey/deviceName");
  log.warn(
    `batch of campaign "${escapeText(String(news.campaign))}": its devices are now named by ${name(form)} and were ` +
      `reset when named by ${name([...before][0])}; the records cannot be matched to the new names without asking ` +
      `IoT Platform, so the batch is replaced and its ${devicesOf(news).length} device(s) are reset again. To avoid ` +
      `it, keep naming the devices as before until the next campaign.`,
  );
  return true;
}

/** create: reset every device of the batch. */
export async function create(ctx: ProviderContext, inputs: Props): Promise<dynamic.CreateResult> {
  const id = `${inputs.campaign}:${Date.now().toString(36)}`;
  const outs = await resetPending(ctx, id, inputs, {});
  return { id, outs };
}

/** update: reset only the devices that have no record yet; removed devices send nothing. */
export async function update(
  ctx: ProviderContext,
  id: string,
  olds: Props,
  news: Props,
): Promise<dynamic.UpdateResult> {
  return { outs: await resetPending(ctx, id, news, recordsOf(olds)) };
}

/** delete: records leave state; a reset cannot be undone, so nothing is sent. */
export function remove(_id: string, props: Props): void {
  const n = Object.keys(recordsOf(props)).length;
  log.info(
    `batch of campaign "${props.campaign}": the records of ${n} device resets leave state; a reset cannot be undone, so nothing is sent to IoT Platform.`,
  );
}

/**
 * Resets the listed devices that have no record, keeps every earlier record (so a device removed and added
 * back is not reset twice in one campaign), and fails as "created but not initialized" when any device
 * failed, carrying the records of those that were reset.
 */
async function resetPending(
  ctx: ProviderContext,
  id: string,
  inputs: Props,
  previous: Record<string, DeviceRecord>,
): Promise<Props> {
  const records: Record<string, DeviceRecord> = { ...previous };
  const pending = pendingDevices(devicesOf(inputs), records);
  const failures: string[] = [];
  // Devices a guardrail kept from being sent share one reason; it is reported once, with their count.
  let stopped = 0;
  let stopReason: string | undefined;
  if (pending.length > 0) {
    const api = ctx.api(inputs as { region?: string; endpoint?: string });
    const limits = {
      maxFailureRatio: typeof inputs.maxFailureRatio === "number" ? inputs.maxFailureRatio : undefined,
      maxResetsPerUpdate: typeof inputs.maxResetsPerUpdate === "number" ? inputs.maxResetsPerUpdate : undefined,
    };
    const iotInstanceId = typeof inputs.iotInstanceId === "string" ? inputs.iotInstanceId : undefined;
    let next = 0;
    const worker = async () => {
      while (next < pending.length) {
        const device = pending[next++] as FleetDevice;
        const key = deviceKey(device);
        try {
          const record = await resetOne(ctx, api, { ...device, iotInstanceId }, inputs.waitForJob === true, limits);
          records[key] = record;
          // The reset happened and stays recorded (it is not sent again); its job's failure fails the batch.
          if (record.jobStatus !== undefined && record.jobStatus !== "COMPLETED") {
            failures.push(
              `the reset of ${describeDevice(device)} was sent (RequestId: ${record.requestId}), but its device job ` +
                `${record.jobId} ${jobOutcome(record.jobStatus, ctx.settings.jobTimeoutMs)}; inspect the job in the IoT console`,
            );
          }
        } catch (err) {
          if (err instanceof GuardrailError) {
            stopped++;
            stopReason ??= err.message;
          } else {
            failures.push((err as Error).message);
          }
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY_PER_BATCH, pending.length) }, worker));
  }
  const outs: Props = {};
  for (const key of ECHOED) if (inputs[key] !== undefined) outs[key] = inputs[key];
  outs.results = records;
  outs.resetCount = Object.keys(records).length;
  if (failures.length + stopped > 0) {
    const left = pendingDevices(pending, records).length;
    const shown = failures.slice(0, 10);
    if (failures.length > shown.length) shown.push(`… and ${failures.length - shown.length} more failed`);
    if (stopReason) shown.push(`${stopped} device(s) not sent: ${stopReason}`);
    throw new PartialResetError(
      `${pending.length - left} of ${pending.length} devices of this batch reset and recorded; ${left} left for the next ` +
        `update:\n  ${shown.join("\n  ")}`,
      id,
      partialOutputs(outs, inputs),
      shown,
    );
  }
  return outs;
}

/** One device: the guardrails admit it, then one ResetThing (and its job, with `waitForJob`). */
async function resetOne(
  ctx: ProviderContext,
  api: IotApi,
  device: FleetDevice & { iotInstanceId?: string },
  waitForJob: boolean,
  limits: Limits,
): Promise<DeviceRecord> {
  await updateGuard.admit(limits);
  const resetAt = new Date().toISOString();
  let result;
  try {
    result = await api.resetThing(device);
  } catch (err) {
    updateGuard.settle(false);
    throw err;
  }
  updateGuard.settle(true);
  if (!result.jobId) return { requestId: result.requestId, resetAt };
  if (!waitForJob) return { requestId: result.requestId, resetAt, jobId: result.jobId };
  // The reset itself succeeded: a job that fails is recorded with its status, not retried.
  const jobStatus = await api.waitForJob(result.jobId, device, ctx.settings.jobTimeoutMs).catch((err: Error) => {
    log.warn(`${describeDevice(device)}: could not follow device job ${result.jobId}: ${err.message}`);
    return "UNKNOWN";
  });
  return { requestId: result.requestId, resetAt, jobId: result.jobId, jobStatus };
}

/** The devices of a batch without a recorded reset: what an update resets (also what `iot-reset-plan` lists). */
export function pendingDevices(newDevices: readonly FleetDevice[], oldResults: Record<string, unknown>): FleetDevice[] {
  return newDevices.filter((d) => !Object.prototype.hasOwnProperty.call(oldResults, deviceKey(d)));
}
