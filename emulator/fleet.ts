/**
 * Fleet files: the instances, products and devices an emulator starts with.
 *
 * Format (JSON), documented in emulator/README.md:
 * ```json
 * { "instances": [ { "iotInstanceId": "iot-cn-demo01", "products": [
 *     { "productKey": "a1Demo", "productName": "Demo", "dynamicRegistration": true,
 *       "devices": [ { "deviceName": "gw-1", "gateway": true, "subDeviceCount": 2500 } ],
 *       "generate": { "prefix": "dev-", "count": 5000, "pad": 5 } } ] } ] }
 * ```
 * An instance without `iotInstanceId` is the public instance; a top-level `products` array is a
 * shorthand for products of the public instance.
 */
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";

/** One device listed by name. */
export interface FleetDevice {
  /** The device's name within its product. */
  deviceName: string;
  /** Its IotId; default: `iotIdFor(productKey, deviceName, iotInstanceId)`. */
  iotId?: string;
  /** Whether it has completed dynamic registration; default: true in a dynamic-registration product. */
  registered?: boolean;
  /** Whether it is activated; default true. */
  activated?: boolean;
  /** Whether it is a gateway; default false. */
  gateway?: boolean;
  /** How many sub-devices the gateway's topology holds; default 0. */
  subDeviceCount?: number;
  /** The connection status at start; default ONLINE (a device not activated is reported UNACTIVE unless DISABLE). */
  status?: "ONLINE" | "OFFLINE" | "DISABLE";
  /** The IDs of the device groups it belongs to (QueryDeviceListByDeviceGroup lists them); default none. */
  groups?: string[];
}

/** Devices generated from a name pattern: `prefix` + the zero-padded index, `count` of them. */
export interface FleetGenerate {
  /** The name prefix, e.g. `dev-`. */
  prefix: string;
  /** How many devices to generate (1 to 1,000,000). */
  count: number;
  /** Width the index is zero-padded to; default 0 (no padding). */
  pad?: number;
  /** The first index; default 0. */
  start?: number;
  /** Whether the generated devices have completed dynamic registration; default as for listed devices. */
  registered?: boolean;
  /** Whether the generated devices are activated; default true. */
  activated?: boolean;
  /** The generated devices' connection status at start; default as for listed devices. */
  status?: "ONLINE" | "OFFLINE" | "DISABLE";
  /** The IDs of the device groups every generated device belongs to; default none. */
  groups?: string[];
}

/** A product and its devices. */
export interface FleetProduct {
  /** The ProductKey. */
  productKey: string;
  /** A display name; default: the ProductKey. */
  productName?: string;
  /** Whether the product uses dynamic registration (unique-certificate-per-product); default true. */
  dynamicRegistration?: boolean;
  /** Devices listed by name. */
  devices?: FleetDevice[];
  /** Devices generated from a pattern (one pattern or several). */
  generate?: FleetGenerate | FleetGenerate[];
}

/** An instance: the public one (no `iotInstanceId`) or one with an ID that callers must pass. */
export interface FleetInstance {
  /** The instance ID, e.g. `iot-cn-demo01`; omitted for the public instance. */
  iotInstanceId?: string;
  /** The instance's products. */
  products: FleetProduct[];
}

/** A whole fleet file. */
export interface FleetFile {
  /** Free text saying what the fleet is for. */
  description?: string;
  /** The instances and their products. */
  instances?: FleetInstance[];
  /** Shorthand: products of the public instance. */
  products?: FleetProduct[];
}

/** A fleet file that cannot be loaded; the message names the file and the offending path. */
export class FleetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FleetError";
  }
}

/** The largest fleet a single `generate` entry may create, so a typo cannot exhaust memory. */
const MAX_GENERATED = 1_000_000;

/** The path of the bundled demo fleet, whether running from the TypeScript sources or from `lib/`. */
export function demoFleetPath(): string {
  const candidates = [
    path.join(__dirname, "fleets", "demo.json"),
    // From lib/emulator/ the JSON is not compiled: it ships in the package's emulator/fleets/.
    path.join(__dirname, "..", "..", "emulator", "fleets", "demo.json"),
  ];
  for (const candidate of candidates) if (existsSync(candidate)) return candidate;
  throw new FleetError(`the bundled demo fleet was not found (looked in ${candidates.join(", ")})`);
}

/** Reads and validates a fleet file. */
export function loadFleetFile(file: string): FleetFile {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new FleetError(`fleet file ${file} cannot be read: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new FleetError(`fleet file ${file} is not valid JSON: ${(err as Error).message}`);
  }
  return validateFleet(parsed, file);
}

/** Checks a fleet object's shape; the error names the source and the JSON path of the first problem. */
export function validateFleet(value: unknown, source = "fleet"): FleetFile {
  const fail = (where: string, rule: string): never => {
    throw new FleetError(`${source}: \`${where}\` ${rule}`);
  };
  if (!isObject(value)) return fail("(root)", "must be an object");
  const instances = value["instances"];
  const products = value["products"];
  if (instances === undefined && products === undefined) fail("(root)", "must have `instances` or `products`");
  if (instances !== undefined && !Array.isArray(instances)) fail("instances", "must be an array");
  if (products !== undefined) checkProducts(products, "products", fail);
  const seen = new Set<string>();
  (Array.isArray(instances) ? instances : []).forEach((inst: unknown, i: number) => {
    const where = `instances[${i}]`;
    if (!isObject(inst)) return fail(where, "must be an object");
    const id = inst["iotInstanceId"];
    if (id !== undefined && (typeof id !== "string" || !/^[A-Za-z0-9_-]{1,64}$/.test(id))) {
      fail(`${where}.iotInstanceId`, "must be 1-64 letters, digits, `_` or `-`");
    }
    const key = typeof id === "string" ? id : "";
    if (seen.has(key)) fail(`${where}.iotInstanceId`, "repeats an instance listed earlier");
    seen.add(key);
    checkProducts(inst["products"], `${where}.products`, fail);
    return undefined;
  });
  return value as FleetFile;
}

