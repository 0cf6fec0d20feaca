/**
 * Rollout controls as a batch receives them (abort criteria, windows, ramp): read from its inputs into the limits
 * the update guard applies, and the window check placed right before a request leaves.
 */
import type { IotApi, SendHooks } from "./api";
import type { AbortCriterion, Limits, Ramp, UpdateGuard } from "./guardrails";
import type { MaintenanceWindow } from "./windows";

/** The batch inputs that carry rollout controls; a change of any of them updates in place and resets nothing. */
export const ROLLOUT_KEYS = ["abortCriteria", "notBefore", "notAfter", "maintenanceWindows", "ramp"] as const;

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object";

/** The guardrail limits a batch's inputs set (check has validated them; anything else is left out). */
export function limitsOf(inputs: Record<string, unknown>): Limits {
  const { maxFailureRatio, maxResetsPerUpdate, abortCriteria, notBefore, notAfter, maintenanceWindows, ramp } = inputs;
  return {
    ...(typeof maxFailureRatio === "number" ? { maxFailureRatio } : {}),
    ...(typeof maxResetsPerUpdate === "number" ? { maxResetsPerUpdate } : {}),
    ...(Array.isArray(abortCriteria) ? { abortCriteria: abortCriteria as AbortCriterion[] } : {}),
    ...(typeof notBefore === "string" ? { notBefore } : {}),
    ...(typeof notAfter === "string" ? { notAfter } : {}),
    ...(Array.isArray(maintenanceWindows) ? { maintenanceWindows: maintenanceWindows as MaintenanceWindow[] } : {}),
    ...(isObject(ramp) ? { ramp: ramp as unknown as Ramp } : {}),
  };
}

/**
 * The API with the rollout window checked before every ResetThing attempt leaves: after the pacer's wait and before
 * the journal records the send, so that no request goes out after a window ends (a closed window throws
 * GuardrailError and the device stays pending).
 */
export function windowChecked(api: IotApi, guard: UpdateGuard, limits: Limits): IotApi {
  const checked = Object.create(api) as IotApi;
  checked.resetThing = (device, hooks?: SendHooks, order?: number) =>
    api.resetThing(
      device,
      {
        beforeAttempt: async (attempt, sentAt) => {
          guard.checkWindow(limits);
          await hooks?.beforeAttempt(attempt, sentAt);
        },
      },
      order,
    );
  return checked;
}
