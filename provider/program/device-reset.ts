/**
 * `DeviceRegistrationReset`: one device's dynamic-registration reset as a Pulumi resource.
 */
import * as pulumi from "@pulumi/pulumi";
import { RESOURCE_MODULE, RESOURCE_NAMES } from "../shared/type-tokens";
import { InputError } from "../shared/errors";
import { deviceResetHandle } from "./provider-handles";
import { refusePlaintextSecrets } from "./plaintext-secrets";
import { CheckFailure, checkJson, childPath, describeValue, DEVICE_ARGUMENTS, isJsonValue } from "../shared/inputs";
import type { UnknownOutcomeRecord } from "../shared/records";
import type { TargetArgs } from "./args";

/**
 * Arguments of a `DeviceRegistrationReset`. Give either `iotId` or both `productKey` and `deviceName`.
 *
 * Every argument accepts an Output (`pulumi.Input`): a value known while the program runs is checked by the
 * constructor, one known later by the provider before anything is sent. The guardrails of a cohort
 * (`maxResetsPerUpdate`, `maxFailureRatio`, abort criteria, ramp, windows) do not apply to this resource and do not
 * count its reset.
 */
export interface DeviceRegistrationResetArgs extends TargetArgs {
  /** The device's ProductKey, given with `deviceName`; a change resets the new device (replace). */
  readonly productKey?: pulumi.Input<string>;
  /** The device's DeviceName (4–32 letters, digits and `-_@.:`), given with `productKey`; a change replaces. */
  readonly deviceName?: pulumi.Input<string>;
  /** The device's IotId, instead of the pair; when both are given the API uses the IotId. A change replaces. */
  readonly iotId?: pulumi.Input<string>;
  /** Plain JSON values (at most 16 KiB as JSON); a change to any of them resets the device again (replace). Default: none. */
  readonly triggers?: pulumi.Input<unknown[] | Record<string, unknown>>;
}

/**
 * Resets the dynamic-registration status of one device so that it can register again and get fresh
 * credentials; on a gateway it also removes the topology. Created or replaced: one `ResetThing`. Updated,
 * refreshed or deleted: no reset (a reset cannot be undone). Preview never sends anything.
 */
export class DeviceRegistrationReset extends pulumi.dynamic.Resource {
  /** The ProductKey as given. */
  declare public readonly productKey: pulumi.Output<string | undefined>;
  /** The DeviceName as given. */
  declare public readonly deviceName: pulumi.Output<string | undefined>;
  /** The IotId as given. */
  declare public readonly iotId: pulumi.Output<string | undefined>;
  /** The instance ID as given. */
  declare public readonly iotInstanceId: pulumi.Output<string | undefined>;
  /** The region as given (absent when it came from config or the environment). */
  declare public readonly region: pulumi.Output<string | undefined>;
  /** The endpoint as given. */
  declare public readonly endpoint: pulumi.Output<string | undefined>;
  /** The triggers as given. */
  declare public readonly triggers: pulumi.Output<unknown[] | Record<string, unknown> | undefined>;
  /** Whether a returned job is followed to its end. */
  declare public readonly waitForJob: pulumi.Output<boolean | undefined>;
  /** True once IoT Platform accepted the reset. */
  declare public readonly success: pulumi.Output<boolean>;
  /** The RequestId of the ResetThing call, for audits and Alibaba Cloud support. */
  declare public readonly requestId: pulumi.Output<string>;
  /** The device job that removes a large gateway's topology; only present when the API returned one. */
  declare public readonly jobId: pulumi.Output<string | undefined>;
  /** When the reset was sent, as an ISO-8601 UTC time. */
  declare public readonly resetAt: pulumi.Output<string>;
  /** The job's final status (e.g. `COMPLETED`) when `waitForJob` followed it. */
  declare public readonly jobStatus: pulumi.Output<string | undefined>;
  /** Present when the reset was sent and its answer lost: not sent again until `iotReset:resendUnknown` or `iotReset:acceptUnknown` names the device. */
  declare public readonly unknownOutcome: pulumi.Output<UnknownOutcomeRecord | undefined>;
  /** True when the device was sent once more after an unknown outcome, so IoT Platform may have reset it twice. */
  declare public readonly mayBeResetTwice: pulumi.Output<boolean | undefined>;
  /** True when an unknown outcome was accepted as a reset (`iotReset:acceptUnknown`); there is then no RequestId. */
  declare public readonly acceptedUnknown: pulumi.Output<boolean | undefined>;

