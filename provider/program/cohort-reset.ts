/**
 * `DeviceCohortReset` and its batches: a fleet reset in stages, each stage promoted by a reviewed change.
 */
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { COHORT_TYPE, RESOURCE_MODULE, RESOURCE_NAMES } from "../shared/type-tokens";
import { refusePlaintextSecrets } from "./plaintext-secrets";
import { batchResetHandle } from "./provider-handles";
import { InputError } from "../shared/errors";
import { ROLLOUT_KEYS, RolloutControls } from "../shared/rollout-controls";
import type { InputsOf, TargetArgs } from "./args";
import { originOf } from "./fleet-file";
import { checkStages, CohortPlan, planCohort, planStages, StagePlan } from "../shared/selection";
import { deviceKey, FleetDevice, FleetEntry } from "../shared/device-key";
import { checkBatchArgs } from "../shared/batch-args";
import { DevicePromotionGate, PromotionGateOptions } from "./promotion-gate";
import {
  CheckFailure,
  describeRule,
  describeValue,
  MIN_ONLINE_RATIO_RULE,
  numberProblem,
  UNKNOWN,
  WAIT_MINUTES_RULE,
} from "../shared/inputs";
import type { DeviceRecord, UnknownOutcomeRecord } from "../shared/records";
import { readReview, REVIEW_OUT_ENV, reviewCohort, reviewDifferences, writeReviewEntry } from "../shared/review";

/** Arguments of a `DeviceBatchReset`. */
export interface DeviceBatchResetArgs extends TargetArgs, InputsOf<RolloutControls> {
  /**
   * The devices of this batch, as `{ productKey, deviceName }` / `{ iotId }` objects or as their keys
   * (`productKey/deviceName`, `iotId:<IotId>`; a cohort passes keys, which the engine handles far faster); adding
   * devices resets only them (update), removing sends nothing.
   */
  readonly devices: pulumi.Input<FleetEntry[]>;
  /** The reset campaign; a change replaces the batch, resetting all its devices again. */
  readonly campaign: pulumi.Input<string>;
  /** The cohort's cumulative stage percentages, so that `iot-reset-plan` can count resets per stage; a change resets nothing. */
  readonly stages?: pulumi.Input<number[]>;
}

/**
 * A batch of a cohort: resets its devices concurrently under the account's shared call budget and records
 * each device's result. When some devices fail, the devices that were reset stay recorded and the next
 * update resets only the rest.
 */
export class DeviceBatchReset extends pulumi.dynamic.Resource {
  /** The campaign, as given. */
  declare public readonly campaign: pulumi.Output<string>;
  /** Each reset device's record (RequestId, time, JobId), keyed `productKey/deviceName` or `iotId:<IotId>`. */
  declare public readonly results: pulumi.Output<Record<string, DeviceRecord>>;
  /** How many devices of this batch have a recorded reset in this campaign. */
  declare public readonly resetCount: pulumi.Output<number>;
  /** Devices sent whose answer was lost, by device key: not sent again until `iotReset:resendUnknown` or `iotReset:acceptUnknown` names them. */
  declare public readonly unknownOutcomes: pulumi.Output<Record<string, UnknownOutcomeRecord> | undefined>;

  /**
   * @param name The unique name of the batch.
   * @param args The batch's devices and campaign.
   * @param opts Resource options.
   */
  constructor(name: string, args: DeviceBatchResetArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      batchResetHandle(),
      name,
      { ...args, results: undefined, resetCount: undefined, unknownOutcomes: undefined },
      opts,
      RESOURCE_MODULE,
      RESOURCE_NAMES.batch,
    );
  }
}

/**
 * Arguments of a `DeviceCohortReset`.
 *
 * Plain values, read while the program runs, since they decide which devices and batches the program declares:
 * `devices`, `stages`, `stage`, `batchSize`, `batchCount`, `promotionGate`, `allowEmpty` and the rollout controls
 * (`maxFailureRatio`, `maxResetsPerUpdate`, `abortCriteria`, `ramp`, `notBefore`, `notAfter`, `maintenanceWindows`).
 * An Output or a promise there is refused by the constructor. Accept an Output (`pulumi.Input`): `campaign`,
 * `iotInstanceId`, `region`, `endpoint` and `waitForJob`; the provider checks those once they are known.
 *
 * What the guardrails count: the update. `maxResetsPerUpdate`, `maxFailureRatio`, `abortCriteria` and `ramp` count
 * every reset sent in one `pulumi up` by the batches of every cohort of the stack together (one provider process
 * serves the update), each batch holding those shared counts against its own cohort's limits; resets of
 * `DeviceRegistrationReset` resources are not counted. `notBefore`, `notAfter` and `maintenanceWindows` count
 * nothing: each is checked against the clock before every reset.
 */
