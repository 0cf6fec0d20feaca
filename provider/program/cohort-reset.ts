/**
 * `DeviceCohortReset` and its batches: a fleet reset in stages, each stage promoted by a reviewed change.
 */
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
  /** Target devices per batch resource (1 to 5,000), used to choose the batch count when `batchCount` is not set; default 500; a plain value. */
  readonly batchSize?: number;
  /**
   * How many batch resources the fleet is hashed into (1 to 4096); default `2^ceil(log2(devices / batchSize))`. A change of
   * the count re-forms every batch and resets its devices again: pin it when the fleet will grow. A plain value.
   */
  readonly batchCount?: number;
  /**
   * Before a newly promoted stage resets any device, wait until this share of the devices reset by earlier stages
   * of the campaign came back online, or fail the update; default: no gate. With a gate the batches are formed per
   * stage (`<name>-s<stage>-b<count>-<bucket>`), so set it when a campaign starts: turning it on or off within a
   * campaign re-forms the batches, whose devices are then recorded from the reset journal, or reset again without it.
   * A plain value.
   */
  readonly promotionGate?: PromotionGateOptions;
  /** Accept an empty `devices` list (nothing is reset); default false, since an empty fleet is usually a mistake; a plain value. */
  readonly allowEmpty?: boolean;
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
  /** How many devices have a recorded reset in this campaign, over every batch (each batch's `resetCount` summed). */
  public readonly resetCount: pulumi.Output<number>;
  /**
   * How many devices were sent a reset whose answer was lost, over every batch (each batch's `unknownOutcomes`
   * counted): they are not sent again until `iotReset:resendUnknown` or `iotReset:acceptUnknown` names them.
   */
  public readonly unknownOutcomeCount: pulumi.Output<number>;
  /** The batch resources. */
  public readonly batches: DeviceBatchReset[];
  /** The promotion gates, one per stage after the first, when `promotionGate` is set. */
  public readonly gates: DevicePromotionGate[];

  /**
   * @param name The unique name of the cohort; batches are named `<name>-b<buckets>-<bucket>`.
   * @param args The fleet, the campaign and the rollout.
   * @param opts Component resource options.
   */
  constructor(name: string, args: DeviceCohortResetArgs, opts?: pulumi.ComponentResourceOptions) {
    refusePlaintextSecrets();
    // Checked before anything is registered: the Pulumi runtime would turn some mistakes into other values.
    const { devices, stages, stage, batchSize } = validateCohort(name, args);
    super(COHORT_TYPE, name, {}, opts);
    const plan = planCohort(devices, stages, stage, batchSize, args.batchCount);
    const staged = args.promotionGate ? planStages(devices, stages, stage, batchSize, args.batchCount) : undefined;
    if (args.batchCount === undefined) {
      // Derived from the fleet size, the count changes when the fleet crosses a power of two times batchSize,
      // and a new count re-forms every batch: say so before it happens, where the operator reads the preview.
      void pulumi.log.warn(batchCountWarning(plan, staged, devices.length, batchSize), this);
    }
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
      this.batches = plan.batches.map(
        ({ bucket, devices }) =>
          new DeviceBatchReset(`${name}-b${plan.buckets}-${bucket}`, batchArgs(devices), { parent: this }),
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
            new DeviceBatchReset(`${name}-s${s.stage}-b${s.buckets}-${bucket}`, batchArgs(devices), {
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
    this.resetCount = sumOver(this.batches, (b) => b.resetCount);
    this.unknownOutcomeCount = sumOver(this.batches, (b) =>
      b.unknownOutcomes.apply((u) => Object.keys(u ?? {}).length),
    );
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

/** A count over every batch: the sum of `count` of each, a batch with no count yet as 0. */
function sumOver(batches: readonly DeviceBatchReset[], count: (b: DeviceBatchReset) => pulumi.Output<number>) {
  return pulumi.all(batches.map(count)).apply((counts) => counts.reduce((sum, n) => sum + (n ?? 0), 0));
}

/** Why the batches may re-form when `batchCount` is left out, and the count to pin. */
function batchCountWarning(
  plan: CohortPlan,
  staged: readonly StagePlan[] | undefined,
  fleetSize: number,
  batchSize: number,
): string {
  if (staged) {
    return (
      `batchCount is not set, so each stage's batch count follows its share of the fleet ` +
      `(${staged.map((s) => s.buckets).join(", ")} for stages 1..${staged.length} at batchSize ${batchSize}); a ` +
      `stage whose share crosses a power of two times batchSize re-forms its batches and resets their devices ` +
      `again. Pin \`batchCount\` to keep them.`
    );
  }
  const low = plan.buckets === 1 ? 1 : (plan.buckets / 2) * batchSize + 1;
  return (
    `batchCount is not set, so it follows the fleet size (${plan.buckets} for ${fleetSize} devices at batchSize ` +
    `${batchSize}); a fleet outside ${low}..${plan.buckets * batchSize} devices would re-form the batches ` +
    `and reset their devices again. Pin \`batchCount: ${plan.buckets}\` to keep them.`
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
