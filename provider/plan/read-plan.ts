/**
 * Reads a plan — `pulumi preview --json` — and lists exactly which
 * devices the update would reset: the list a pull request shows before anything is applied. A plan that cannot
 * be read completely is refused rather than read in part, so that no reset goes missing from the list.
 */
import { pendingDevices, resendsOf, unknownOutcomeDevices } from "../shared/records";
import { IotResetError } from "../shared/errors";
import { deviceKey, FleetDevice, fleetDevice, parseDeviceKey } from "../shared/device-key";
import { containsUnknown, describeValue } from "../shared/inputs";
import { rolloutPosition } from "../shared/selection";
import { ROLLOUT_KEYS, RolloutControls } from "../shared/rollout-controls";
import { RESOURCE_NAMES, typeToken } from "../shared/type-tokens";

const DEVICE_TYPE = typeToken(RESOURCE_NAMES.device);
const BATCH_TYPE = typeToken(RESOURCE_NAMES.batch);
const GATE_TYPE = typeToken(RESOURCE_NAMES.gate);

/** A plan that cannot be read completely; the message names the step and what is wrong. */
export class PlanError extends IotResetError {}

/** One resource of the plan that would reset devices. */
export interface PlannedReset {
  /** The resource's URN; "" for a step that has none (see `step`). */
  readonly urn: string;
  /** What the engine would do: create, update or replace. */
  readonly op: string;
  /** Device keys (`productKey/deviceName` or `iotId:<IotId>`) the step would reset. */
  readonly devices: string[];
  /** True when the resource's devices are not known until apply: any number may be reset. */
  readonly unknown?: boolean;
  /** The index of the step in the plan, given for a step without a URN. */
  readonly step?: number;
  /** For a batch of a cohort: how many of `devices` each of the cohort's stages adds (stage 1 first). */
  readonly byStage?: number[];
  /** For a batch of a cohort: the cohort's cumulative stage percentages. */
  readonly stages?: number[];
  /**
   * Devices sent by an earlier update whose outcome is unknown (sent, no answer): not sent again unless
   * `iotReset:resendUnknown` names them (then exactly once), not counted in `devices`.
   */
  readonly unknownOutcome?: string[];
  /**
   * The names `iotReset:resendUnknown` takes to send each of `unknownOutcome` once more, in the same order: the key
   * for a first resend, `<key>#<n>` for the n-th.
   */
  readonly resendAs?: string[];
  /**
   * Devices a split moved to this batch from one whose outputs record their reset in the same campaign and target
   * (seen with `--show-sames`): recorded from the journal in a bucket at apply, without a call; not in `devices`.
   */
  readonly moved?: string[];
  /**
   * How many of `devices` moved here from a batch that records their reset, and are counted as resets because
   * `iotReset:journal` is not a bucket: a runner without that journal file (or with the journal off) sends them again.
   */
  readonly movedCounted?: number;
  /** The names of the batches the devices of `moved` or `movedCounted` left. */
  readonly movedFrom?: string[];
  /** For a batch of a cohort: the guardrails and rollout controls its update applies, as set. */
  readonly rollout?: RolloutControls;
}

/** The controls of a batch's planned inputs; undefined when none is set. A value unknown at preview is shown as such. */
function rolloutOf(inputs: Record<string, unknown>): RolloutControls | undefined {
  const out: Record<string, unknown> = {};
  for (const key of ROLLOUT_KEYS) {
    if (inputs[key] !== undefined) out[key] = containsUnknown(inputs[key]) ? "(unknown until apply)" : inputs[key];
  }
  return Object.keys(out).length > 0 ? (out as RolloutControls) : undefined;
}

interface NormalizedStep {
  readonly urn: string;
  readonly op: string;
  readonly type: string;
  readonly inputs: unknown;
  readonly oldOutputs: Record<string, unknown>;
}

/**
 * Where the plan's stack keeps its reset journal (`iotReset:journal` in the plan's `config`): a bucket, a file (the
 * default), off, or `secret` when the plan shows the setting as `[secret]`.
 */
export type JournalKind = "bucket" | "file" | "off" | "secret";

/** How `pulumi preview --json` shows a secret value. */
const SECRET_MASK = "[secret]";

/** The journal's kind from the plan's config, read as the provider reads the setting. */
function journalKind(plan: Record<string, unknown>): JournalKind {
  const value = text(asRecord(plan.config)["iotReset:journal"]).trim();
  if (value === SECRET_MASK) return "secret";
  if (value === "off") return "off";
  return /^(s3|oss):\/\//i.test(value) ? "bucket" : "file";
}