export interface DeviceCohortResetArgs extends TargetArgs, RolloutControls {
  /** The fleet: `{ productKey, deviceName }` or `{ iotId }` objects (see `loadFleet` for CSV/JSON files); a plain value. */
  readonly devices: readonly FleetDevice[];
  /** Names this reset campaign; a change resets every selected device again; accepts an Output. */
  readonly campaign: pulumi.Input<string>;
  /** Cumulative percentages of the fleet per stage, increasing, e.g. `[1, 10, 100]`; default `[100]`; a plain value. */
  readonly stages?: readonly number[];
  /**
   * How many stages are promoted, a whole number from 0 (selects nothing) to `stages.length`; required when `stages`
   * has more than one entry, else default 1; promoting only adds devices; a plain value.
   */
  readonly stage?: number;
  /**
   * Devices per batch resource (1 to 5,000) while the fleet has fewer than 32 batches' worth, beyond which the 32 batches
   * grow with the fleet; default 500; ignored when `batchCount` is set; a plain value.
   */
  readonly batchSize?: number;
  /**
   * Pins the number of batch resources (1 to 4096) and the layout of 0.1 (`<name>-b<count>-<bucket>`),
   * where a new count re-forms every batch; default: one batch per `batchSize` devices, at most 32, growing one batch at
   * a time. A plain value.
   */
  readonly batchCount?: number;
  /**
   * Before a newly promoted stage resets any device, wait until this share of the devices reset by earlier stages
   * of the campaign came back online, or fail the update; default: no gate. With a gate the batches are formed per
   * stage (`<name>-s<stage>-b<bucket>`), so set it when a campaign starts: turning it on or off within a
   * campaign re-forms the batches, whose devices are then recorded from the reset journal, or reset again without it.
   * A plain value.
   */
  readonly promotionGate?: PromotionGateOptions;
  /** Accept an empty `devices` list (nothing is reset); default false, since an empty fleet is usually a mistake; a plain value. */
  readonly allowEmpty?: boolean;
  /**
   * The review file (JSON, relative to the working directory) whose entry for this cohort names what a merge may
   * reset: the program declares nothing of the cohort, so sends nothing, when its selection differs from it. A preview
   * with `IOT_RESET_REVIEW_OUT=<file>` writes the entry instead (see docs/gitops.md); `campaign` must then be a plain
   * string. A plain value.
   */
  readonly reviewed?: string;
}

/** The default number of devices per batch resource. */
export const DEFAULT_BATCH_SIZE = 500;

/**
 * Resets a fleet in stages. Stage membership and batches follow a stable hash of each device's identity, so
 * a pull request that raises `stage` adds exactly the newly selected devices, and adding or removing other
 * devices moves no device between stages, nor between batches while the batch count stays the same.
 * Children are `DeviceBatchReset` resources, one per bucket (empty ones too, so that records of devices
 * that leave the selection are kept and a device selected again is not reset twice in one campaign).
 */
export class DeviceCohortReset extends pulumi.ComponentResource {
  /** How many devices the promoted stages select. */
  public readonly selectedCount: pulumi.Output<number>;
  /** Devices selected up to each stage (cumulative), one count per stage. */
  public readonly stageCounts: pulumi.Output<number[]>;
  /** The campaign. */
  public readonly campaign: pulumi.Output<string>;
  /** How many devices have a recorded reset in this campaign, over every batch (each device once). */
  public readonly resetCount: pulumi.Output<number>;
  /**
   * How many devices were sent a reset whose answer was lost, over every batch (each device once): they are not sent
   * again until `iotReset:resendUnknown` or `iotReset:acceptUnknown` names them.
   */
  public readonly unknownOutcomeCount: pulumi.Output<number>;
  /** The batch resources. */
  public readonly batches: DeviceBatchReset[];
  /** The promotion gates, one per stage after the first, when `promotionGate` is set. */
  public readonly gates: DevicePromotionGate[];

