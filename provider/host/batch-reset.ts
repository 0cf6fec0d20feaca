/**
 * The lifecycle of one `DeviceBatchReset`: a batch of a cohort, resetting its devices concurrently under the
 * shared budget and recording each device's result, so that the next update resets only what is left.
 */
import type * as dynamic from "@pulumi/pulumi/dynamic";
import { IotApi } from "./iot-api";
import { ProviderContext } from "./provider-context";
import { changed, jobOutcome, partialOutputs, Props, targetChanges } from "./device-reset";
import type { ProviderSettings } from "./settings";
import {
  assertNever,
  describeDevice,
  GuardrailError,
  JournalError,
  PartialResetError,
  SendingStoppedError,
  UnknownOutcomeError,
} from "../shared/errors";
import { windowChecked } from "./update-guard";
import { ROLLOUT_KEYS, RolloutControls, rolloutControlsOf } from "../shared/rollout-controls";
import { CheckFailure, containsUnknown, escapeText, isUnknown } from "../shared/inputs";
import { checkBatchArgs } from "../shared/batch-args";
import type { Journal } from "./journal";
import * as log from "./log";
import {
  batchScope,
  decideUnknown,
  describeUnknown,
  journaledReset,
  journalUnknown,
  unknownFromJournal,
  unknownOutcomeAdvice,
} from "./exactly-once";
import { DeviceRecord, pendingDevices, resendMarks, resendsOf, UnknownOutcomeRecord } from "../shared/records";
import { deviceKey, FleetDevice, FleetEntry, fleetDevice, identityForm } from "../shared/device-key";

/** Arguments whose change replaces the batch, resetting every device in it again. */
export const BATCH_REPLACE_KEYS = ["campaign", "iotInstanceId", "region", "endpoint"] as const;
const BATCH_UPDATE_KEYS = ["devices", "waitForJob", ...ROLLOUT_KEYS] as const;
/**
 * Arguments echoed into the outputs. Not `devices`: the list is in the resource's inputs already and every reset
 * device is a key of `results`, while a copy in the outputs would add ~50 B per device to every checkpoint the
 * engine writes and to every Diff it sends. Outputs recorded by earlier versions still hold it; `diff` reads both.
 */
const ECHOED = [...BATCH_REPLACE_KEYS, ...BATCH_UPDATE_KEYS.filter((k) => k !== "devices")];

/**
 * How long a call may take before one batch alone can no longer keep the quota busy: a batch keeps up to this many
 * seconds of the ResetThing quota in flight (245 calls at 490 a second), so 500 ms of latency still leaves the quota
 * the limit, not the batch (150 to 250 ms across borders). The shared pacer sets the rate; below that latency the
 * calls in flight are the rate times the latency, whatever this bound.
 */
const IN_FLIGHT_SECONDS = 0.5;

/** How many resets of one batch are in flight at most, at a ResetThing quota of `quota` calls a second. */
export function inFlightPerBatch(quota: number): number {
  return Math.max(16, Math.ceil(quota * 0.98 * IN_FLIGHT_SECONDS));
}

/** How many failed devices one batch's error names before it counts the rest. */
const FAILURES_NAMED = 100;

/** The listed devices as objects (a cohort lists their keys; check has refused anything else). */
function devicesOf(props: Props): FleetDevice[] {
  return Array.isArray(props.devices) ? (props.devices as FleetEntry[]).map(fleetDevice) : [];
}

function recordsOf(props: Props): Record<string, DeviceRecord> {
  const r = props.results;
  return r !== null && typeof r === "object" && !Array.isArray(r) ? (r as Record<string, DeviceRecord>) : {};
}

/** The batch's devices whose reset has an unknown outcome, by device key (the `unknownOutcomes` output). */
export function unknownOutcomesOf(props: Props): Record<string, UnknownOutcomeRecord> {
  const u = props.unknownOutcomes;
  return u !== null && typeof u === "object" && !Array.isArray(u) ? (u as Record<string, UnknownOutcomeRecord>) : {};
}