function checkProducts(value: unknown, where: string, fail: (where: string, rule: string) => never): void {
  if (!Array.isArray(value)) fail(where, "must be an array");
  (value as unknown[]).forEach((p, j) => {
    const at = `${where}[${j}]`;
    if (!isObject(p)) fail(at, "must be an object");
    const prod = p as Record<string, unknown>;
    if (typeof prod["productKey"] !== "string" || !/^[A-Za-z0-9_-]{1,64}$/.test(prod["productKey"])) {
      fail(`${at}.productKey`, "must be 1-64 letters, digits, `_` or `-`");
    }
    for (const flag of ["dynamicRegistration"]) {
      if (prod[flag] !== undefined && typeof prod[flag] !== "boolean") fail(`${at}.${flag}`, "must be a boolean");
    }
    if (prod["productName"] !== undefined && typeof prod["productName"] !== "string")
      fail(`${at}.productName`, "must be a string");
    const devices = prod["devices"];
    if (devices !== undefined) {
      if (!Array.isArray(devices)) fail(`${at}.devices`, "must be an array");
      (devices as unknown[]).forEach((d, k) => {
        const dAt = `${at}.devices[${k}]`;
        if (!isObject(d)) fail(dAt, "must be an object");
        const dev = d as Record<string, unknown>;
        if (typeof dev["deviceName"] !== "string" || !/^[A-Za-z0-9_.:@-]{4,32}$/.test(dev["deviceName"])) {
          fail(`${dAt}.deviceName`, "must be 4-32 letters, digits or `-_.:@` (the IoT Platform DeviceName rule)");
        }
        if (
          dev["iotId"] !== undefined &&
          (typeof dev["iotId"] !== "string" || !/^[A-Za-z0-9]{1,64}$/.test(dev["iotId"]))
        ) {
          fail(`${dAt}.iotId`, "must be 1-64 letters or digits");
        }
        for (const flag of ["registered", "activated", "gateway"]) {
          if (dev[flag] !== undefined && typeof dev[flag] !== "boolean") fail(`${dAt}.${flag}`, "must be a boolean");
        }
        checkStatus(dev["status"], `${dAt}.status`, fail);
        checkGroups(dev["groups"], `${dAt}.groups`, fail);
        const subs = dev["subDeviceCount"];
        if (subs !== undefined && (!Number.isInteger(subs) || (subs as number) < 0)) {
          fail(`${dAt}.subDeviceCount`, "must be a non-negative integer");
        }
        if (subs !== undefined && (subs as number) > 0 && dev["gateway"] !== true) {
          fail(`${dAt}.subDeviceCount`, "needs `gateway: true`");
        }
      });
    }
    const gen = prod["generate"];
    if (gen !== undefined) {
      const list = Array.isArray(gen) ? gen : [gen];
      list.forEach((g, k) => {
        const gAt = Array.isArray(gen) ? `${at}.generate[${k}]` : `${at}.generate`;
        if (!isObject(g)) fail(gAt, "must be an object");
        const spec = g as Record<string, unknown>;
        if (typeof spec["prefix"] !== "string") fail(`${gAt}.prefix`, "must be a string");
        const count = spec["count"];
        if (!Number.isInteger(count) || (count as number) < 1 || (count as number) > MAX_GENERATED) {
          fail(`${gAt}.count`, `must be an integer from 1 to ${MAX_GENERATED}`);
        }
        checkStatus(spec["status"], `${gAt}.status`, fail);
        checkGroups(spec["groups"], `${gAt}.groups`, fail);
        for (const n of ["pad", "start"]) {
          if (spec[n] !== undefined && (!Number.isInteger(spec[n]) || (spec[n] as number) < 0)) {
            fail(`${gAt}.${n}`, "must be a non-negative integer");
          }
        }
      });
    }
  });
}

/** The statuses a fleet may start a device in (UNACTIVE follows from `activated: false`). */
const FLEET_STATUSES: readonly unknown[] = ["ONLINE", "OFFLINE", "DISABLE"];

function checkStatus(value: unknown, where: string, fail: (where: string, rule: string) => never): void {
  if (value !== undefined && !FLEET_STATUSES.includes(value)) fail(where, 'must be "ONLINE", "OFFLINE" or "DISABLE"');
}

function checkGroups(value: unknown, where: string, fail: (where: string, rule: string) => never): void {
  if (value === undefined) return;
  if (!Array.isArray(value) || value.some((g) => typeof g !== "string" || !/^[A-Za-z0-9_-]{1,64}$/.test(g)))
    fail(where, "must be an array of group IDs, each 1-64 letters, digits, `_` or `-`");
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The names a `generate` entry produces, in order. */
export function generatedNames(spec: FleetGenerate): string[] {
  const start = spec.start ?? 0;
  const names: string[] = [];
  for (let i = 0; i < spec.count; i++) names.push(`${spec.prefix}${String(start + i).padStart(spec.pad ?? 0, "0")}`);
  return names;
}
