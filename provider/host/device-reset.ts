/**
 * The lifecycle of one `DeviceRegistrationReset`, run inside the dynamic-provider host. A reset is an
 * action, not an object: create sends it, update and delete only change the record, and nothing here ever
 * calls the API twice for one create.
 */
import type * as dynamic from "@pulumi/pulumi/dynamic";
import { IotApi, isJobDone } from "./iot-api";
import { ProviderContext } from "./provider-context";
import { ProviderSettings, readSettings, resolvedTargetKey } from "./settings";
import { assertNever, describeDevice, PartialResetError, UnknownOutcomeError } from "../shared/errors";
import {
  CheckFailure,
  canonicalJson,
  checkCommonSettings,
  checkIdentity,
  checkJson,
  containsUnknown,
  DEVICE_ARGUMENTS,
  isUnknown,
} from "../shared/inputs";
import { formatDeviceKey } from "../shared/device-key";
import type { DeviceJournalState, Journal } from "./journal";
import type { Lifecycle, Props } from "./lifecycle";
import * as log from "./log";
import * as outcomes from "./exactly-once";
import { resendMarks, resendsOf, type UnknownOutcomeRecord } from "../shared/records";

export type { Props } from "./lifecycle";

/** Arguments whose change means a different reset (a replace), and those that only change how it is followed. */
const { replace: REPLACE_KEYS, update: UPDATE_KEYS } = DEVICE_ARGUMENTS;

const ECHOED_KEYS = [...REPLACE_KEYS, ...UPDATE_KEYS];
const RECORD_KEYS = [
  "success",
  "requestId",
  "jobId",
  "resetAt",
  "jobStatus",
  "mayBeResetTwice",
  "acceptedUnknown",
] as const;

/**
 * Of the changed `region`/`endpoint` arguments, those that move the calls elsewhere. Only a record whose own
 * arguments fix where its reset went (an explicit region) can be compared: then a rewrite that resolves to the
 * same target under the provider's settings (the default endpoint written out, `:443`, the region moved to
 * stack config) is not a new reset. A record that took its region from config or the environment does not say
 * where it went, so every change counts, as do unknowns and a missing provider context.
 */
export function targetChanges(olds: Props, news: Props, settings?: ProviderSettings): Array<"region" | "endpoint"> {
  const raw = (["region", "endpoint"] as const).filter((k) => changed(olds, news, k));
  if (raw.length === 0 || !settings || typeof olds.region !== "string") return raw;
  if (raw.some((k) => containsUnknown(news[k]))) return raw;
  const args = (p: Props) => ({
    region: typeof p.region === "string" ? p.region : undefined,
    endpoint: typeof p.endpoint === "string" ? p.endpoint : undefined,
  });
  const recorded = resolvedTargetKey(
    args(olds),
    readSettings(() => undefined),
    {},
  );
  const next = resolvedTargetKey(args(news), settings, process.env);
  return recorded !== undefined && recorded === next ? [] : raw;
}

/** How a followed job that did not complete is described: it ended FAILED, or was still running at the limit. */
export function jobOutcome(status: string, timeoutMs: number): string {
  return isJobDone(status)
    ? `ended ${status}`
    : `was still ${status} after ${timeoutMs / 1000} s (iotReset:jobTimeoutSeconds)`;
}

/** Whether an input differs between the recorded outputs and the new inputs; unknown counts as changed. */
export function changed(olds: Props, news: Props, key: string): boolean {
  if (containsUnknown(news[key])) return true;
  return canonicalJson(olds[key]) !== canonicalJson(news[key]);
}

/** The declared arguments of a reset, copied as given (absent stays absent: the host rejects undefined). */
function echo(inputs: Props): Props {
  const out: Props = {};
  for (const key of ECHOED_KEYS) if (inputs[key] !== undefined) out[key] = inputs[key];
  return out;
}

/**
 * Outputs to record with a "created but not initialized" error. The host adds `__provider` to successful
 * results only and packs an error's properties as they are; without it in state, the engine's later Delete
 * or Read of this resource could not load the provider.
 */
export function partialOutputs(outs: Props, inputs: Props): Props {
  return inputs.__provider === undefined ? outs : { ...outs, __provider: inputs.__provider };
}