/** check: every device valid and named one way, no device twice, the guardrails in range; with the context, a region and credentials. */
export function check(_olds: Props, news: Props, ctx?: ProviderContext): dynamic.CheckResult {
  const failures: CheckFailure[] = [];
  checkBatchArgs(news, failures, true);
  if (ctx) failures.push(...ctx.preflight(news));
  return { inputs: news, failures };
}

/**
 * diff: a new campaign or target replaces (all devices reset again); other changes update in place. Listed devices
 * without a record (a failed or stopped reset) or with an unknown outcome make an update, so the update resets the
 * former and fails again naming the latter until the operator decides.
 */
export function diff(_id: string, olds: Props, news: Props, settings?: ProviderSettings): dynamic.DiffResult {
  const moved = targetChanges(olds, news, settings);
  const rewritten = (["region", "endpoint"] as const).filter((k) => changed(olds, news, k) && !moved.includes(k));
  const replaces: string[] = BATCH_REPLACE_KEYS.filter(
    (k) => changed(olds, news, k) && !(rewritten as string[]).includes(k),
  );
  if (replaces.length === 0 && namingChanged(olds, news)) replaces.push("devices");
  const updates = [...BATCH_UPDATE_KEYS.filter((k) => updated(olds, news, k)), ...rewritten];
  // Devices with an unknown outcome have no record, so they count here too.
  const open = !isUnknown(news.devices) && pendingDevices(devicesOf(news), recordsOf(olds)).length > 0;
  // A new campaign starts a new journal scope and keeps nothing of the old records, so the old batch leaves state
  // first: the checkpoint, which the engine writes whole after every step, never holds both campaigns' records
  // (twice the bytes for every write of a campaign change). The delete sends nothing and the journal keeps the old
  // campaign's entries (a revert finds them), so the new batch's resets are journaled and sent exactly as before.
  // Other replaces keep the default order.
  const deleteBeforeReplace = replaces.includes("campaign");
  return { changes: replaces.length > 0 || updates.length > 0 || open, replaces, deleteBeforeReplace };
}

/**
 * Whether an update argument changed. Outputs without the device list (this version's) show a change of the list
 * only through devices without a record (`open` in `diff`): a removed device sends nothing and keeps its record.
 */
function updated(olds: Props, news: Props, key: (typeof BATCH_UPDATE_KEYS)[number]): boolean {
  if (key !== "devices") return changed(olds, news, key);
  if (containsUnknown(news.devices) || !Array.isArray(news.devices)) return true;
  if (olds.devices === undefined) return false;
  // Compared by key: earlier versions listed objects where a cohort now lists keys; the same devices are no change.
  const before = devicesOf(olds).map(deviceKey);
  const after = (news.devices as FleetEntry[]).map(deviceKey);
  return before.length !== after.length || before.some((k, i) => k !== after[i]);
}

/**
 * How the recorded devices were named: from the device list of outputs recorded by earlier versions, else from the
 * keys of the records and of the unknown outcomes (`iotId:<IotId>` or `productKey/deviceName`).
 */
function recordedForms(olds: Props): Set<"iotId" | "pair"> {
  if (olds.devices !== undefined) return new Set(devicesOf(olds).map((d) => identityForm(d)));
  const keys = [...Object.keys(recordsOf(olds)), ...Object.keys(unknownOutcomesOf(olds))];
  return new Set(keys.map((k) => identityForm(k)));
}

/**
 * Whether the devices are now named the other way (IotIds where the records have pairs, or the reverse) within
 * the same campaign. The records cannot be matched to the new names without asking IoT Platform, so every device
 * is reset again: shown as the replace it is, with a warning that says why.
 */