/**
 * The journal scope of a batch (campaign, target, instance) as given, or undefined when a value is a secret or
 * unknown at preview: such scopes are never taken to match.
 */
function scopeOf(values: Record<string, unknown>): string | undefined {
  const scope = ["campaign", "iotInstanceId", "region", "endpoint"].map((k) => values[k] ?? null);
  if (scope.some((v) => v === SECRET_MASK || containsUnknown(v))) return undefined;
  return JSON.stringify(scope);
}

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);
const asRecord = (v: unknown): Record<string, unknown> => (isRecord(v) ? v : {});
const text = (v: unknown): string => (typeof v === "string" ? v : "");

/** One step of `pulumi preview --json`: the planned state in `newState`, the recorded one in `oldState`. */
function normalize(step: Record<string, unknown>): NormalizedStep {
  const newState = asRecord(step.newState);
  const oldState = asRecord(step.oldState);
  return {
    urn: text(step.urn) || text(newState.urn) || text(oldState.urn),
    op: text(step.op),
    type: text(newState.type) || text(oldState.type),
    inputs: newState.inputs,
    oldOutputs: asRecord(oldState.outputs),
  };
}

/** The key of one planned device, or why the entry is not a device. */
function plannedDevice(value: unknown): string | { problem: string } {
  if (typeof value === "string" && parseDeviceKey(value)) return value;
  if (isRecord(value)) {
    if (typeof value.iotId === "string") return deviceKey({ iotId: value.iotId });
    if (value.iotId === undefined && typeof value.productKey === "string" && typeof value.deviceName === "string") {
      return deviceKey(value as FleetDevice);
    }
  }
  return { problem: `is ${describeValue(value)}, not a device ({ productKey, deviceName } or { iotId })` };
}

/** How many of the devices each stage adds, from their place on the rollout line. */
function countByStage(keys: readonly string[], stages: readonly number[]): number[] {
  const counts = stages.map(() => 0);
  for (const key of keys) {
    const position = rolloutPosition(key);
    const stage = stages.findIndex((p) => position < p);
    if (stage >= 0) counts[stage] = (counts[stage] as number) + 1;
  }
  return counts;
}

/** A promotion gate the update would check before its stage resets anything. */
export interface PlannedGate {
  /** The gate's URN. */
  readonly urn: string;
  /** The cohort the gate belongs to. */
  readonly cohort: string;
  /** The stage it opens, counted from 1. */
  readonly stage: number;
  /** The share of the earlier stages' devices that must be back online. */
  readonly minOnlineRatio: number;
  /** How long the gate waits for them, in minutes. */
  readonly waitMinutes: number;
  /** How many devices it reads; absent when they are not known until apply (earlier stages reset in this update). */
  readonly devices?: number;
}

/** Everything a plan would reset. */
export interface PlanReading {
  /** One entry per resource (steps sharing a URN are one resource), in plan order. */
  readonly resets: PlannedReset[];
  /** The promotion gates the update would check, in plan order. */
  readonly gates: PlannedGate[];
  /** How many reset steps had no URN; each is listed on its own, named by its index. */
  readonly stepsWithoutUrn: number;
  /** Where the stack keeps its journal, which decides whether devices moved by a split are sent again. */
  readonly journal: JournalKind;
}

/** What one reset step would reset. */
interface StepDevices {
  /** Devices the step resets. */
  readonly keys: readonly string[];
  /**
   * Devices sent by an earlier update with no answer: not resets of this plan, listed apart for a decision; each with
   * the name `iotReset:resendUnknown` takes for its next resend.
   */
  readonly held: ReadonlyMap<string, string>;
  /** Whether the devices are unknown until apply. */
  readonly unknown: boolean;
  readonly stages?: number[];
  /** For a batch: its journal scope. */
  readonly scope?: string;
}

/** The resets of one resource: the union of its steps. */
interface PlannedResource {
  op: string;
  devices: Set<string>;
  held: Map<string, string>;
  unknown: boolean;
  step: number;
  scope?: string;
  stages?: number[];
  rollout?: RolloutControls;
}

/**
 * The resets a plan would send. Creates and replaces reset every device of the resource; an update of a
 * batch resets the devices without a record yet. Steps that share a URN (the CLI lists a replace as several)
 * are one resource whose devices are the union of theirs. Unknown (preview-time) values are reported as such;
 * anything else that cannot be read is a PlanError.
 */
