/**
 * Every failure a user can see, one class per kind. Messages name the device or input, the API Code and
 * the RequestId, and say what to do next.
 */

/**
 * The base of every error the package raises, so that a program or a pipeline can tell them from other failures
 * (`err instanceof IotResetError`); each kind of failure is a subclass named for it.
 */
export class IotResetError extends Error {
  constructor(message?: string) {
    super(message);
    // Each subclass is named for itself (`err.name === "JournalError"`), without repeating its name as a string.
    this.name = new.target.name;
  }
}

/**
 * The compile-time check of a switch over a closed union: a member left out makes `value` not `never`, and the build
 * fails. At run time it is reached only by a value the types ruled out.
 */
export function assertNever(value: never, what: string): never {
  throw new IotResetError(`unhandled ${what}: ${JSON.stringify(value)}`);
}

/** Identifies the device an error is about, as the user declared it. */
export interface DeviceRef {
  /** The device's ProductKey, when it was named by the pair. */
  readonly productKey?: string;
  /** The device's DeviceName, when it was named by the pair. */
  readonly deviceName?: string;
  /** The device's IotId, when it was named by it. */
  readonly iotId?: string;
  /** The IoT instance of the device; absent for the public instance. */
  readonly iotInstanceId?: string;
}

/** Renders a device the way a user wrote it: `a1Demo/sensor-001`, or its IotId, plus the instance. */
export function describeDevice(device: DeviceRef): string {
  const who = device.iotId
    ? `device with IotId "${device.iotId}"`
    : `device "${device.productKey}/${device.deviceName}"`;
  return device.iotInstanceId ? `${who} in instance "${device.iotInstanceId}"` : who;
}

/** What to do about the API codes an operator is most likely to meet. */
const ADVICE: ReadonlyArray<[RegExp, string]> = [
  [
    /NotExistedDevice|InvalidIoTId|DeviceNotExist/i,
    "Check productKey/deviceName or iotId, and pass iotInstanceId for an instance that has an ID.",
  ],
  [/InstanceNotFound/i, "Check iotInstanceId and region: the instance must exist in the region the call is sent to."],
  [/InvalidFormattedParameter|InvalidParameter|MissingParameter/i, "Check the device identity arguments."],
  [
    /InvalidAccessKeyId|SignatureDoesNotMatch|IncompleteSignature|InvalidSecurityToken/i,
    "Check the Alibaba Cloud credentials (alicloud:accessKey / alicloud:secretKey, or the credential chain).",
  ],
  [
    /Forbidden|NoPermission|NotAuthorized/i,
    "Grant the RAM identity iot:ResetThing, iot:QueryJob and (for promotion gates) iot:BatchGetDeviceState on this instance.",
  ],
  [/Throttling/i, "The account's IoT quota was exhausted; run again later or lower iotReset:resetQps."],
];

/** What to do about an API Code, in one sentence. */
export function adviceFor(code: string | undefined): string {
  if (code) {
    for (const [pattern, advice] of ADVICE) {
      if (pattern.test(code)) return advice;
    }
  }
  return "See the IoT Platform error code reference for this code.";
}

/** An IoT Platform API call that answered with a failure: `Success: false`, or a gateway error. */
export class IotApiError extends IotResetError {
  constructor(
    /** The API action, e.g. `ResetThing`. */
    readonly action: string,
    /** The device the call was about. */
    readonly device: DeviceRef,
    /** The API's error Code, e.g. `iot.device.NotExistedDevice`. */
    readonly code: string,
    /** The API's message, as sent. */
    readonly apiMessage: string,
    /** The RequestId of the failed call, for Alibaba Cloud support. */
    readonly requestId: string | undefined,
    /** The HTTP status when the failure came from the gateway (4xx/5xx). */
    readonly httpStatus?: number,
  ) {
    super(
      `${action} failed for ${describeDevice(device)}: ${code}: ${apiMessage} ` +
        `(RequestId: ${requestId ?? "none"}). ${adviceFor(code)}`,
    );
  }
}