/** The device identity as the API takes it. */
function deviceOf(inputs: Props): { productKey?: string; deviceName?: string; iotId?: string; iotInstanceId?: string } {
  const pick = (k: string) => (typeof inputs[k] === "string" ? (inputs[k] as string) : undefined);
  return {
    productKey: pick("productKey"),
    deviceName: pick("deviceName"),
    iotId: pick("iotId"),
    iotInstanceId: pick("iotInstanceId"),
  };
}

/** The unknown outcome recorded in a resource's outputs, if any. */
function unknownOf(props: Props): UnknownOutcomeRecord | undefined {
  const u = props.unknownOutcome;
  return u !== null && typeof u === "object" && !Array.isArray(u) ? (u as UnknownOutcomeRecord) : undefined;
}

/**
 * check: the input rules, no network. Given the provider context (as the host does), also what the calls will
 * need: a region and a source of credentials, so that a preview fails where `up` would.
 */
export function check(_olds: Props, news: Props, ctx?: ProviderContext): dynamic.CheckResult {
  const failures: CheckFailure[] = [];
  checkIdentity(news, "", failures);
  checkCommonSettings(news, failures);
  if (news.triggers !== undefined) checkJson(news.triggers, "triggers", failures);
  if (ctx) failures.push(...ctx.preflight(news));
  return { inputs: news, failures };
}

/** diff: old outputs against new inputs; `__provider` is never compared, so a package upgrade resets nothing. */
export function diff(_id: string, olds: Props, news: Props, settings?: ProviderSettings): dynamic.DiffResult {
  // The API resets by IotId when one is given, so with the same known IotId the pair names no other device:
  // editing it is an update of the record, not a new reset.
  const sameIotId = typeof news.iotId === "string" && !isUnknown(news.iotId) && !changed(olds, news, "iotId");
  const pairChanged = (k: string) => (k === "productKey" || k === "deviceName") && sameIotId;
  const moved = targetChanges(olds, news, settings);
  const sameTargetRewrite = (k: string) => (k === "region" || k === "endpoint") && !moved.includes(k);
  const replaces = REPLACE_KEYS.filter((k) => changed(olds, news, k) && !pairChanged(k) && !sameTargetRewrite(k));
  const updates = [
    ...(["region", "endpoint"] as const).filter((k) => changed(olds, news, k) && sameTargetRewrite(k)),
    ...UPDATE_KEYS.filter((k) => Boolean(olds[k]) !== Boolean(news[k]) || isUnknown(news[k])),
    ...(["productKey", "deviceName"] as const).filter((k) => changed(olds, news, k) && pairChanged(k)),
  ];
  // An unknown outcome makes an update, which settles it as the operator decided or fails again naming it.
  const unsettled = unknownOf(olds) !== undefined;
  return {
    changes: replaces.length > 0 || updates.length > 0 || unsettled,
    replaces,
    deleteBeforeReplace: false,
  };
}

/**
 * create: one ResetThing; with `waitForJob` and a returned JobId, follow the job to its end. A reset the journal
 * shows for these triggers (an update that did not finish) is recorded without sending; one sent without a
 * recorded answer is an unknown outcome.
 */
export async function create(ctx: ProviderContext, inputs: Props): Promise<dynamic.CreateResult> {
  const { device, key, api, journal, scope, state } = await sending(ctx, inputs);
  try {
    if (state?.status === "reset" || state?.status === "accepted") {
      log.info(
        `${describeDevice(device)} was already reset with these triggers (by an update that did not finish, or ` +
          `before a revert or destroy); recorded from the reset journal, not sent again. To reset it again, change ` +
          `its triggers.`,
      );
      const outs = fromJournal(inputs, state, {
        ...(state.hadUnknown ? { mayBeResetTwice: true } : {}),
        ...(state.status === "accepted" ? { acceptedUnknown: true } : {}),
      });
      return await finish(ctx, api, {
        inputs,
        outs,
        id: state.requestId || `${key}@${outs.resetAt}`,
        jobId: state.jobId,
      });
    }
    if (outcomes.journalUnknown(state) && state) {
      return await settleUnknown(ctx, api, journal, scope, inputs, outcomes.unknownFromJournal(state), undefined);
    }
    return await send(ctx, api, journal, scope, inputs, 0, undefined);
  } finally {
    // Not awaited: the answer reaches state through the engine, and a crash before its line is on disk only makes
    // the journal call a later create of this device with these triggers an unknown outcome. The "sending" line,
    // which is what prevents a second reset, was on disk before the call left. One fdatasync per reset, not two.
    journal?.flush().catch(() => undefined);
  }
}

