/**
 * Reads a plan — `pulumi preview --json`, or the offline runner's `--plan-json` — and lists exactly which
 * devices the update would reset: the list a pull request shows before anything is applied.
 */
import { pendingDevices, unknownOutcomeDevices } from "./batch";
import { containsUnknown } from "./inputs";
import { deviceKey, FleetDevice } from "./selection";

const DEVICE_TYPE = "pulumi-nodejs:dynamic/iot:DeviceRegistrationReset";
const BATCH_TYPE = "pulumi-nodejs:dynamic/iot:DeviceBatchReset";

/** One resource of the plan that would reset devices. */
export interface PlannedReset {
  /** The resource's URN. */
  readonly urn: string;
  /** What the engine would do: create, update or replace. */
  readonly op: string;
  /** Device keys (`productKey/deviceName` or `iotId:<IotId>`) the step would reset. */
  readonly devices: string[];
  /** True when the resource's devices are not known until apply: any number may be reset. */
  readonly unknown?: boolean;
  /**
   * Devices sent by an earlier update whose outcome is unknown (sent, no answer): not sent again unless
   * `iotReset:resendUnknown` names them (then exactly once), not counted in `devices`.
   */
  readonly unknownOutcome?: string[];
}

interface NormalizedStep {
  readonly urn: string;
  readonly op: string;
  readonly type: string;
  readonly inputs: Record<string, unknown>;
  readonly oldOutputs: Record<string, unknown>;
}

const asRecord = (v: unknown): Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {};

/** Accepts both plan shapes: the CLI's (`newState`/`oldState`) and the runner's (`inputs`/`oldOutputs`). */
function normalize(step: Record<string, unknown>): NormalizedStep {
  const newState = asRecord(step.newState);
  const oldState = asRecord(step.oldState);
  return {
    urn: String(step.urn ?? newState.urn ?? oldState.urn ?? ""),
    op: String(step.op ?? ""),
    type: String(step.type ?? newState.type ?? oldState.type ?? ""),
    inputs: asRecord(step.inputs ?? newState.inputs),
    oldOutputs: asRecord(step.oldOutputs ?? oldState.outputs),
  };
}

function identityKey(inputs: Record<string, unknown>): string {
  // The API resets by IotId when both are given, so the IotId is what names the device.
  return typeof inputs.iotId === "string" ? `iotId:${inputs.iotId}` : `${inputs.productKey}/${inputs.deviceName}`;
}

/**
 * The resets a plan would send. Creates and replaces reset every device of the resource; an update of a
 * batch resets the devices without a record yet. Unknown (preview-time) values are reported as such.
 */
export function plannedResets(plan: unknown): PlannedReset[] {
  const steps = Array.isArray(asRecord(plan).steps) ? (asRecord(plan).steps as unknown[]) : undefined;
  if (!steps)
    throw new Error(
      "not a plan: expected a JSON object with a `steps` array (`pulumi preview --json`, or the offline runner's --plan-json)",
    );
  const seen = new Set<string>();
  const out: PlannedReset[] = [];
  for (const raw of steps) {
    const step = normalize(asRecord(raw));
    // The CLI may list a replace as several steps (replace, create-replacement, delete-replaced); count it once.
    const op = step.op === "create-replacement" ? "replace" : step.op;
    if (!["create", "update", "replace"].includes(op) || seen.has(step.urn)) continue;
    if (step.type === DEVICE_TYPE) {
      if (op === "update") {
        // An update sends nothing, except the one resend of an unknown outcome when the operator asks for it.
        const lost = step.oldOutputs.unknownOutcome;
        if (lost !== null && typeof lost === "object") {
          out.push({ urn: step.urn, op, devices: [], unknownOutcome: [identityKey(step.inputs)] });
        }
        continue;
      }
      seen.add(step.urn);
      const identity = ["iotId", "productKey", "deviceName"].map((k) => step.inputs[k]);
      if (identity.some((v) => containsUnknown(v))) out.push({ urn: step.urn, op, devices: [], unknown: true });
      else out.push({ urn: step.urn, op, devices: [identityKey(step.inputs)] });
    } else if (step.type === BATCH_TYPE) {
      seen.add(step.urn);
      if (!Array.isArray(step.inputs.devices) || containsUnknown(step.inputs.devices)) {
        out.push({ urn: step.urn, op, devices: [], unknown: true });
        continue;
      }
      const results = op === "update" ? asRecord(step.oldOutputs.results) : {};
      const lost = op === "update" ? asRecord(step.oldOutputs.unknownOutcomes) : {};
      const keys = pendingDevices(step.inputs.devices as FleetDevice[], results, lost).map(deviceKey);
      const held = unknownOutcomeDevices(step.inputs.devices as FleetDevice[], results, lost).map(deviceKey);
      if (keys.length > 0 || held.length > 0)
        out.push({ urn: step.urn, op, devices: keys, ...(held.length > 0 ? { unknownOutcome: held } : {}) });
    }
  }
  return out;
}