/** A call that kept failing with retryable errors until the retry budget ran out. */
export class RetriesExhaustedError extends IotResetError {
  constructor(
    /** The API action, e.g. `ResetThing`. */
    readonly action: string,
    /** The device the call was for. */
    readonly device: DeviceRef,
    /** How many attempts were made, the first included. */
    readonly attempts: number,
    /** How long the attempts took, in ms. */
    readonly elapsedMs: number,
    /** The last retryable failure, as a one-line description with its Code and RequestId. */
    readonly lastFailure: string,
  ) {
    super(
      `${action} for ${describeDevice(device)} did not succeed after ${attempts} attempts over ` +
        `${(elapsedMs / 1000).toFixed(1)} s (throttling, connection failures before sending and 5xx answers are ` +
        `retried with backoff); last failure: ${lastFailure}. Every attempt was refused or answered with an error, ` +
        `so the device was not reset and nothing is recorded: run the update again once the service recovers.`,
    );
  }
}

/**
 * A ResetThing that was written and got no usable answer (read timeout, connection reset or closed after
 * sending, a page that is not JSON): IoT Platform may or may not have reset the device. It is never resent
 * silently; the operator decides (see `unknownOutcomeAdvice`).
 */
export class UnknownOutcomeError extends IotResetError {
  constructor(
    /** The API action, e.g. `ResetThing`. */
    readonly action: string,
    /** The device the call was for. */
    readonly device: DeviceRef,
    /** The attempt whose answer was lost, counted from 1. */
    readonly attempt: number,
    /** ISO-8601 time the attempt was sent. */
    readonly sentAt: string,
    /** What came instead of an answer. */
    readonly failure: string,
  ) {
    super(
      `${action} for ${describeDevice(device)} has an unknown outcome: attempt ${attempt}, sent at ${sentAt}, got no ` +
        `answer (${failure}). IoT Platform may have reset the device, so it is not sent again.`,
    );
  }
}

/** The provider was told to stop sending (the engine is gone, or the update was cancelled): nothing was sent. */
export class SendingStoppedError extends IotResetError {}

/**
 * The reset journal cannot be used: corrupt, written for another project or stack, in use by another process, or
 * not writable. Raised before any reset is sent.
 */
export class JournalError extends IotResetError {}

/**
 * Arguments that break a rule, refused in the program by a resource's constructor, before the Pulumi runtime
 * serializes them (which would turn a Date into `{}` or NaN into `null`) and before anything is registered; or a
 * recorded input the provider cannot read (a device key that is not one).
 */
export class InputError extends IotResetError {
  /** The refusal of a resource's arguments, listing up to 20 of its problems (`subject` names the resource). */
  static listing(subject: string, problems: readonly string[]): InputError {
    const shown = problems.slice(0, 20);
    if (problems.length > 20) shown.push(`… and ${problems.length - 20} more`);
    return new InputError(
      shown.length === 1
        ? `${subject}: ${shown[0]}.`
        : `${subject} has ${problems.length} problems:\n  ${shown.join("\n  ")}`,
    );
  }
}

/** Settings or credentials that are missing or unusable; raised before any call is sent. */
export class ConfigurationError extends IotResetError {}

/** A reset refused by a guardrail (`maxResetsPerUpdate`, `maxFailureRatio`) before any call was sent. */
export class GuardrailError extends IotResetError {}

/**
 * The reset was sent and recorded, but what followed failed (a device job that failed or timed out, or
 * some devices of a batch). The dynamic-provider host turns an error with `id` and `properties` into
 * Pulumi's "created but failed to initialize", so the engine keeps what was done in state.
 */
export class PartialResetError extends IotResetError {
  constructor(
    message: string,
    /** The resource ID to record. */
    readonly id: string,
    /** The outputs to record, including what did succeed. */
    readonly properties: Record<string, unknown>,
    /** One line per failure, shown by the engine. */
    readonly reasons: string[],
  ) {
    super(message);
  }
}

/**
 * A promotion gate that did not open: too few of the devices reset by earlier stages came back online within the
 * wait. Raised before any device of the newly promoted stage is reset.
 */
export class PromotionGateError extends IotResetError {}

/** A call that failed before any response and is not safe or useful to retry (a malformed request, a client fault). */
export class RequestFailedError extends IotResetError {}