/** What a create or an update that may send works with: the device, its client, and what the journal knows of it. */
async function sending(ctx: ProviderContext, inputs: Props) {
  const device = deviceOf(inputs);
  const key = formatDeviceKey(device);
  const journal = await ctx.journal();
  const scope = outcomes.deviceScope(ctx, inputs);
  const api = ctx.api(inputs as { region?: string; endpoint?: string });
  return { device, key, api, journal, scope, state: journal?.lookup(scope, key) };
}

/** The outputs of a reset the journal shows (an update that did not finish), recorded without sending. */
function fromJournal(inputs: Props, state: DeviceJournalState, marks: Props): Props {
  return {
    ...echo(inputs),
    success: true,
    ...(state.requestId !== undefined ? { requestId: state.requestId } : {}),
    resetAt: state.sentAt ?? new Date().toISOString(),
    ...marks,
  };
}

/** Sends the reset (once; `resend` numbers a resend of an unknown outcome, 0 a first send) and records what came back. */
async function send(
  ctx: ProviderContext,
  api: IotApi,
  journal: Journal | undefined,
  scope: string,
  inputs: Props,
  resend: number,
  id: string | undefined,
): Promise<{ id: string; outs: Props }> {
  const device = deviceOf(inputs);
  const key = formatDeviceKey(device);
  const resetAt = new Date().toISOString();
  let result;
  try {
    result = await outcomes.journaledReset(api, journal, scope, key, device, resend);
  } catch (err) {
    if (!(err instanceof UnknownOutcomeError)) throw err;
    const record: UnknownOutcomeRecord = {
      sentAt: err.sentAt,
      attempt: err.attempt,
      error: err.failure,
      ...resendMarks(resend),
    };
    throw unknownError(inputs, record, id ?? `unknown:${key}@${err.sentAt}`);
  }
  const outs: Props = {
    ...echo(inputs),
    success: true,
    requestId: result.requestId,
    resetAt,
    ...(resend > 0 ? { mayBeResetTwice: true } : {}),
  };
  const recordId = id ?? (result.requestId || `${describeDevice(device)}@${resetAt}`);
  return finish(ctx, api, { inputs, outs, id: recordId, jobId: result.jobId });
}

/** The error of a device whose outcome is unknown: it names the device and says how to decide. */
function unknownError(inputs: Props, record: UnknownOutcomeRecord, id: string): PartialResetError {
  const key = formatDeviceKey(deviceOf(inputs));
  const reason =
    `The reset of ${describeDevice(deviceOf(inputs))} has an unknown outcome: ${outcomes.describeUnknown(key, record)}. ` +
    outcomes.unknownOutcomeAdvice([key], { [key]: record });
  const outs: Props = { ...echo(inputs), success: false, unknownOutcome: record };
  return new PartialResetError(reason, id, partialOutputs(outs, inputs), [reason]);
}

/** Settles an unknown outcome as the operator's settings say: accept it, send once more, or fail naming it. */
async function settleUnknown(
  ctx: ProviderContext,
  api: IotApi,
  journal: Journal | undefined,
  scope: string,
  inputs: Props,
  record: UnknownOutcomeRecord,
  id: string | undefined,
): Promise<{ id: string; outs: Props }> {
  const key = formatDeviceKey(deviceOf(inputs));
  const decision = outcomes.decideUnknown(ctx.settings, key, record);
  switch (decision) {
    case "accept": {
      journal?.append({ ev: "accepted", at: new Date().toISOString(), scope, device: key }).catch(() => undefined);
      log.info(`${key}: its unknown outcome is accepted as a reset (iotReset:acceptUnknown); nothing is sent.`);
      const outs: Props = { ...echo(inputs), success: true, resetAt: record.sentAt, acceptedUnknown: true };
      return { id: id ?? `${key}@${record.sentAt}`, outs };
    }
    case "resend":
      return send(ctx, api, journal, scope, inputs, resendsOf(record) + 1, id);
    case "hold":
      throw unknownError(inputs, record, id ?? `unknown:${key}@${record.sentAt}`);
    default:
      return assertNever(decision, "unknown-outcome decision");
  }
}

