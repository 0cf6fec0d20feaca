/**
 * `DeviceCohortReset` and its batches: a fleet reset in stages, each stage promoted by a reviewed change.
 */
import * as pulumi from "@pulumi/pulumi";
import { batchResetHandle } from "./handle";
import { DeviceRecord } from "./batch";
import type { UnknownOutcomeRecord } from "./outcomes";
import { checkStages, deviceKey, FleetDevice, planCohort } from "./selection";
import { CheckFailure, checkIdentity } from "./inputs";

/** Arguments of a `DeviceBatchReset`. */
export interface DeviceBatchResetArgs {
  /** The devices of this batch; adding devices resets only them (update), removing sends nothing. */
  readonly devices: pulumi.Input<FleetDevice[]>;
  /** The reset campaign; a change replaces the batch, resetting all its devices again. */
  readonly campaign: pulumi.Input<string>;
  /** The IoT instance ID; absent for the public instance. A change replaces. */
  readonly iotInstanceId?: pulumi.Input<string>;
  /** The region; default stack config `alicloud:region`, else `ALIBABA_CLOUD_REGION_ID`. A change replaces. */
  readonly region?: pulumi.Input<string>;
  /** API endpoint override, as for `DeviceRegistrationReset`. A change replaces. */
  readonly endpoint?: pulumi.Input<string>;
  /** Follow device jobs (gateways with over 2,000 sub-devices) to their end; default false. */
  readonly waitForJob?: pulumi.Input<boolean>;
  /** Abort the update's remaining resets once more than this share of them failed (after 20 tries); default: no limit. */
  readonly maxFailureRatio?: pulumi.Input<number>;
  /** At most this many resets in one update, counted across all batches of the provider process; default: no cap. */
  readonly maxResetsPerUpdate?: pulumi.Input<number>;
}

/**
 * A batch of a cohort: resets its devices concurrently under the account's shared call budget and records
 * each device's result. When some devices fail, the devices that were reset stay recorded and the next
 * update resets only the rest.
 */
export class DeviceBatchReset extends pulumi.dynamic.Resource {
  /** The devices of this batch, as given. */
  declare public readonly devices: pulumi.Output<FleetDevice[]>;
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
      "iot",
      "DeviceBatchReset",
    );
  }
}

/** Arguments of a `DeviceCohortReset`. */
export interface DeviceCohortResetArgs {
  /** The fleet: `{ productKey, deviceName }` or `{ iotId }` objects (see `loadFleet` for CSV/JSON files). */
  readonly devices: readonly FleetDevice[];
  /** Names this reset campaign; a change resets every selected device again. */
  readonly campaign: pulumi.Input<string>;
  /** Cumulative percentages of the fleet per stage, increasing, e.g. `[1, 10, 100]`; default `[100]`. */
  readonly stages?: readonly number[];
  /** How many stages are promoted (1-based; 0 selects nothing); default all. Promoting only adds devices. */
  readonly stage?: number;
  /** Target devices per batch resource, used to choose the batch count when `batchCount` is not set; default 500. */
  readonly batchSize?: number;
  /**
   * How many batch resources the fleet is hashed into; default `2^ceil(log2(devices / batchSize))`. A change of
   * the count re-forms every batch and resets its devices again: pin it when the fleet will grow.
   */
  readonly batchCount?: number;
  /** Abort the update's remaining resets once more than this share of them failed (after 20 finished); counted per provider process, that is across every cohort of the update; default: no limit. */
  readonly maxFailureRatio?: number;
  /** At most this many resets in one update, counted per provider process (every cohort of the update); default: no cap. */
  readonly maxResetsPerUpdate?: number;
  /** The IoT instance ID of the whole fleet; absent for the public instance. A change resets every selected device. */
  readonly iotInstanceId?: pulumi.Input<string>;
  /** The region; default stack config `alicloud:region`, else `ALIBABA_CLOUD_REGION_ID`. A change (of this arg) resets every selected device. */
  readonly region?: pulumi.Input<string>;
  /** API endpoint override, as for `DeviceRegistrationReset`. A change resets every selected device. */
  readonly endpoint?: pulumi.Input<string>;
  /** Follow device jobs (gateways with over 2,000 sub-devices) to their end; default false. */
  readonly waitForJob?: pulumi.Input<boolean>;
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
  /** The batch resources. */
  public readonly batches: DeviceBatchReset[];