function namingChanged(olds: Props, news: Props): boolean {
  if (isUnknown(news.devices)) return false;
  const before = recordedForms(olds);
  const after = new Set(devicesOf(news).map((d) => identityForm(d)));
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

/** create: reset every device of the batch (those the journal shows sent in this campaign are not sent again). */
export async function create(ctx: ProviderContext, inputs: Props): Promise<dynamic.CreateResult> {
  const id = `${inputs.campaign}:${Date.now().toString(36)}`;
  const outs = await resetPending(ctx, id, inputs, {}, {});
  return { id, outs };
}

/**
 * update: reset only the devices that have no record yet; removed devices send nothing. Devices with an unknown
 * outcome are accepted, sent once more, or left unknown (failing the update) as the operator's settings say.
 */
export async function update(
  ctx: ProviderContext,
  id: string,
  olds: Props,
  news: Props,
): Promise<dynamic.UpdateResult> {
  return { outs: await resetPending(ctx, id, news, recordsOf(olds), unknownOutcomesOf(olds)) };
}

/**
 * delete: records leave state; a reset cannot be undone, so nothing is sent. The journal keeps them, so that going back
 * to the campaign (a revert, or a new cohort after a destroy) records its resets from there instead of sending again.
 */
export function remove(_ctx: ProviderContext | undefined, _id: string, props: Props): Promise<void> {
  const n = Object.keys(recordsOf(props)).length;
  // A cohort's destroy deletes every batch, most of them empty in an early stage: only records are worth a line.
  if (n > 0) {
    log.info(
      `batch of campaign "${props.campaign}": the records of ${n === 1 ? "1 device reset" : `${n} device resets`} leave state; a reset cannot be undone, so nothing is sent to IoT Platform.`,
    );
  }
  return Promise.resolve();
}

/** One device this update must settle, and how. */
type Task =
  | { readonly kind: "send"; readonly device: FleetDevice; readonly resend: number }
  | { readonly kind: "journal"; readonly device: FleetDevice; readonly record: DeviceRecord };

/** What every reset of a batch shares in one update: where it goes, how it is journaled, what limits it. */
interface BatchSend {
  readonly ctx: ProviderContext;
  /** The client; absent when nothing is sent and no job is followed. */
  readonly api: IotApi | undefined;
  readonly journal: Journal | undefined;
  /** The batch's scope in the journal (`batchScope`). */
  readonly scope: string;
  readonly iotInstanceId: string | undefined;
  readonly waitForJob: boolean;
  readonly limits: RolloutControls;
  /** The batch's rank at the shared pacers (see `ProviderContext.nextBatchOrder`). */
  readonly order: number;
}

/** What an update has settled of a batch's devices: the records and unknown outcomes, and what went wrong. */
class Settled {
  readonly records: Record<string, DeviceRecord>;
  readonly unknown: Record<string, UnknownOutcomeRecord>;
  readonly failures: string[] = [];
  /** Devices whose outcome is unknown after this update, in the order met. */
  readonly held: string[] = [];
  /** Devices a guardrail (or the stop switch, or the journal) kept from being sent share one reason, reported once. */
  stopped = 0;
  stopReason: string | undefined;
  /** Devices recorded from the journal: reset by an update that did not finish, or in another batch of the campaign. */
  fromJournal = 0;

  /** Earlier records are kept, so a device removed and added back is not reset twice in one campaign. */
  constructor(previous: Record<string, DeviceRecord>, previousUnknown: Record<string, UnknownOutcomeRecord>) {
    this.records = { ...previous };
    this.unknown = { ...previousUnknown };
  }

  /** The device is reset (or accepted as reset): recorded, and its unknown outcome, if any, is settled. */
  record(key: string, record: DeviceRecord): void {
    this.records[key] = record;
    delete this.unknown[key];
  }

  /** The device's outcome is unknown after this update; it is not sent again until the operator decides. */
  hold(key: string, record: UnknownOutcomeRecord): void {
    this.unknown[key] = record;
    this.held.push(key);
  }

  get failed(): boolean {
    return this.failures.length + this.stopped + this.held.length > 0;
  }
}

/**
 * Settles the listed devices that have no record: a reset the journal shows in this campaign is recorded without
 * sending; a send the journal shows without an answer, or an unknown outcome in state, is decided by the operator's
 * settings; every other device is reset. Earlier records are kept (so a device removed and added back is not reset
 * twice in one campaign). Fails as "created but not initialized" when any device failed or has an unknown outcome,
 * carrying the records of those that were reset.
 */
async function resetPending(
  ctx: ProviderContext,
  id: string,
  inputs: Props,
  previous: Record<string, DeviceRecord>,
  previousUnknown: Record<string, UnknownOutcomeRecord>,
): Promise<Props> {
  const settled = new Settled(previous, previousUnknown);
  const pending = pendingDevices(devicesOf(inputs), settled.records);
  if (pending.length > 0) {
    const journal = await ctx.journal();
    const scope = batchScope(ctx, inputs);
    const tasks = planTasks(ctx, journal, scope, pending, settled);
    const api = tasks.some((t) => t.kind === "send" || inputs.waitForJob === true)
      ? ctx.api(inputs as { region?: string; endpoint?: string })
      : undefined;
    const send: BatchSend = {
      ctx,
      api,
      journal,
      scope,
      iotInstanceId: typeof inputs.iotInstanceId === "string" ? inputs.iotInstanceId : undefined,
      waitForJob: inputs.waitForJob === true,
      limits: rolloutControlsOf(inputs) ?? {},
      order: ctx.nextBatchOrder(),
    };
    await runTasks(send, tasks, settled);
  }
  if (settled.fromJournal > 0) {
    log.info(
      `batch of campaign "${inputs.campaign}": ${settled.fromJournal} device(s) were already reset in this campaign (by an ` +
        `update that did not finish, in a batch they moved from, or before a revert or destroy); recorded from the ` +
        `reset journal, not sent again. ` +
        `To reset them again, name a new campaign.`,
    );
  }
  const outs: Props = {};
  for (const key of ECHOED) if (inputs[key] !== undefined) outs[key] = inputs[key];
  outs.results = settled.records;
  outs.resetCount = Object.keys(settled.records).length;
  if (Object.keys(settled.unknown).length > 0) outs.unknownOutcomes = settled.unknown;
  if (settled.failed) throw partialReset(id, inputs, outs, pending, settled);
  return outs;
}

/**
 * How each pending device is settled: recorded from the journal (reset or accepted in this campaign), sent, or,
 * with an unknown outcome, as the operator decided (accepted at once, sent once more, or held).
 */
function planTasks(
  ctx: ProviderContext,
  journal: Journal | undefined,
  scope: string,
  pending: readonly FleetDevice[],
  settled: Settled,
): Task[] {
  const tasks: Task[] = [];
  const at = new Date().toISOString();
  for (const device of pending) {
    const key = deviceKey(device);
    const state = journal?.lookup(scope, key);
    if (state?.status === "reset" || state?.status === "accepted") {
      const record: DeviceRecord = {
        ...(state.requestId !== undefined ? { requestId: state.requestId } : {}),
        resetAt: state.sentAt ?? at,
        ...(state.jobId !== undefined ? { jobId: state.jobId } : {}),
        ...(state.hadUnknown || settled.unknown[key] ? { mayBeResetTwice: true } : {}),
        ...(state.status === "accepted" ? { acceptedUnknown: true } : {}),
      };
      tasks.push({ kind: "journal", device, record });
      continue;
    }
    // The journal is written before state, so it may know of a later attempt than state's record: a resend sent by
    // an update that was killed before it could record it. Its record wins, and a resend either shows is final.
    const recorded = settled.unknown[key];
    const journaled = journalUnknown(state) && state ? unknownFromJournal(state) : undefined;
    const known = journaled
      ? { ...recorded, ...journaled, ...resendMarks(Math.max(resendsOf(recorded ?? {}), resendsOf(journaled))) }
      : recorded;
    if (!known) {
      tasks.push({ kind: "send", device, resend: 0 });
      continue;
    }
    const decision = decideUnknown(ctx.settings, key, known);
    switch (decision) {
      case "accept":
        settled.record(key, { resetAt: known.sentAt, acceptedUnknown: true });
        if (journal) journal.append({ ev: "accepted", at, scope, device: key }).catch(() => undefined);
        log.info(`${key}: its unknown outcome is accepted as a reset (iotReset:acceptUnknown); nothing is sent.`);
        break;
      case "resend":
        tasks.push({ kind: "send", device, resend: resendsOf(known) + 1 });
        break;
      case "hold":
        settled.hold(key, known);
        break;
      default:
        assertNever(decision, "unknown-outcome decision");
    }
  }
  return tasks;
}

/** Runs the tasks, up to `inFlightPerBatch` at a time; the journal is on disk before this returns. */
async function runTasks(send: BatchSend, tasks: readonly Task[], settled: Settled): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) await runTask(send, tasks[next++] as Task, settled);
  };
  const workers = Math.min(inFlightPerBatch(send.ctx.settings.quotas.ResetThing), tasks.length);
  try {
    await Promise.all(Array.from({ length: workers }, worker));
  } finally {
    await send.journal?.flush().catch((err: Error) => {
      settled.failures.push(err.message);
    });
  }
}

