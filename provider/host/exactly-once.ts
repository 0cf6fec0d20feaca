/**
 * Exactly once: the journaled send, the record of a reset whose outcome is unknown, and the operator's decision
 * about it. Shared by `DeviceRegistrationReset` and `DeviceBatchReset`.
 */
import type { IotApi, ResetResult } from "./iot-api";
import type { ProviderContext } from "./provider-context";
import { canonicalJson } from "../shared/inputs";
import { DeviceRef, IotApiError, UnknownOutcomeError } from "../shared/errors";
import type { DeviceJournalState, Journal } from "./journal";
import { resendMarks, resendsOf, type UnknownOutcomeRecord } from "../shared/records";
import { chooses, ProviderSettings, resendAllowed } from "./settings";
import { CONFIG_KEYS } from "../shared/config";

/** What happens to a device with an unknown outcome in this update. */
export type UnknownDecision = "accept" | "resend" | "hold";

/** The operator's decision for one device, from `iotReset:acceptUnknown` and `iotReset:resendUnknown`. */
export function decideUnknown(settings: ProviderSettings, key: string, record: UnknownOutcomeRecord): UnknownDecision {
  if (chooses(settings.acceptUnknown, key)) return "accept";
  // Each resend needs a decision of its own: a setting left in place never sends a device again.
  if (resendAllowed(settings.resendUnknown, key) === resendsOf(record) + 1) return "resend";
  return "hold";
}

/** The unknown-outcome record of what the journal says of a device that was sent without a recorded answer. */
export function unknownFromJournal(state: DeviceJournalState): UnknownOutcomeRecord {
  return {
    sentAt: state.sentAt ?? "an unrecorded time",
    attempt: state.attempt ?? 1,
    error:
      state.status === "sending"
        ? "the provider process stopped before the answer arrived (found in the reset journal)"
        : (state.error ?? "no answer"),
    ...resendMarks(resendsOf(state)),
  };
}

/** Whether the journal says the device was sent and its answer never recorded. */
export function journalUnknown(state: DeviceJournalState | undefined): boolean {
  return state?.status === "sending" || state?.status === "unknown";
}

/** One line naming a device with an unknown outcome and what was seen. */
export function describeUnknown(key: string, record: UnknownOutcomeRecord): string {
  const resends = resendsOf(record);
  return (
    `${key}: sent at ${record.sentAt} (attempt ${record.attempt}), no answer: ${record.error}` +
    (resends > 0 ? ` (this was resend ${resends}; another is named ${key}#${resends + 1})` : "")
  );
}

/**
 * What the operator does about devices with an unknown outcome: the end of every error that names them. A device
 * already resent is named with the next resend's number (`key#2`), so that each resend is a decision of its own.
 */
export function unknownOutcomeAdvice(
  keys: readonly string[],
  records: Readonly<Record<string, UnknownOutcomeRecord | undefined>>,
): string {
  const list = keys.join(",");
  const next = keys.map((k) => {
    const resends = resendsOf(records[k] ?? {});
    return resends > 0 ? `${k}#${resends + 1}` : k;
  });
  return (
    `IoT Platform may have reset ${keys.length === 1 ? "it, so it is not" : "each of them, so none of them is"} ` +
    `sent again. Check ${keys.length === 1 ? "the device" : "each device"} in the IoT console (or with ` +
    `QueryDeviceDetail; for a gateway, its device jobs), then either accept it as reset: ` +
    `\`pulumi config set ${CONFIG_KEYS.acceptUnknown} "${list}"\`, or send it exactly once more (its record then says ` +
    `it may have been reset twice): \`pulumi config set ${CONFIG_KEYS.resendUnknown} "${next.join(",")}"\`; and run \`pulumi up\` ` +
    `again.`
  );
}

/** The scope of a batch's resets in the journal: its campaign, where its calls go, and its instance. */
export function batchScope(ctx: ProviderContext, inputs: Record<string, unknown>): string {
  return scope(ctx, inputs, `campaign ${JSON.stringify(inputs.campaign ?? null)}`);
}

/** The scope of a `DeviceRegistrationReset` in the journal: its triggers, where its call goes, and its instance. */
export function deviceScope(ctx: ProviderContext, inputs: Record<string, unknown>): string {
  return scope(ctx, inputs, `triggers ${canonicalJson(inputs.triggers ?? null)}`);
}

function scope(ctx: ProviderContext, inputs: Record<string, unknown>, what: string): string {
  const target = ctx.targetOf(inputs as { region?: string; endpoint?: string });
  const instance = typeof inputs.iotInstanceId === "string" ? ` instance ${inputs.iotInstanceId}` : "";
  return `${what} at ${target}${instance}`;
}

const ignore = (): void => undefined;

/**
 * One ResetThing, journaled: "sending" is on disk before each attempt goes out; the answer ("reset", "failed") or
 * its loss ("unknown") follows without waiting (the caller flushes before it returns). `resend` numbers a
 * resend of a device whose outcome was unknown (0: a first send); `order` ranks the call at the shared pacer (see `Pacer.acquire`).
 */
export async function journaledReset(
  api: IotApi,
  journal: Journal | undefined,
  scope: string,
  key: string,
  device: DeviceRef & { iotInstanceId?: string },
  resend: number,
  order?: number,
): Promise<ResetResult> {
  if (!journal) return api.resetThing(device, undefined, order);
  const mark = resend > 0 ? { resend } : {};
  let sent = false;
  // From the first "sending" line to the outcome's, a shutdown waits: the outcome line must reach the journal.
  let release: (() => void) | undefined;
  try {
    const result = await api.resetThing(
      device,
      {
        beforeAttempt: async (attempt, sentAt) => {
          release ??= api.holdShutdown();
          await journal.append({ ev: "sending", at: sentAt, scope, device: key, attempt, ...mark });
          sent = true;
        },
      },
      order,
    );
    const at = new Date().toISOString();
    journal
      .append({
        ev: "reset",
        at,
        scope,
        device: key,
        requestId: result.requestId,
        ...(result.jobId ? { jobId: result.jobId } : {}),
      })
      .catch(ignore);
    return result;
  } catch (err) {
    if (sent) {
      const at = new Date().toISOString();
      if (err instanceof UnknownOutcomeError) {
        const { attempt, sentAt, failure: error } = err;
        journal.append({ ev: "unknown", at, scope, device: key, attempt, sentAt, error, ...mark }).catch(ignore);
      } else {
        const code = err instanceof IotApiError ? { code: err.code } : {};
        journal.append({ ev: "failed", at, scope, device: key, ...code }).catch(ignore);
      }
    }
    throw err;
  } finally {
    release?.();
  }
}