  /**
   * @param name The unique name of the cohort; batches are named `<name>-b<buckets>-<bucket>`.
   * @param args The fleet, the campaign and the rollout.
   * @param opts Component resource options.
   */
  constructor(name: string, args: DeviceCohortResetArgs, opts?: pulumi.ComponentResourceOptions) {
    super("iot-reset:index:DeviceCohortReset", name, {}, opts);
    const stages = args.stages ?? [100];
    const stage = args.stage ?? stages.length;
    const batchSize = args.batchSize ?? DEFAULT_BATCH_SIZE;
    validateCohort(name, args.devices, stages, stage, batchSize, args.batchCount);
    const plan = planCohort(args.devices, stages, stage, batchSize, args.batchCount);
    if (args.batchCount === undefined) {
      // Derived from the fleet size, the count changes when the fleet crosses a power of two times batchSize,
      // and a new count re-forms every batch: say so before it happens, where the operator reads the preview.
      void pulumi.log.warn(
        `batchCount is not set, so it follows the fleet size (${plan.buckets} for ${args.devices.length} devices at batchSize ` +
          `${batchSize}); a fleet outside ${plan.buckets === 1 ? 1 : (plan.buckets / 2) * batchSize + 1}..${plan.buckets * batchSize} devices would re-form the batches ` +
          `and reset their devices again. Pin \`batchCount: ${plan.buckets}\` to keep them.`,
        this,
      );
    }
    this.batches = plan.batches.map(
      ({ bucket, devices }) =>
        new DeviceBatchReset(
          `${name}-b${plan.buckets}-${bucket}`,
          {
            devices: devices.map((d) => ({ ...d })),
            campaign: args.campaign,
            iotInstanceId: args.iotInstanceId,
            region: args.region,
            endpoint: args.endpoint,
            waitForJob: args.waitForJob,
            maxFailureRatio: args.maxFailureRatio,
            maxResetsPerUpdate: args.maxResetsPerUpdate,
          },
          { parent: this },
        ),
    );
    this.selectedCount = pulumi.output(plan.selected.length);
    this.stageCounts = pulumi.output(plan.stageCounts);
    this.campaign = pulumi.output(args.campaign);
    this.registerOutputs({ selectedCount: this.selectedCount, stageCounts: this.stageCounts, campaign: this.campaign });
  }
}

/** Refuses a cohort that breaks a rule before any resource is declared, naming the argument. */
function validateCohort(
  name: string,
  devices: readonly FleetDevice[],
  stages: readonly number[],
  stage: number,
  batchSize: number,
  batchCount: number | undefined,
): void {
  const problems: string[] = [];
  if (!Array.isArray(devices)) problems.push("`devices` must be an array of { productKey, deviceName } or { iotId }");
  const stageProblem = checkStages(stages, stage);
  if (stageProblem) problems.push(stageProblem);
  if (!Number.isInteger(batchSize) || batchSize < 1)
    problems.push(`\`batchSize\` is ${batchSize}; it must be a whole number, 1 or more`);
  if (batchCount !== undefined && !(Number.isInteger(batchCount) && batchCount >= 1 && batchCount <= 4096)) {
    problems.push(`\`batchCount\` is ${batchCount}; it must be a whole number from 1 to 4096`);
  }
  if (Array.isArray(devices)) {
    const seen = new Map<string, number>();
    devices.forEach((d, i) => {
      const failures: CheckFailure[] = [];
      checkIdentity((d ?? {}) as Record<string, unknown>, `devices[${i}].`, failures);
      problems.push(...failures.map((f) => `\`${f.property}\`: ${f.reason}`));
      if (failures.length > 0) return;
      const key = deviceKey(d);
      const first = seen.get(key);
      if (first !== undefined) problems.push(`\`devices[${i}]\` repeats device ${key} (devices[${first}])`);
      else seen.set(key, i);
    });
  }
  if (problems.length > 0) {
    const shown = problems.slice(0, 20);
    if (problems.length > 20) shown.push(`… and ${problems.length - 20} more`);
    throw new Error(`DeviceCohortReset "${name}": ${shown.join("; ")}.`);
  }
}
