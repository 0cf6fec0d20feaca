/**
 * What the state records of each device: the record of a reset, the record of a reset whose outcome is unknown,
 * and which listed devices have neither. Read by the provider host, the program's output types and the plan tool.
 */
import { deviceKey, FleetDevice } from "./device-key";

/** The record of one device's reset, kept in the batch's outputs under the device key. */
export interface DeviceRecord {
  /** RequestId of the ResetThing call; absent when an unknown outcome was accepted as a reset. */
  readonly requestId?: string;
  /** ISO-8601 time the reset was sent. */
  readonly resetAt: string;
  /** The device job, when the API returned one. */
  readonly jobId?: string;
  /** The job's final status, when `waitForJob` followed it. */
  readonly jobStatus?: string;
  /** Sent once more after an unknown outcome (`iotReset:resendUnknown`): IoT Platform may have reset it twice. */
  readonly mayBeResetTwice?: boolean;
  /** An unknown outcome the operator accepted as a reset (`iotReset:acceptUnknown`); no answer was ever received. */
  readonly acceptedUnknown?: boolean;
}

/**
 * A reset that was sent and got no usable answer: IoT Platform may or may not have reset the device. Kept in the
 * resource's outputs until the operator accepts it or has it sent once more.
 */
export interface UnknownOutcomeRecord {
  /** When the attempt whose answer was lost was sent, ISO-8601. */
  readonly sentAt: string;
  /** Which attempt of the call that was, counted from 1. */
  readonly attempt: number;
  /** What came instead of an answer (a read timeout, a reset connection, a page that is not JSON, …). */
  readonly error: string;
  /** True when this was a resend the operator asked for (`iotReset:resendUnknown`). */
  readonly resent?: boolean;
  /** How many resends the operator has had sent; the next one is named `<key>#<resends + 1>`. */
  readonly resends?: number;
}

/** How many resends a record counts: `resends`, or one where only `resent` is set (as 0.1 recorded it). */
export function resendsOf(record: { readonly resent?: boolean; readonly resends?: number }): number {
  return record.resends ?? (record.resent ? 1 : 0);
}

/** The marks of a record whose latest send was resend `n` (nothing when `n` is 0, a first send). */
export function resendMarks(n: number): { resent?: true; resends?: number } {
  return n > 0 ? { resent: true, resends: n } : {};
}

const has = (record: Record<string, unknown>, key: string): boolean =>
  Object.prototype.hasOwnProperty.call(record, key);

/**
 * The devices of a batch without a recorded reset: what an update settles. Devices with an unknown outcome are among
 * them unless `unknownOutcomes` is given, in which case they are left out (what `iot-reset-plan` lists as resets).
 */
export function pendingDevices(
  newDevices: readonly FleetDevice[],
  oldResults: Record<string, unknown>,
  unknownOutcomes: Record<string, unknown> = {},
): FleetDevice[] {
  return newDevices.filter((d) => !has(oldResults, deviceKey(d)) && !has(unknownOutcomes, deviceKey(d)));
}

/** The listed devices whose reset has an unknown outcome in the recorded outputs (`iot-reset-plan` lists them). */
export function unknownOutcomeDevices(
  newDevices: readonly FleetDevice[],
  oldResults: Record<string, unknown>,
  unknownOutcomes: Record<string, unknown>,
): FleetDevice[] {
  return newDevices.filter((d) => !has(oldResults, deviceKey(d)) && has(unknownOutcomes, deviceKey(d)));
}
