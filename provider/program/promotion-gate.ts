/**
 * `DevicePromotionGate`: what a staged cohort checks before a newly promoted stage resets any device — that the
 * devices reset by the earlier stages of the campaign came back online, that is, ran dynamic registration again
 * and reconnected.
 */
import * as pulumi from "@pulumi/pulumi";
import { RESOURCE_MODULE, RESOURCE_NAMES } from "../shared/type-tokens";
import { promotionGateHandle } from "./provider-handles";

/** When a newly promoted stage of a `DeviceCohortReset` may start. */
export interface PromotionGateOptions {
  /** The share (0 to 1) of the devices reset by earlier stages of the campaign that must have come back online since their reset. */
  readonly minOnlineRatio: number;
  /** How long to wait for them, in minutes (0 to 1,440, fractions allowed); the devices are read again every `iotReset:gatePollSeconds` until then. */
  readonly waitMinutes: number;
}

/** Arguments of a `DevicePromotionGate`; a cohort with `promotionGate` declares one per stage after the first. */
export interface DevicePromotionGateArgs extends PromotionGateOptions {
  /** The cohort's name, for messages. */
  readonly cohort: string;
  /** The reset campaign; a change replaces the gate, which then checks again. */
  readonly campaign: pulumi.Input<string>;
  /** The stage this gate opens, counted from 1 (so at least 2). */
  readonly stage: number;
  /** Whether the stage is promoted; the gate checks when it becomes so, and forgets its opening when it stops being so. */
  readonly promoted: boolean;
  /** The devices reset by earlier stages: device key (`productKey/deviceName` or `iotId:<IotId>`) to the ISO-8601 time of its reset. */
  readonly resets: pulumi.Input<Record<string, string>>;
  /** The IoT instance ID of the cohort; absent for the public instance. */
  readonly iotInstanceId?: pulumi.Input<string>;
  /** The region; default stack config `alicloud:region`, else `ALIBABA_CLOUD_REGION_ID`. */
  readonly region?: pulumi.Input<string>;
  /** API endpoint override, as for `DeviceRegistrationReset`. */
  readonly endpoint?: pulumi.Input<string>;
}

/**
 * The gate of one stage of a cohort. The stage's batches depend on it, so the engine resets none of their devices
 * before the gate opened: it reads the state of the earlier stages' devices (BatchGetDeviceState, 50 devices per
 * call, paced under its 50 QPS quota) until enough of them have been seen ONLINE with a status change after their
 * reset, or fails the update once `waitMinutes` have passed. An open gate stays open for its campaign.
 */
export class DevicePromotionGate extends pulumi.dynamic.Resource {
  /** Whether the gate opened (false while the stage is not promoted). */
  declare public readonly passed: pulumi.Output<boolean>;
  /** How many devices reset by earlier stages were checked when the gate opened. */
  declare public readonly checkedCount: pulumi.Output<number | undefined>;
  /** How many of them were seen back online when the gate opened. */
  declare public readonly onlineCount: pulumi.Output<number | undefined>;
  /** ISO-8601 time the gate opened. */
  declare public readonly openedAt: pulumi.Output<string | undefined>;

  /**
   * @param name The unique name of the gate.
   * @param args The stage, its campaign and the rule.
   * @param opts Resource options.
   */
  constructor(name: string, args: DevicePromotionGateArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      promotionGateHandle(),
      name,
      { ...args, passed: undefined, checkedCount: undefined, onlineCount: undefined, openedAt: undefined },
      opts,
      RESOURCE_MODULE,
      RESOURCE_NAMES.gate,
    );
  }
}