export function readPlan(plan: unknown): PlanReading {
  const steps = isRecord(plan) && Array.isArray(plan.steps) ? (plan.steps as unknown[]) : undefined;
  if (!steps) {
    throw new PlanError("not a plan: expected a JSON object with a `steps` array (`pulumi preview --json`)");
  }
  const byUrn = new Map<string, PlannedResource>();
  let stepsWithoutUrn = 0;
  const gates: PlannedGate[] = [];
  const recorded = new Map<string, Map<string, string>>();
  steps.forEach((raw, i) => {
    if (!isRecord(raw)) throw new PlanError(`steps[${i}] is ${describeValue(raw)}, not a step`);
    const step = normalize(raw);
    if (!step.op) throw new PlanError(`steps[${i}] has no \`op\``);
    noteRecords(recorded, step);
    // The CLI may list a replace as several steps (replace, create-replacement, delete-replaced).
    const op = step.op === "create-replacement" ? "replace" : step.op;
    if (!["create", "update", "replace"].includes(op)) return;
    const where = `steps[${i}]${step.urn ? ` (${step.urn})` : ""}`;
    if (!step.type) throw new PlanError(`${where} has no resource type`);
    if (step.type !== DEVICE_TYPE && step.type !== BATCH_TYPE && step.type !== GATE_TYPE) return;
    if (!isRecord(step.inputs)) throw new PlanError(`${where} has no inputs`);
    const inputs = step.inputs;
    if (step.type === GATE_TYPE) {
      const gate = plannedGate(step, op, inputs);
      if (gate) gates.push(gate);
      return;
    }
    const rollout = step.type === BATCH_TYPE ? rolloutOf(inputs) : undefined;
    const planned =
      step.type === DEVICE_TYPE ? deviceStep(step, op, inputs, where) : batchStep(step, op, inputs, where);
    if (!planned) return;
    const id = step.urn || `#${i}`;
    if (!step.urn) stepsWithoutUrn++;
    const entry: PlannedResource = byUrn.get(id) ?? {
      op,
      devices: new Set(),
      held: new Map(),
      unknown: false,
      step: i,
    };
    if (op === "replace") entry.op = "replace";
    for (const k of planned.keys) entry.devices.add(k);
    for (const [k, name] of planned.held) entry.held.set(k, name);
    entry.unknown ||= planned.unknown;
    entry.stages ??= planned.stages;
    entry.scope ??= planned.scope;
    entry.rollout ??= rollout;
    byUrn.set(id, entry);
  });
  const journal = journalKind(plan as Record<string, unknown>);
  return { resets: resetsOf(byUrn, recorded, journal), gates, stepsWithoutUrn, journal };
}

/**
 * Notes, by journal scope, the devices whose reset a batch's recorded outputs hold: each with the name of that batch.
 * Read from the batches the update keeps in their scope (`same`, shown with `--show-sames`, and `update`: the engine found
 * no change of campaign or resolved target there, so their planned inputs give the scope) and from deleted ones (a
 * merge), so that a device a split moved to another batch, or a merge moved back, is known as reset. A replaced
 * batch changes scope: its records count for nothing.
 */
function noteRecords(byScope: Map<string, Map<string, string>>, step: NormalizedStep): void {
  if (step.type !== BATCH_TYPE || !isRecord(step.oldOutputs.results)) return;
  if (!["same", "update", "delete"].includes(step.op)) return;
  const scope = scopeOf(step.op === "delete" ? step.oldOutputs : asRecord(step.inputs));
  if (scope === undefined) return;
  const recorded = byScope.get(scope) ?? new Map<string, string>();
  const name = step.urn.split("::").pop() ?? step.urn;
  for (const key of Object.keys(step.oldOutputs.results)) recorded.set(key, name);
  byScope.set(scope, recorded);
}

/** The gate a step would check: when its stage is promoted and it is not open yet (a replace is a new campaign's). */
function plannedGate(step: NormalizedStep, op: string, inputs: Record<string, unknown>): PlannedGate | undefined {
  if (inputs.promoted !== true || (op === "update" && step.oldOutputs.passed === true)) return undefined;
  return {
    urn: step.urn,
    cohort: text(inputs.cohort),
    stage: Number(inputs.stage),
    minOnlineRatio: Number(inputs.minOnlineRatio),
    waitMinutes: Number(inputs.waitMinutes),
    ...(isRecord(inputs.resets) && !containsUnknown(inputs.resets)
      ? { devices: Object.keys(inputs.resets).length }
      : {}),
  };
}

/** What a step of one device would reset; undefined when it sends nothing. */
function deviceStep(
  step: NormalizedStep,
  op: string,
  inputs: Record<string, unknown>,
  where: string,
): StepDevices | undefined {
  if (op === "update") {
    // An update of one device sends nothing, except the one resend of an unknown outcome the operator asks for.
    const lost = step.oldOutputs.unknownOutcome;
    const key = plannedDevice(inputs);
    if (!isRecord(lost) || typeof key !== "string") return undefined;
    return { keys: [], held: new Map([[key, resendName(key, lost)]]), unknown: false };
  }
  if (["iotId", "productKey", "deviceName"].some((k) => containsUnknown(inputs[k]))) {
    return { keys: [], held: new Map(), unknown: true };
  }
  const key = plannedDevice(inputs);
  if (typeof key !== "string") throw new PlanError(`${where}: the device has no iotId or productKey/deviceName`);
  return { keys: [key], held: new Map(), unknown: false };
}

