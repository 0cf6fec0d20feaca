/**
 * The device key, the one text that names a device everywhere the provider stores or compares devices: a batch's
 * `devices` as a cohort passes them, the keys of `results` and `unknownOutcomes`, the reset journal, the settings
 * that name devices (`iotReset:acceptUnknown`), the promotion gate's watch list and `iot-reset-plan`'s output.
 * `productKey/deviceName`, or `iotId:<IotId>` when the device is named by its IotId (which the API prefers).
 * Every reader and writer of keys goes through this module.
 */
import { InputError } from "./errors";
import { describeValue, isUnknown } from "./inputs";

/** What starts the key of a device named by its IotId. */
const IOT_ID_PREFIX = "iotId:";

/** One device of a fleet: a ProductKey+DeviceName pair, or an IotId. */
export type FleetDevice =
  | {
      /** The device's ProductKey. */
      readonly productKey: string;
      /** The device's DeviceName. */
      readonly deviceName: string;
    }
  | {
      /** The device's IotId. */
      readonly iotId: string;
    };

/**
 * A device as a batch lists it: the object, or its key (`deviceKey`), which is what a cohort passes: the engine
 * converts every input to protobuf Struct values several times per operation (the program's registration, Check's
 * old and new inputs and its answer, Diff), and one string per device converts about 50 times faster than an object.
 */
export type FleetEntry = FleetDevice | string;

/** The device of a fleet entry (a key is parsed; an object is returned as it is). */
export function fleetDevice(entry: FleetEntry): FleetDevice {
  if (typeof entry !== "string") return entry;
  const device = parseDeviceKey(entry);
  if (!device)
    throw new InputError(`${describeValue(entry)} is not a device key (productKey/deviceName or iotId:<IotId>)`);
  return device;
}

/**
 * A stable text key of a device: `productKey/deviceName`, or `iotId:<IotId>` when it has an IotId (which the API
 * prefers over the pair). A key present with the value `undefined` counts as absent, as the engine drops it.
 */
export function deviceKey(device: FleetEntry): string {
  return typeof device === "string" ? device : formatDeviceKey(device);
}

/**
 * The device a key names (`productKey/deviceName`, or `iotId:<IotId>`, as `deviceKey` writes it), or undefined when
 * the text is neither. Unambiguous: a ProductKey has no `:` or `/`, and a DeviceName no `/`.
 */
export function parseDeviceKey(key: string): FleetDevice | undefined {
  if (key.startsWith(IOT_ID_PREFIX)) return { iotId: key.slice(IOT_ID_PREFIX.length) };
  const slash = key.indexOf("/");
  return slash < 0 ? undefined : { productKey: key.slice(0, slash), deviceName: key.slice(slash + 1) };
}

/**
 * The key of a device: `iotId:<IotId>` when it has an IotId (the API uses the IotId then), else
 * `productKey/deviceName`. `parseDeviceKey` reads it back.
 */
export function formatDeviceKey(device: { productKey?: string; deviceName?: string; iotId?: string }): string {
  return identityForm(device) === "iotId"
    ? `${IOT_ID_PREFIX}${device.iotId}`
    : `${device.productKey}/${device.deviceName}`;
}

/** How a fleet entry names its device: by IotId (which the API prefers when both are given) or by the pair. */
export function identityForm(device: object | string): "iotId" | "pair" {
  if (typeof device === "string") return device.startsWith(IOT_ID_PREFIX) ? "iotId" : "pair";
  return (device as { iotId?: unknown }).iotId !== undefined ? "iotId" : "pair";
}

/**
 * Where a fleet mixes the two identity forms: the first device of each, or undefined when it does not. IoT
 * Platform cannot tell that an IotId and a pair name the same device, so a mixed fleet could list one device
 * twice, and it would be reset twice.
 */
export function mixedForms(devices: readonly unknown[]): { pair: number; iotId: number } | undefined {
  let pair = -1;
  let iotId = -1;
  devices.forEach((d, i) => {
    if (d === null || (typeof d !== "object" && typeof d !== "string") || isUnknown(d)) return;
    const form = identityForm(d);
    if (form === "pair" && pair < 0) pair = i;
    if (form === "iotId" && iotId < 0) iotId = i;
  });
  return pair >= 0 && iotId >= 0 ? { pair, iotId } : undefined;
}

/** The rule a mixed fleet breaks, naming the first device of each form (`name(i)` renders `devices[i]`). */
export function mixedFormsReason(first: { pair: number; iotId: number }, name: (i: number) => string): string {
  return (
    `mixes identity forms: ${name(first.pair)} is named by productKey/deviceName and ${name(first.iotId)} by iotId; ` +
    `one device listed both ways would be reset twice, since the two forms cannot be matched without asking IoT ` +
    `Platform: name every device of a fleet the same way`
  );
}
