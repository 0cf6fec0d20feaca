/**
 * A listing kept as a reviewed fleet file: `snapshotFleet` writes what `listFleet` returned, the pull request carries
 * the file, and `checkFleet` compares a later listing with it, so that a cohort resets the reviewed devices only and
 * every difference is named instead of silently changing what is reset.
 */
import * as fs from "fs";
import * as path from "path";
import { log } from "@pulumi/pulumi";
import { deviceKey, type FleetDevice } from "../shared/device-key";
import { IotResetError } from "../shared/errors";
import { loadFleet } from "./fleet-file";

/** A listing that differs from its reviewed fleet file while `checkFleet`'s `failOnChange` is set. */
export class FleetChangedError extends IotResetError {}

/** Options of `checkFleet`. */
export interface CheckFleetOptions {
  /** Throw `FleetChangedError` when the listing differs from the file at all, instead of reporting it; default false. */
  readonly failOnChange?: boolean;
  /** Receives the summary when the listing differs from the file; default `pulumi.log.warn` (the console outside a program). */
  readonly report?: (summary: string) => void;
}

/** How a listing compares with a reviewed fleet file. */
export interface FleetCheck {
  /** The devices of the file, exactly as reviewed: what a cohort is declared with. */
  readonly devices: FleetDevice[];
  /** Devices the listing has and the file does not (new since the snapshot): not reset until the file lists them. */
  readonly added: FleetDevice[];
  /** Devices the file has and the listing does not (deleted, or out of the listed group or status since): still in `devices`. */
  readonly removed: FleetDevice[];
  /** One paragraph naming and counting both lists, or saying that the listing matches the file. */
  readonly summary: string;
}

/**
 * Writes a listing to `file` in a format `loadFleet` reads: a `.csv` with a `productKey,deviceName` (or `iotId`)
 * header, else a JSON array, one device per line; sorted by device key, so that a new snapshot of the same fleet is
 * the same file and a pull request shows only the devices that changed.
 */
export function snapshotFleet(devices: readonly FleetDevice[], file: string): void {
  const sorted = [...devices].sort((a, b) => compareKeys(deviceKey(a), deviceKey(b)));
  const byId = sorted.length > 0 && sorted.every((d) => "iotId" in d);
  let text: string;
  if (path.extname(file).toLowerCase() === ".csv") {
    const rows = sorted.map((d) => ("iotId" in d ? d.iotId : `${d.productKey},${d.deviceName}`));
    text = [byId ? "iotId" : "productKey,deviceName", ...rows].join("\n") + "\n";
  } else {
    const rows = sorted.map((d) =>
      JSON.stringify("iotId" in d ? { iotId: d.iotId } : { productKey: d.productKey, deviceName: d.deviceName }),
    );
    text = rows.length === 0 ? "[]\n" : `[\n  ${rows.join(",\n  ")}\n]\n`;
  }
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  fs.writeFileSync(file, text);
}

/**
 * Compares a listing with the reviewed fleet file and returns the file's devices with what differs. New devices are
 * reported (named and counted), never added: a cohort declared with `devices` resets exactly what the file lists.
 */
export function checkFleet(listing: readonly FleetDevice[], file: string, options: CheckFleetOptions = {}): FleetCheck {
  const devices = loadFleet(file, { allowEmpty: true });
  const reviewed = new Set(devices.map(deviceKey));
  const listed = new Set(listing.map(deviceKey));
  const byKey = (a: FleetDevice, b: FleetDevice) => compareKeys(deviceKey(a), deviceKey(b));
  const added = listing.filter((d) => !reviewed.has(deviceKey(d))).sort(byKey);
  const removed = devices.filter((d) => !listed.has(deviceKey(d))).sort(byKey);
  const summary = summarize(file, devices.length, added, removed);
  if (added.length > 0 || removed.length > 0) {
    if (options.failOnChange) throw new FleetChangedError(summary);
    (options.report ?? ((s: string) => log.warn(s)))(summary);
  }
  return { devices, added, removed, summary };
}

/** Device keys in code-point order, the same on every machine (localeCompare is not). */
function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** At most this many devices are named per list in a summary; the rest are counted. */
const NAMED = 10;

function named(devices: readonly FleetDevice[]): string {
  const keys = devices.slice(0, NAMED).map(deviceKey);
  const more = devices.length > NAMED ? ` and ${devices.length - NAMED} more` : "";
  return `${keys.join(", ")}${more}`;
}

function summarize(file: string, count: number, added: FleetDevice[], removed: FleetDevice[]): string {
  if (added.length === 0 && removed.length === 0)
    return `The listing matches ${file}: ${count} device(s), as reviewed.`;
  const parts = [`The listing differs from the reviewed fleet file ${file} (${count} device(s)).`];
  if (added.length > 0) {
    parts.push(
      `${added.length} device(s) are new since the snapshot and will not be reset: ${named(added)}. ` +
        `To reset them, write a new snapshot (snapshotFleet) and have the change reviewed.`,
    );
  }
  if (removed.length > 0) {
    parts.push(
      `${removed.length} reviewed device(s) are no longer in the listing and are still reset as reviewed: ` +
        `${named(removed)}. A device that no longer exists fails its reset (iot.device.NotExistedDevice): take it ` +
        `out of the file.`,
    );
  }
  return parts.join(" ");
}
