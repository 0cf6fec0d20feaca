/**
 * Which devices a staged rollout selects, and which batch each belongs to. Pure functions of the device's
 * identity: adding or removing other devices moves no device between stages, and between batches only when the
 * batch count changes (one batch splits, or two merge); promoting a stage only adds devices, and the share selected
 * tracks the stage's percentage.
 */
import { createHash } from "crypto";
import { deviceKey, type FleetDevice } from "./device-key";
import { describeValue } from "./inputs";

/** The devices of one batch resource: its hash bucket and the devices in it. */
export interface BucketDevices {
  /** The bucket, 0 to the bucket count - 1; the batch resource's name ends with it. */
  readonly bucket: number;
  /** The devices hashed into the bucket, in fleet order. */
  readonly devices: FleetDevice[];
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

/**
 * Most batches the default layout forms. The engine's cost of an update grows with the number of batch resources (it
 * rewrites the whole checkpoint after each step), so past `MAX_BATCHES × batchSize` devices the batches grow with the
 * fleet instead of multiplying. A power of two, so that at the bound every batch holds the same share. This and the
 * hash of `splitBatchOf` are part of every deployed stack's layout: a change moves devices between batches.
 */
export const MAX_BATCHES = 32;

/** How many batches a fleet of `fleetSize` gets by default: one per `batchSize` devices, 1 to `MAX_BATCHES`. */
export function defaultBatchCount(fleetSize: number, batchSize: number): number {
  return Math.min(MAX_BATCHES, Math.max(1, Math.ceil(fleetSize / batchSize)));
}

/**
 * The batch of a device among `count` batches of the default layout: linear hashing, after Litwin. From `count` to
 * `count + 1` batches exactly one batch splits in two, half of its devices moving to the new one, and every other
 * device stays where it was; so a fleet that grows by one device changes at most one existing batch.
 */
export function splitBatchOf(key: string, count: number): number {
  const h = createHash("sha256").update(`split\u0000${key}`).digest().readUInt32BE(0);
  let level = 1;
  while (level * 2 <= count) level *= 2;
  // Buckets below `count - level` have split already: their devices take one more bit of the hash.
  const low = h % level;
  return low < count - level ? h % (2 * level) : low;
}

/** The bucket of a device among a pinned `batchCount` of buckets: every bucket re-forms when the count changes. */
export function bucketOf(key: string, buckets: number): number {
  return Math.floor(unitHash("batch", key) * buckets);
}

/** The batch count and the batch of each device: the pinned `batchCount`'s layout when given, else the default. */
function layoutOf(fleetSize: number, batchSize: number, batchCount?: number) {
  if (batchCount !== undefined) return { buckets: batchCount, of: (key: string) => bucketOf(key, batchCount) };
  const buckets = defaultBatchCount(fleetSize, batchSize);
  return { buckets, of: (key: string) => splitBatchOf(key, buckets) };
}

/**
 * Validates `stages` (after its default: `null` is not "absent") and `stage` as the program gave them (`undefined`
 * when left out); returns each problem, naming the argument, the rule and what was given. `stage` may be left out
 * only when there is one stage: with more, the default could only be a guess, and guessing "every stage" reset a
 * whole fleet in one update.
 */
export function checkStages(stages: unknown, stage: unknown): string[] {
  const problems: string[] = [];
  let count: number | undefined;
  if (stages === null) {
    problems.push("`stages` is null; give cumulative percentages such as [1, 10, 100], or leave it out for [100]");
  } else if (!Array.isArray(stages)) {
    problems.push(
      `\`stages\` must be an array of cumulative percentages such as [1, 10, 100], got ${describeValue(stages)}`,
    );
  } else if (stages.length === 0) {
    problems.push("`stages` must list at least one percentage, e.g. [1, 10, 100]");
  } else {
    const bad = stages.findIndex((p) => !(typeof p === "number" && p > 0 && p <= 100));
    const down = stages.findIndex((p, i) => i > 0 && (p as number) <= (stages[i - 1] as number));
    if (bad >= 0) {
      problems.push(`\`stages[${bad}]\` must be a percentage in (0, 100], got ${describeValue(stages[bad])}`);
    } else if (down > 0) {
      problems.push(
        `\`stages\` must increase (they are cumulative percentages), but stages[${down}] = ${stages[down]} follows ${stages[down - 1]}`,
      );
    } else {
      count = stages.length;
    }
  }
  const range = `a whole number from 0 to ${count ?? "the number of stages"}`;
  // With broken stages there is nothing to say about a missing `stage` yet: the fix of `stages` comes first.
  if (stage === undefined) {
    if (count !== undefined && count > 1) problems.push(stageRequired(stages as number[]));
    return problems;
  }
  if (stage === null) {
    problems.push(`\`stage\` is null; give ${range}${count === 1 ? ", or leave it out for the one stage" : ""}`);
  } else if (!(typeof stage === "number" && Number.isInteger(stage) && stage >= 0 && stage <= (count ?? Infinity))) {
    problems.push(`\`stage\` must be ${range} (how many stages are promoted), got ${describeValue(stage)}`);
  }
  return problems;
}

/** The refusal of a cohort with several stages and no `stage`, saying what to write. */
function stageRequired(stages: readonly number[]): string {
  return (
    `\`stage\` is required when \`stages\` has more than one entry ([${stages.join(", ")}]): set \`stage: 1\` to ` +
    `reset the first stage (${stages[0]}% of the fleet), and raise it in later updates`
  );
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
  readonly batches: BucketDevices[];
}

/**
 * Plans a cohort: which devices the first `stage` stages select, and their batches. The bucket count is
 * `batchCount` when given, else derived from the fleet size and `batchSize` (`defaultBatchCount`).
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
  const { buckets, of } = layoutOf(devices.length, batchSize, batchCount);
  const batches = Array.from({ length: buckets }, (_, bucket) => ({ bucket, devices: [] as FleetDevice[] }));
  for (const device of selected) (batches[of(deviceKey(device))] as { devices: FleetDevice[] }).devices.push(device);
  return { selected, stageCounts, buckets, batches };
}

/** The batches of one stage of a cohort whose stages are gated: the devices that stage adds, hashed into buckets. */
export interface StagePlan {
  /** The stage, counted from 1. */
  readonly stage: number;
  /** Whether the stage is promoted; an unpromoted stage's batches are empty (and kept, with their records). */
  readonly promoted: boolean;
  /** Number of hash buckets of this stage. */
  readonly buckets: number;
  /** The stage's promoted devices by bucket, every bucket, in bucket order. */
  readonly batches: BucketDevices[];
}

/**
 * Plans a cohort stage by stage, for a promotion gate: stage k holds the devices whose rollout position lies between
 * the cumulative percentages of stages k-1 and k, so each stage's batches can wait for the gate of that stage. The
 * bucket count of a stage is `batchCount` when given, else derived from the size of that stage's share of the fleet.
 */
export function planStages(
  devices: readonly FleetDevice[],
  stages: readonly number[],
  stage: number,
  batchSize: number,
  batchCount?: number,
): StagePlan[] {
  const members: FleetDevice[][] = stages.map(() => []);
  for (const device of devices) {
    const position = rolloutPosition(deviceKey(device));
    const k = stages.findIndex((p) => position < p);
    if (k >= 0) (members[k] as FleetDevice[]).push(device);
  }
  return members.map((list, i) => {
    const { buckets, of } = layoutOf(list.length, batchSize, batchCount);
    const promoted = i < stage;
    const batches = Array.from({ length: buckets }, (_, bucket) => ({ bucket, devices: [] as FleetDevice[] }));
    if (promoted) {
      for (const device of list) (batches[of(deviceKey(device))] as { devices: FleetDevice[] }).devices.push(device);
    }
    return { stage: i + 1, promoted, buckets, batches };
  });
}
