/**
 * The rules of a batch's arguments, shared by `DeviceBatchReset`'s `check` and by `DeviceCohortReset` in the
 * program: the common input rules, the device list and the rollout controls together.
 */
import { formatDeviceKey, mixedForms, mixedFormsReason, parseDeviceKey } from "./device-key";
import {
  checkCampaign,
  CheckFailure,
  checkCommonSettings,
  checkFleetDevice,
  checkIdentity,
  containsUnknown,
  describeValue,
  escapeText,
  isUnknown,
} from "./inputs";
import { checkRolloutArgs } from "./rollout-controls";

/** Checks one device key of a batch's `devices` (what a cohort passes): its form, then the identity it names. */
function checkDeviceKey(key: string, at: string, failures: CheckFailure[]): void {
  const parsed = parseDeviceKey(key);
  if (parsed) checkIdentity(parsed, `${at}.`, failures);
  else
    failures.push({
      property: at,
      reason: `is ${describeValue(key)}, not a device key (\`productKey/deviceName\` or \`iotId:<IotId>\`)`,
    });
}

/**
 * The rules of a batch's arguments (`DeviceBatchReset`), shared by its `check` and by `DeviceCohortReset` in the
 * program: campaign, settings, every device valid and named one way, no device twice, guardrails in range. `keys`
 * also accepts devices given by key (`productKey/deviceName`, `iotId:<IotId>`), as a cohort passes them to a batch.
 */
export function checkBatchArgs(news: Record<string, unknown>, failures: CheckFailure[], keys = false): void {
  checkCampaign(news, failures);
  checkCommonSettings(news, failures);
  const devices = news.devices;
  if (devices === undefined) {
    failures.push({ property: "devices", reason: "is required: an array of { productKey, deviceName } or { iotId }" });
  } else if (!isUnknown(devices)) {
    if (!Array.isArray(devices)) {
      failures.push({
        property: "devices",
        reason: `must be an array of { productKey, deviceName } or { iotId }, got ${describeValue(devices)}`,
      });
    } else {
      const seen = new Map<string, number>();
      devices.forEach((d: unknown, i: number) => {
        const before = failures.length;
        if (keys && typeof d === "string" && !isUnknown(d)) checkDeviceKey(d, `devices[${i}]`, failures);
        else checkFleetDevice(d, `devices[${i}]`, failures);
        if (failures.length > before || containsUnknown(d)) return;
        const key = typeof d === "string" ? d : formatDeviceKey(d as Record<string, string>);
        const first = seen.get(key);
        if (first !== undefined)
          failures.push({ property: `devices[${i}]`, reason: `repeats device ${escapeText(key)} (devices[${first}])` });
        else seen.set(key, i);
      });
      const mixed = mixedForms(devices);
      if (mixed) failures.push({ property: "devices", reason: mixedFormsReason(mixed, (i) => `devices[${i}]`) });
    }
  }
  checkRolloutArgs(news, failures);
  const stages = news.stages;
  if (stages !== undefined && !isUnknown(stages)) {
    if (!Array.isArray(stages) || stages.some((p) => typeof p !== "number" || !(p > 0 && p <= 100))) {
      failures.push({ property: "stages", reason: "must be the cohort's cumulative percentages, each in (0, 100]" });
    }
  }
}