/** One task: its record, its unknown outcome, or why it failed or was not sent, into `settled`. */
async function runTask(send: BatchSend, task: Task, settled: Settled): Promise<void> {
  const device = { ...task.device, iotInstanceId: send.iotInstanceId };
  const key = deviceKey(task.device);
  try {
    let record: DeviceRecord;
    if (task.kind === "journal") {
      record = await followJob(send.ctx, send.api, device, task.record, send.waitForJob);
      settled.fromJournal++;
    } else {
      record = await resetOne(send, device, task.resend);
    }
    settled.record(key, record);
    // The reset happened and stays recorded (it is not sent again); its job's failure fails the batch.
    if (record.jobStatus !== undefined && record.jobStatus !== "COMPLETED") {
      settled.failures.push(
        `the reset of ${describeDevice(device)} was sent (RequestId: ${record.requestId}), but its device job ` +
          `${record.jobId} ${jobOutcome(record.jobStatus, send.ctx.settings.jobTimeoutMs)}; inspect the job in the IoT console`,
      );
    }
  } catch (err) {
    if (err instanceof UnknownOutcomeError) {
      settled.hold(key, {
        sentAt: err.sentAt,
        attempt: err.attempt,
        error: err.failure,
        ...resendMarks(task.kind === "send" ? task.resend : 0),
      });
    } else if (err instanceof GuardrailError || err instanceof SendingStoppedError || err instanceof JournalError) {
      settled.stopped++;
      settled.stopReason ??= err.message;
    } else {
      settled.failures.push((err as Error).message);
    }
  }
}

