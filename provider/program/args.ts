/**
 * Arguments that several resources of the program take, each written and documented once.
 */
import type * as pulumi from "@pulumi/pulumi";

/** Where the resets go, and whether a returned device job is followed; each accepts an Output (`pulumi.Input`). */
export interface TargetArgs {
  /** The IoT instance ID; required for instances that have one, absent for the public instance. A change resets again (replace). */
  readonly iotInstanceId?: pulumi.Input<string>;
  /** The region, e.g. `cn-shanghai`; default: stack config `alicloud:region`, else `ALIBABA_CLOUD_REGION_ID`. A change (of this argument) resets again (replace). */
  readonly region?: pulumi.Input<string>;
  /** API endpoint override: `host[:port]`, `https://…`, or `http://127.0.0.1:PORT` for a local emulator (plain http only on loopback); default `iot.<region>.aliyuncs.com`. A change resets again (replace). */
  readonly endpoint?: pulumi.Input<string>;
  /** When a reset returns a JobId (a gateway with over 2,000 sub-devices), poll the job until it ends; default false. A change updates in place without any API call. */
  readonly waitForJob?: pulumi.Input<boolean>;
}

/** Every property of `T` as a Pulumi input: a value, a promise or an output of another resource. */
export type InputsOf<T> = { readonly [K in keyof T]: pulumi.Input<T[K]> };