  /**
   * @param name The unique name of the cohort; batches are named `<name>-b<bucket>` (`<name>-s<stage>-b<bucket>` with a
   *   promotion gate), or `<name>-b<count>-<bucket>` with `batchCount`.
   * @param args The fleet, the campaign and the rollout.
   * @param opts Component resource options.
   */
  constructor(name: string, args: DeviceCohortResetArgs, opts?: pulumi.ComponentResourceOptions) {
    refusePlaintextSecrets();
    // Checked before anything is registered: the Pulumi runtime would turn some mistakes into other values.
    const { devices, stages, stage, batchSize } = validateCohort(name, args);
    const plan = planCohort(devices, stages, stage, batchSize, args.batchCount);
    // Before anything is registered: a selection that differs from the review declares nothing, so sends nothing.
    if (args.reviewed !== undefined) checkReviewed(name, args, stages, stage, plan);
    super(COHORT_TYPE, name, {}, opts);
    const staged = args.promotionGate ? planStages(devices, stages, stage, batchSize, args.batchCount) : undefined;
    // A pinned count keeps the names it always had; the default layout's names carry no count, since it grows one
    // batch at a time and a count in every name would rename every batch.
    const counted = (buckets: number) => (args.batchCount === undefined ? "" : `${buckets}-`);
    if (args.batchCount === undefined) warnWithoutJournal(this);
    const batchArgs = (devices: FleetDevice[]): DeviceBatchResetArgs => ({
      // Keys, not objects: a fraction of the engine's cost per device in every operation (see FleetEntry).
      devices: devices.map(deviceKey),
      campaign: args.campaign,
      iotInstanceId: args.iotInstanceId,
      region: args.region,
      endpoint: args.endpoint,
      waitForJob: args.waitForJob,
      stages: [...stages],
      // Passed only when set, so that a stack written before these existed sees no diff after an upgrade.
      ...rolloutArgs(args),
    });
    this.gates = [];
    if (!staged) {
      // 0.1 named a cohort of up to `batchSize` devices' one batch `<name>-b1-0`, and kept no journal: the default
      // layout's first batch takes it over (the same devices), so that such a cohort upgrades without a reset.
      const takesOver01 = (bucket: number) => bucket === 0 && args.batchCount === undefined;
      this.batches = plan.batches.map(
        ({ bucket, devices }) =>
          new DeviceBatchReset(`${name}-b${counted(plan.buckets)}${bucket}`, batchArgs(devices), {
            parent: this,
            ...(takesOver01(bucket) ? { aliases: [{ name: `${name}-b1-0` }] } : {}),
          }),
      );
    } else {
      const gate = args.promotionGate as PromotionGateOptions;
      this.batches = [];
      for (const s of staged) {
        const dependsOn: pulumi.Resource[] = [];
        if (s.stage > 1) {
          // The stage's batches depend on its gate, and the gate on every earlier batch (through their records), so
          // the engine resets nothing of this stage before the earlier devices were reset and came back.
          const stageGate = this.declareGate(name, args, gate, s);
          this.gates.push(stageGate);
          dependsOn.push(stageGate);
        }
        for (const { bucket, devices } of s.batches) {
          this.batches.push(
            new DeviceBatchReset(`${name}-s${s.stage}-b${counted(s.buckets)}${bucket}`, batchArgs(devices), {
              parent: this,
              dependsOn,
            }),
          );
        }
      }
    }
    this.selectedCount = pulumi.output(plan.selected.length);
    this.stageCounts = pulumi.output(plan.stageCounts);
    this.campaign = pulumi.output(args.campaign);
    // Failed devices have no total: a batch with a failed device fails the update and records only what succeeded.
    const totals = cohortTotals(this.batches);
    this.resetCount = totals.resetCount;
    this.unknownOutcomeCount = totals.unknownOutcomeCount;
    this.registerOutputs({
      selectedCount: this.selectedCount,
      stageCounts: this.stageCounts,
      campaign: this.campaign,
      resetCount: this.resetCount,
      unknownOutcomeCount: this.unknownOutcomeCount,
    });
  }