/** The name `iotReset:resendUnknown` takes for a device's next resend: its key for the first, `<key>#<n>` after. */
function resendName(key: string, record: Record<string, unknown>): string {
  const next = resendsOf(record as { resent?: boolean; resends?: number }) + 1;
  return next > 1 ? `${key}#${next}` : key;
}

/** What a step of a batch would reset: its devices without a record, and those with an unknown outcome apart. */
function batchStep(step: NormalizedStep, op: string, inputs: Record<string, unknown>, where: string): StepDevices {
  if (containsUnknown(inputs.devices)) return { keys: [], held: new Map(), unknown: true };
  if (!Array.isArray(inputs.devices)) {
    throw new PlanError(`${where}: \`devices\` is ${describeValue(inputs.devices)}, not a list of devices`);
  }
  const all = inputs.devices.map((d: unknown, j: number) => {
    const key = plannedDevice(d);
    if (typeof key !== "string") throw new PlanError(`${where}: devices[${j}] ${key.problem}`);
    return { key, device: typeof d === "string" ? fleetDevice(d) : (d as FleetDevice) };
  });
  const results = op === "update" ? asRecord(step.oldOutputs.results) : {};
  const lost = op === "update" ? asRecord(step.oldOutputs.unknownOutcomes) : {};
  const listed = all.map((a) => a.device);
  const pending = new Set(pendingDevices(listed, results, lost).map(deviceKey));
  const waiting = new Set(unknownOutcomeDevices(listed, results, lost).map(deviceKey));
  const s = inputs.stages;
  const stages =
    Array.isArray(s) && s.length > 0 && s.every((p) => typeof p === "number") ? (s as number[]) : undefined;
  return {
    keys: all.map((a) => a.key).filter((k) => pending.has(k)),
    held: new Map(all.filter((a) => waiting.has(a.key)).map((a) => [a.key, resendName(a.key, asRecord(lost[a.key]))])),
    unknown: false,
    scope: scopeOf(inputs),
    ...(stages ? { stages } : {}),
  };
}

/**
 * One entry per resource that would reset a device (or might: unknown until apply), in plan order. A batch's devices
 * that another batch records as reset in the same scope moved there by a split (or back by a merge): with the journal
 * in a bucket the provider records them from it without a call, so they are listed apart; otherwise they stay resets.
 */
function resetsOf(
  byUrn: ReadonlyMap<string, PlannedResource>,
  recorded: ReadonlyMap<string, ReadonlyMap<string, string>>,
  journal: JournalKind,
): PlannedReset[] {
  const resets: PlannedReset[] = [];
  for (const [id, e] of byUrn) {
    // A replace resets every device of the batch: nothing of it moved in.
    const elsewhere = e.scope === undefined || e.op === "replace" ? undefined : recorded.get(e.scope);
    const moved = elsewhere ? [...e.devices].filter((k) => elsewhere.has(k)) : [];
    const movedFrom = [...new Set(moved.map((k) => elsewhere?.get(k) as string))];
    if (journal === "bucket") for (const k of moved) e.devices.delete(k);
    if (e.devices.size === 0 && e.held.size === 0 && !e.unknown && moved.length === 0) continue;
    const devices = [...e.devices];
    resets.push({
      urn: id.startsWith("#") ? "" : id,
      op: e.op,
      devices,
      ...(e.unknown ? { unknown: true } : {}),
      ...(e.held.size > 0 ? { unknownOutcome: [...e.held.keys()], resendAs: [...e.held.values()] } : {}),
      ...(moved.length > 0 && journal === "bucket" ? { moved } : {}),
      ...(moved.length > 0 && journal !== "bucket" ? { movedCounted: moved.length } : {}),
      ...(moved.length > 0 ? { movedFrom } : {}),
      ...(id.startsWith("#") ? { step: e.step } : {}),
      ...(e.stages ? { stages: e.stages, byStage: countByStage(devices, e.stages) } : {}),
      ...(e.rollout ? { rollout: e.rollout } : {}),
    });
  }
  return resets;
}

/** The resets a plan would send (see `readPlan`). */
export function plannedResets(plan: unknown): PlannedReset[] {
  return readPlan(plan).resets;
}