/** The batch's failure: how many devices were reset, left and held, and why, carrying the outputs so far. */
function partialReset(
  id: string,
  inputs: Props,
  outs: Props,
  pending: readonly FleetDevice[],
  settled: Settled,
): PartialResetError {
  const { records, unknown, failures, held, stopped, stopReason } = settled;
  const heldSet = new Set(held);
  const left = pending.filter((d) => {
    const key = deviceKey(d);
    return !Object.prototype.hasOwnProperty.call(records, key) && !heldSet.has(key);
  }).length;
  // Every failed device is named up to this many per batch: the default batches hold thousands of devices, and an
  // operator fixes each one (a wrong name, a missing device) before the next update.
  const shown = failures.slice(0, FAILURES_NAMED);
  if (failures.length > shown.length)
    shown.push(
      `… and ${failures.length - shown.length} more failed; the next update sends every device left, and ` +
        "`iot-reset-plan` lists them all from `pulumi preview --json`",
    );
  if (stopReason) shown.push(`${stopped} device(s) not sent: ${stopReason}`);
  for (const key of held) shown.push(`unknown outcome: ${describeUnknown(key, unknown[key] as UnknownOutcomeRecord)}`);
  if (held.length > 0) shown.push(unknownOutcomeAdvice(held, unknown));
  const done = pending.length - left - held.length;
  return new PartialResetError(
    `${done} of ${pending.length} devices of this batch reset and recorded; ${left} left for the next update` +
      (held.length > 0 ? `; ${held.length} with an unknown outcome, not sent again until you decide` : "") +
      `:\n  ${shown.join("\n  ")}`,
    id,
    partialOutputs(outs, inputs),
    shown,
  );
}

