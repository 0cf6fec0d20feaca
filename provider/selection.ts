/**
 * Which devices a staged rollout selects, and which batch each belongs to. Pure functions of the device's
 * identity: adding or removing other devices moves no device between stages or batches, promoting a stage
 * only adds devices, and the share selected tracks the stage's percentage.
 */
import { createHash } from "crypto";

/** One device of a fleet: a ProductKey+DeviceName pair, or an IotId. */
export type FleetDevice = { readonly productKey: string; readonly deviceName: string } | { readonly iotId: string };

/** A stable text key of a device: `productKey/deviceName`, or `iotId:<IotId>`. */
export function deviceKey(device: FleetDevice): string {
  return "iotId" in device ? `iotId:${device.iotId}` : `${device.productKey}/${device.deviceName}`;
}

/** A uniform number in [0, 1) from a salted SHA-256 of the key: stable across runs, machines and versions. */
export function unitHash(salt: string, key: string): number {
  const digest = createHash("sha256").update(`${salt}\u0000${key}`).digest();
  // 48 bits are plenty for uniformity and stay exact in a double.
  return digest.readUIntBE(0, 6) / 2 ** 48;
}

/** The position of a device on the rollout line, in percent [0, 100): selected by a stage at p% when below p. */
export function rolloutPosition(key: string): number {
  return unitHash("stage", key) * 100;
}

/** How many hash buckets (batches) a fleet of `fleetSize` gets at `batchSize`: a power of two, at most 4096. */
export function bucketCount(fleetSize: number, batchSize: number): number {
  const wanted = Math.max(1, Math.ceil(fleetSize / batchSize));
  return Math.min(4096, 2 ** Math.ceil(Math.log2(wanted)));
}

/** The bucket of a device among `buckets` (a power of two). */
export function bucketOf(key: string, buckets: number): number {
  return Math.floor(unitHash("batch", key) * buckets);
}

/** Validates `stages` and `stage`; returns the reason when they break a rule. */
export function checkStages(stages: readonly number[], stage: number): string | undefined {
  if (stages.length === 0) return "`stages` must list at least one percentage, e.g. [1, 10, 100]";
  for (let i = 0; i < stages.length; i++) {
    const p = stages[i] as number;
    if (!Number.isFinite(p) || p <= 0 || p > 100)
      return `\`stages[${i}]\` is ${p}; each stage is a percentage in (0, 100]`;
    if (i > 0 && p <= (stages[i - 1] as number)) {
      return `\`stages\` must increase (they are cumulative percentages), but stages[${i}] = ${p} follows ${stages[i - 1]}`;
    }
  }
  if (!Number.isInteger(stage) || stage < 0 || stage > stages.length) {
    return `\`stage\` is ${stage}; it counts promoted stages, an integer from 0 to ${stages.length}`;
  }
  return undefined;
}

/** The rollout plan of a cohort. */
export interface CohortPlan {
  /** Devices selected by the promoted stages, in fleet order. */
  readonly selected: FleetDevice[];
  /** Devices selected up to each stage (cumulative), one count per stage. */
  readonly stageCounts: number[];
  /** Number of hash buckets. */
  readonly buckets: number;
  /** Selected devices by bucket, every bucket (empty ones too, so their records persist), in bucket order. */
  readonly batches: Array<{ readonly bucket: number; readonly devices: FleetDevice[] }>;
}

/**
 * Plans a cohort: which devices the first `stage` stages select, and their batches. The bucket count is
 * `batchCount` when given, else derived from the fleet size and `batchSize`.
 */
export function planCohort(
  devices: readonly FleetDevice[],
  stages: readonly number[],
  stage: number,
  batchSize: number,
  batchCount?: number,
): CohortPlan {
  const positions = devices.map((d) => rolloutPosition(deviceKey(d)));
  const stageCounts = stages.map((p) => positions.filter((x) => x < p).length);
  const cutoff = stage === 0 ? 0 : (stages[stage - 1] as number);
  const selected = devices.filter((_, i) => (positions[i] as number) < cutoff);
  const buckets = batchCount ?? bucketCount(devices.length, batchSize);
  const batches = Array.from({ length: buckets }, (_, bucket) => ({ bucket, devices: [] as FleetDevice[] }));
  for (const device of selected)
    (batches[bucketOf(deviceKey(device), buckets)] as { devices: FleetDevice[] }).devices.push(device);
  return { selected, stageCounts, buckets, batches };
}