  /** The promotion gate of stage `s`: it reads the records of every batch declared so far (the earlier stages'). */
  private declareGate(
    name: string,
    args: DeviceCohortResetArgs,
    gate: PromotionGateOptions,
    s: StagePlan,
  ): DevicePromotionGate {
    return new DevicePromotionGate(
      `${name}-gate-s${s.stage}`,
      {
        cohort: name,
        campaign: args.campaign,
        stage: s.stage,
        promoted: s.promoted,
        minOnlineRatio: gate.minOnlineRatio,
        waitMinutes: gate.waitMinutes,
        resets: pulumi.all(this.batches.map((b) => b.results)).apply(resetTimes),
        iotInstanceId: args.iotInstanceId,
        region: args.region,
        endpoint: args.endpoint,
      },
      { parent: this },
    );
  }
}

/**
 * The cohort's totals, counted by device: a batch keeps the records of devices that left it, and a device that moved to
 * a new batch when its batch split is recorded there too.
 */
function cohortTotals(batches: readonly DeviceBatchReset[]) {
  return pulumi
    .all([pulumi.all(batches.map((b) => b.results)), pulumi.all(batches.map((b) => b.unknownOutcomes))])
    .apply(([results, unknowns]) => {
      const recorded = new Set(results.flatMap((r) => Object.keys(r ?? {})));
      // An unknown outcome decided in the device's new batch may linger in the batch it left.
      const open = new Set(unknowns.flatMap((u) => Object.keys(u ?? {})).filter((k) => !recorded.has(k)));
      return { resetCount: recorded.size, unknownOutcomeCount: open.size };
    });
}

/** Without the journal, the devices a split moves to a new batch have no record there: they would be reset again. */
function warnWithoutJournal(cohort: pulumi.Resource): void {
  if (new pulumi.Config("iotReset").get("journal") !== "off") return;
  void pulumi.log.warn(
    "iotReset:journal is off, and batchCount is not set: when the fleet grows past a batch, about half of one " +
      "batch's devices move to a new batch and are reset again. Pin `batchCount`, or keep the journal.",
    cohort,
  );
}

/**
 * The rollout controls that are set: as given (to be checked), or once checked as plain copies, so that the program
 * cannot change what the batches got.
 */
function rolloutArgs(args: DeviceCohortResetArgs, copy = true): Partial<DeviceBatchResetArgs> {
  const given = args as unknown as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const key of ROLLOUT_KEYS) {
    if (given[key] !== undefined) out[key] = copy ? (JSON.parse(JSON.stringify(given[key])) as unknown) : given[key];
  }
  return out as Partial<DeviceBatchResetArgs>;
}

/** The size of the largest batch a cohort aims at: partial results of batches up to this size were tested. */
export const MAX_BATCH_SIZE = 5000;

/** What a checked cohort goes on with: its devices (identity keys only) and the rollout, defaults applied. */
interface CheckedCohort {
  readonly devices: FleetDevice[];
  readonly stages: number[];
  readonly stage: number;
  readonly batchSize: number;
}

/** The arguments that decide what the program declares, so they must be known while it runs. */
const PLAIN_KEYS = [
  "devices",
  "stages",
  "stage",
  "batchSize",
  "batchCount",
  "promotionGate",
  "allowEmpty",
  "reviewed",
  ...ROLLOUT_KEYS,
];

/** The cohort's refusal; when a plain-value argument was given an Output or a promise, it also says what to give. */
function refusal(name: string, given: Record<string, unknown>, problems: readonly string[]): InputError {
  const listed = InputError.listing(`DeviceCohortReset "${name}"`, problems);
  const deferred = PLAIN_KEYS.filter((key) => known(given[key]) === UNKNOWN);
  if (deferred.length === 0) return listed;
  return new InputError(
    `${listed.message}\n${deferred.map((key) => `\`${key}\``).join(", ")} decide${deferred.length === 1 ? "s" : ""} which ` +
      `devices and batches the program declares, so ${deferred.length === 1 ? "it is" : "they are"} read while the ` +
      `program runs: give a plain value (from stack config, e.g. \`new pulumi.Config().requireNumber("stage")\`), ` +
      `not an Output or a promise.`,
  );
}