/** A reset recorded from the journal: with `waitForJob`, its device job is followed (QueryJob only reads). */
async function followJob(
  ctx: ProviderContext,
  api: IotApi | undefined,
  device: FleetDevice & { iotInstanceId?: string },
  record: DeviceRecord,
  waitForJob: boolean,
): Promise<DeviceRecord> {
  if (!waitForJob || !record.jobId || !api) return record;
  return { ...record, jobStatus: await jobStatusOf(ctx, api, record.jobId, device) };
}

/** How a reset's device job ended; `UNKNOWN`, with a warning, when it could not be followed. */
function jobStatusOf(
  ctx: ProviderContext,
  api: IotApi,
  jobId: string,
  device: FleetDevice & { iotInstanceId?: string },
): Promise<string> {
  return api.waitForJob(jobId, device, ctx.settings.jobTimeoutMs).catch((err: Error) => {
    log.warn(`${describeDevice(device)}: could not follow device job ${jobId}: ${err.message}`);
    return "UNKNOWN";
  });
}

/** One device: the guardrails admit it, then one journaled ResetThing (and its job, with `waitForJob`). */
async function resetOne(
  send: BatchSend,
  device: FleetDevice & { iotInstanceId?: string },
  resend: number,
): Promise<DeviceRecord> {
  const { ctx, journal, scope, limits, waitForJob } = send;
  const api = send.api as IotApi;
  const guard = ctx.guard;
  await guard.admit(limits, (wait) => ctx.gate.unlessStopped(wait));
  const resetAt = new Date().toISOString();
  let result;
  try {
    // With rollout windows, the window is checked again after the pacer's wait, right before the request leaves.
    const sender = limits.notAfter !== undefined || limits.maintenanceWindows ? windowChecked(api, guard, limits) : api;
    result = await journaledReset(sender, journal, scope, deviceKey(device), device, resend, send.order);
  } catch (err) {
    // A reset a window or a stop kept from the wire was not executed; one with a lost answer counts as unknown.
    const unsent = err instanceof GuardrailError || err instanceof SendingStoppedError;
    guard.settle(unsent ? "unsent" : err instanceof UnknownOutcomeError ? "unknownOutcome" : false);
    throw err;
  }
  const twice = resend > 0 ? { mayBeResetTwice: true } : {};
  if (!result.jobId || !waitForJob) {
    guard.settle(true);
    return { requestId: result.requestId, resetAt, ...(result.jobId ? { jobId: result.jobId } : {}), ...twice };
  }
  // The reset itself succeeded: a job that fails is recorded with its status, not retried. It stays in flight for
  // the guardrails until the job ends, since a failed job counts for `jobFailed` abort criteria.
  const jobStatus = await jobStatusOf(ctx, api, result.jobId, device);
  guard.settle(jobStatus === "COMPLETED" ? true : "jobFailed");
  return { requestId: result.requestId, resetAt, jobId: result.jobId, jobStatus, ...twice };
}