/** The outputs of a recorded reset; with `waitForJob` and a JobId, the job is followed to its end. */
async function finish(
  ctx: ProviderContext,
  api: IotApi,
  reset: { inputs: Props; outs: Props; id: string; jobId: string | undefined },
): Promise<{ id: string; outs: Props }> {
  const { inputs, outs, id, jobId } = reset;
  const device = deviceOf(inputs);
  const result = { requestId: String(outs.requestId ?? ""), jobId };
  if (result.jobId) outs.jobId = result.jobId;
  if (inputs.waitForJob === true && result.jobId) {
    let status: string;
    try {
      status = await api.waitForJob(result.jobId, device, ctx.settings.jobTimeoutMs);
    } catch (err) {
      const reason = `The reset of ${describeDevice(device)} was sent (RequestId: ${result.requestId}) and started device job ${result.jobId}, but following the job failed: ${(err as Error).message}`;
      throw new PartialResetError(reason, id, partialOutputs(outs, inputs), [reason]);
    }
    outs.jobStatus = status;
    if (status !== "COMPLETED") {
      const ended = jobOutcome(status, ctx.settings.jobTimeoutMs);
      const reason =
        `The reset of ${describeDevice(device)} was sent (RequestId: ${result.requestId}), but its device job ` +
        `${result.jobId} ${ended}. The JobId is recorded; inspect the job in the IoT console, then change a ` +
        `trigger to reset the device again.`;
      throw new PartialResetError(reason, id, partialOutputs(outs, inputs), [reason]);
    }
  }
  return { id, outs };
}

/**
 * update: only `waitForJob` can change in place; the recorded reset is kept and nothing is sent. A recorded unknown
 * outcome is settled as the operator's settings say (accepted, sent exactly once more, or failing again).
 */
export const update: Lifecycle["update"] = async (ctx, id, olds, news) => {
  const unknown = unknownOf(olds);
  if (unknown !== undefined && olds.success !== true) {
    const { api, journal, scope, state } = await sending(ctx, news);
    try {
      if (state?.status === "reset") {
        // The resend of an update that did not finish: recorded from the journal.
        const outs = fromJournal(news, state, { mayBeResetTwice: true });
        return { outs: (await finish(ctx, api, { inputs: news, outs, id, jobId: state.jobId })).outs };
      }
      const record =
        state && outcomes.journalUnknown(state) ? { ...unknown, ...outcomes.unknownFromJournal(state) } : unknown;
      return { outs: (await settleUnknown(ctx, api, journal, scope, news, record, id)).outs };
    } finally {
      journal?.flush().catch(() => undefined); // as in create
    }
  }
  const record: Props = {};
  for (const key of RECORD_KEYS) if (olds[key] !== undefined) record[key] = olds[key];
  return { outs: { ...echo(news), ...record } };
};

/**
 * delete: a reset cannot be undone; only the record leaves state. The journal keeps it, so that going back to these
 * triggers (a revert, or a new resource after a destroy) records the reset from there instead of sending it again.
 */
export function remove(_ctx: ProviderContext | undefined, _id: string, props: Props): Promise<void> {
  log.info(
    `${describeDevice(deviceOf(props))}: the record of its reset (RequestId: ${props.requestId ?? "none"}) leaves ` +
      `state; a reset cannot be undone, so nothing is sent to IoT Platform.`,
  );
  return Promise.resolve();
}

/** read (refresh): the recorded reset stands; a job that was still running gets its status refreshed. */
export async function read(ctx: ProviderContext, id: string, props: Props): Promise<dynamic.ReadResult> {
  const jobId = props.jobId;
  const status = props.jobStatus;
  if (typeof jobId === "string" && typeof status === "string" && !isJobDone(status)) {
    try {
      const api = ctx.api(props as { region?: string; endpoint?: string });
      const now = await api.queryJob(jobId, deviceOf(props));
      return { id, props: { ...props, jobStatus: now.status } };
    } catch (err) {
      log.warn(
        `${describeDevice(deviceOf(props))}: refresh could not read device job ${jobId}: ${(err as Error).message}; keeping the recorded status.`,
      );
    }
  }
  return { id, props };
}