/** An Input that is not known yet in the program (an Output or a Promise) is checked by the provider instead. */
function known(value: unknown): unknown {
  if (pulumi.Output.isInstance(value) || value instanceof Promise) return UNKNOWN;
  return value;
}

/** `devices[3]` with the fleet file and line it came from, when `loadFleet` read it. */
function nameDevice(devices: readonly unknown[], i: number): string {
  const origin = originOf(devices[i]);
  return origin ? `devices[${i}] (${origin})` : `devices[${i}]`;
}

/**
 * Refuses a cohort that breaks a rule before any resource is declared, naming the argument (and for a device,
 * its index, and the file and line it came from), the rule and what was given.
 */
function validateCohort(name: string, args: DeviceCohortResetArgs): CheckedCohort {
  const problems: string[] = [];
  const given = (args ?? {}) as unknown as Record<string, unknown>;
  const devices = given.devices;
  const stages = given.stages === undefined ? [100] : given.stages;
  // Left out, `stage` is the one stage there is; with more stages `checkStages` refuses the cohort, since any
  // default would be a guess, and the old one (every stage) reset the whole fleet in one update.
  const stage = given.stage === undefined ? 1 : given.stage;
  const batchSize = given.batchSize === undefined ? DEFAULT_BATCH_SIZE : given.batchSize;
  if (devices === null) {
    problems.push("`devices` is null; give an array of { productKey, deviceName } or { iotId } (see loadFleet)");
  } else if (Array.isArray(devices) && devices.length === 0 && given.allowEmpty !== true) {
    problems.push(
      "`devices` is empty, so nothing would be reset; an empty fleet is usually a fleet file or a filter gone wrong: " +
        "pass `allowEmpty: true` when it is expected",
    );
  }
  if (given.allowEmpty !== undefined && typeof given.allowEmpty !== "boolean") {
    problems.push(`\`allowEmpty\` must be a boolean, got ${describeValue(given.allowEmpty)}`);
  }
  problems.push(...checkStages(stages, given.stage));
  problems.push(...checkPromotionGate(given.promotionGate));
  for (const [key, value, rule] of [
    ["batchSize", batchSize, { min: 1, max: MAX_BATCH_SIZE, integer: true }],
    ["batchCount", given.batchCount, { min: 1, max: 4096, integer: true }],
  ] as const) {
    if (value === undefined) continue;
    const problem =
      value === null
        ? `is null; give a whole number from ${rule.min} to ${rule.max}, or leave it out`
        : numberProblem(value, rule);
    if (problem) problems.push(`\`${key}\` ${problem}`);
  }
  const failures: CheckFailure[] = [];
  checkBatchArgs(
    {
      devices: devices === null ? [] : devices,
      campaign: known(given.campaign),
      iotInstanceId: known(given.iotInstanceId),
      region: known(given.region),
      endpoint: known(given.endpoint),
      waitForJob: known(given.waitForJob),
      ...rolloutArgs(given as unknown as DeviceCohortResetArgs, false),
    },
    failures,
  );
  const list = Array.isArray(devices) ? devices : [];
  const withOrigin = (text: string) => text.replace(/devices\[(\d+)\]/g, (_, i: string) => nameDevice(list, Number(i)));
  for (const f of failures) {
    const origin = /^devices\[(\d+)\]/.exec(f.property);
    const where = origin ? originOf(list[Number(origin[1])]) : undefined;
    problems.push(`\`${f.property}\`${where ? ` (${where})` : ""} ${withOrigin(f.reason)}`);
  }
  if (problems.length > 0) throw refusal(name, given, problems);
  // Only the identity keys go to the batches (a key present as `undefined` is absent, as the engine drops it).
  const clean = list.map((d) => {
    const { productKey, deviceName, iotId } = d as { productKey?: string; deviceName?: string; iotId?: string };
    return {
      ...(productKey !== undefined ? { productKey } : {}),
      ...(deviceName !== undefined ? { deviceName } : {}),
      ...(iotId !== undefined ? { iotId } : {}),
    } as FleetDevice;
  });
  return { devices: clean, stages: stages as number[], stage: stage as number, batchSize: batchSize as number };
}