  /**
   * @param name The unique name of the resource.
   * @param args The device and how to reach it.
   * @param opts Resource options.
   */
  constructor(name: string, args: DeviceRegistrationResetArgs, opts?: pulumi.CustomResourceOptions) {
    refusePlaintextSecrets();
    // Checked before the runtime serializes the args, which would turn a Date into {} and NaN into null.
    const triggers = checkProgramArgs(name, args);
    super(
      deviceResetHandle(),
      name,
      {
        ...args,
        triggers,
        success: undefined,
        requestId: undefined,
        jobId: undefined,
        resetAt: undefined,
        jobStatus: undefined,
        unknownOutcome: undefined,
        mayBeResetTwice: undefined,
        acceptedUnknown: undefined,
      },
      opts,
      RESOURCE_MODULE,
      RESOURCE_NAMES.device,
    );
    // The API resets by IotId when both identities are given; say so where the operator looks.
    pulumi.all([args.iotId, args.productKey, args.deviceName]).apply(([iotId, productKey, deviceName]) => {
      if (iotId && (productKey || deviceName)) {
        void pulumi.log.warn(
          `both iotId and productKey/deviceName are set; IoT Platform resets the device with IotId "${iotId}" and ignores the pair.`,
          this,
        );
      }
    });
  }
}

const ARGUMENTS = [...DEVICE_ARGUMENTS.replace, ...DEVICE_ARGUMENTS.update];

/** An Input whose value comes later: checked when it resolves (here for triggers, by the provider for the rest). */
function isDeferred(value: unknown): value is pulumi.Output<unknown> | Promise<unknown> {
  return pulumi.Output.isInstance(value) || value instanceof Promise;
}

function refuse(name: string, failures: readonly CheckFailure[]): never {
  const problems = failures.map((f) => `\`${f.property}\` ${f.reason}`);
  throw InputError.listing(`DeviceRegistrationReset "${name}"`, problems);
}

/**
 * @internal
 * Refuses what the runtime's serialization would silently change: arguments that are not JSON (a function, NaN,
 * a Date), triggers that are not plain JSON (naming the path, e.g. `triggers[0]`) or too large, and unknown
 * argument names. Rules that survive serialization are the provider's `check`. Returns the triggers to register:
 * as given, with each Output or Promise inside checked once it resolves.
 */
export function checkProgramArgs(name: string, args: DeviceRegistrationResetArgs): unknown {
  const given = (args ?? {}) as Record<string, unknown>;
  const failures: CheckFailure[] = [];
  for (const key of Object.keys(given)) {
    if (!(ARGUMENTS as readonly string[]).includes(key)) {
      failures.push({
        property: key,
        reason: `is not an argument of DeviceRegistrationReset; the arguments are ${ARGUMENTS.join(", ")}`,
      });
    }
  }
  for (const key of ARGUMENTS) {
    const value = given[key];
    if (key === "triggers" || value === undefined || isDeferred(value) || isJsonValue(value)) continue;
    const rule = key === "waitForJob" ? "must be a boolean" : "must be a non-empty string";
    failures.push({ property: key, reason: `${rule}, got ${describeValue(value)}` });
  }
  checkJson(given.triggers, "triggers", failures, (v) => isDeferred(v));
  if (failures.length > 0) refuse(name, failures);
  return deferTriggerChecks(name, given.triggers, "triggers");
}

/** The value with every Output or Promise inside replaced by one whose resolved value is checked first. */
function deferTriggerChecks(name: string, value: unknown, path: string): unknown {
  const check = (resolved: unknown) => {
    const failures: CheckFailure[] = [];
    checkJson(resolved, path, failures, (v) => isDeferred(v));
    if (failures.length > 0) refuse(name, failures);
    return deferTriggerChecks(name, resolved, path);
  };
  if (pulumi.Output.isInstance(value)) return value.apply(check);
  if (value instanceof Promise) return value.then(check);
  if (value === null || typeof value !== "object") return value;
  let changed = false;
  const copy = (v: unknown, at: string) => {
    const out = deferTriggerChecks(name, v, at);
    if (out !== v) changed = true;
    return out;
  };
  const result = Array.isArray(value)
    ? value.map((v, i) => copy(v, `${path}[${i}]`))
    : Object.fromEntries(Object.entries(value).map(([k, v]) => [k, copy(v, childPath(path, k))]));
  return changed ? result : value;
}