/**
 * Compares the cohort's selection with its entry in the review file, and refuses the cohort when they differ; in a
 * preview with `IOT_RESET_REVIEW_OUT` set, writes the entry to that file instead (the pull request's check compares).
 */
function checkReviewed(
  name: string,
  args: DeviceCohortResetArgs,
  stages: number[],
  stage: number,
  plan: CohortPlan,
): void {
  const subject = `DeviceCohortReset "${name}"`;
  if (typeof args.reviewed !== "string" || args.reviewed === "") {
    throw new InputError(
      `${subject}: \`reviewed\` must be the path of a review file, got ${describeValue(args.reviewed)}.`,
    );
  }
  if (typeof args.campaign !== "string") {
    throw new InputError(
      `${subject}: with \`reviewed\`, \`campaign\` must be a plain string (e.g. from stack config), since the review ` +
        `names it; got ${known(args.campaign) === UNKNOWN ? "an Output or a promise" : describeValue(args.campaign)}.`,
    );
  }
  const actual = reviewCohort(args.campaign, stages, stage, plan.stageCounts, plan.selected.map(deviceKey), {
    ...plainString("iotInstanceId", args.iotInstanceId),
    ...plainString("region", args.region ?? new pulumi.Config("alicloud").get("region")),
    ...plainString("endpoint", args.endpoint),
  });
  const out = process.env[REVIEW_OUT_ENV];
  if (out) {
    // The review is written by a preview, to a file a person reads before it replaces the reviewed one: written over
    // the reviewed file itself, or during an update, it would approve whatever the program selects.
    const problem = !pulumi.runtime.isDryRun()
      ? `${REVIEW_OUT_ENV} is set during an update; it is for a preview only: unset it`
      : path.resolve(out) === path.resolve(args.reviewed)
        ? `${REVIEW_OUT_ENV} names the reviewed file itself; write the review elsewhere (e.g. out/reset-review.json) ` +
          `and copy it over ${args.reviewed} once read`
        : undefined;
    if (problem) throw new InputError(`${subject}: ${problem}. Nothing of the cohort is declared.`);
    writeReviewEntry(out, name, actual);
    return;
  }
  const reviewed = readReview(args.reviewed).cohorts[name];
  const differences = reviewed
    ? reviewDifferences(reviewed, actual)
    : [`the review file has no entry for it (${actual.selected} device(s) selected)`];
  if (differences.length === 0) return;
  throw new InputError(
    `${subject}: what it selects differs from the review in ${args.reviewed}: ${differences.join("; ")}. Nothing of ` +
      `the cohort is declared, so no reset is sent. Write the review anew with a preview ` +
      `(${REVIEW_OUT_ENV}=out/reset-review.json pulumi preview, then copy it over ${args.reviewed}), and have the ` +
      `change reviewed in a pull request.`,
  );
}

/** `{ [key]: value }` for a plain string, `{ [key]: "(an Output)" }` for a value known only later, else nothing. */
function plainString(key: string, value: unknown): Record<string, string> {
  if (typeof value === "string") return { [key]: value };
  return known(value) === UNKNOWN ? { [key]: "(an Output)" } : {};
}

/** The reset time of every device recorded by the given batches, by device key: what a promotion gate reads. */
function resetTimes(results: ReadonlyArray<Record<string, DeviceRecord> | undefined>): Record<string, string> {
  const times: Record<string, string> = {};
  for (const records of results) for (const [key, record] of Object.entries(records ?? {})) times[key] = record.resetAt;
  return times;
}

/** The rules of `promotionGate`: an object with both numbers in range. */
function checkPromotionGate(value: unknown): string[] {
  if (value === undefined) return [];
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return [
      `\`promotionGate\` must be an object such as { minOnlineRatio: 0.95, waitMinutes: 30 }, got ${describeValue(value)}`,
    ];
  }
  const gate = value as Record<string, unknown>;
  const problems: string[] = [];
  for (const [key, rule] of [
    ["minOnlineRatio", MIN_ONLINE_RATIO_RULE],
    ["waitMinutes", WAIT_MINUTES_RULE],
  ] as const) {
    const problem = gate[key] === undefined ? `is required (${describeRule(rule)})` : numberProblem(gate[key], rule);
    if (problem) problems.push(`\`promotionGate.${key}\` ${problem}`);
  }
  return problems;
}
