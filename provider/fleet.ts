/**
 * Loads a fleet from a CSV or JSON file, with errors that name the file, the row and the rule.
 */
import * as fs from "fs";
import * as path from "path";
import { CheckFailure, checkIdentity } from "./inputs";
import { deviceKey, FleetDevice } from "./selection";

/** A fleet file that could not be used; the message lists every bad row (up to 20). */
export class FleetFileError extends Error {
  override readonly name = "FleetFileError";
}

/**
 * Reads a fleet: a `.json` array of `{ productKey, deviceName }` or `{ iotId }` objects, or a `.csv` with a
 * header naming `productKey,deviceName` or `iotId` columns. Rows that break a rule and repeated devices are
 * errors; blank lines and `#` comments in CSV are skipped.
 */
export function loadFleet(file: string): FleetDevice[] {
  const text = fs.readFileSync(file, "utf8");
  const rows = path.extname(file).toLowerCase() === ".csv" ? parseCsv(file, text) : parseJson(file, text);
  const problems: string[] = [];
  const seen = new Map<string, string>();
  const devices: FleetDevice[] = [];
  for (const { where, value, problem } of rows) {
    if (problem) {
      problems.push(`${where}: ${problem}`);
      continue;
    }
    const failures: CheckFailure[] = [];
    checkIdentity(value, "", failures);
    if (failures.length > 0) {
      problems.push(
        ...failures.map((f) => `${where}: ${f.property} ${f.reason.startsWith('"') ? f.reason : `- ${f.reason}`}`),
      );
      continue;
    }
    const device: FleetDevice =
      typeof value.iotId === "string"
        ? { iotId: value.iotId }
        : { productKey: value.productKey as string, deviceName: value.deviceName as string };
    const key = deviceKey(device);
    const first = seen.get(key);
    if (first) {
      problems.push(`${where}: repeats device ${key} (first at ${first})`);
      continue;
    }
    seen.set(key, where);
    devices.push(device);
  }
  if (problems.length > 0) {
    const shown = problems.slice(0, 20);
    if (problems.length > 20) shown.push(`… and ${problems.length - 20} more`);
    throw new FleetFileError(`Fleet file ${file} has ${problems.length} bad row(s):\n  ${shown.join("\n  ")}`);
  }
  return devices;
}

interface Row {
  readonly where: string;
  readonly value: Record<string, unknown>;
  /** A row that could not be read at all. */
  readonly problem?: string;
}

function parseJson(file: string, text: string): Row[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new FleetFileError(`Fleet file ${file} is not valid JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(data)) throw new FleetFileError(`Fleet file ${file} must hold a JSON array of devices.`);
  return data.map((value, i) => ({
    where: `${file} [${i}]`,
    value: value !== null && typeof value === "object" ? (value as Record<string, unknown>) : { iotId: value },
  }));
}

function parseCsv(file: string, text: string): Row[] {
  const lines = text.split(/\r?\n/);
  const headerIndex = lines.findIndex((l) => l.trim() !== "" && !l.trim().startsWith("#"));
  if (headerIndex < 0) return [];
  const header = (lines[headerIndex] as string).split(",").map((h) => h.trim());
  const known = new Set(["productKey", "deviceName", "iotId"]);
  const unknown = header.filter((h) => !known.has(h));
  if (unknown.length > 0 || header.length === 0) {
    throw new FleetFileError(
      `Fleet file ${file} line ${headerIndex + 1}: unknown column(s) ${unknown.map((u) => `"${u}"`).join(", ")}; the header names productKey,deviceName or iotId.`,
    );
  }
  const rows: Row[] = [];
  for (let i = headerIndex + 1; i < lines.length; i++) {
    const line = (lines[i] as string).trim();
    if (line === "" || line.startsWith("#")) continue;
    const cells = line.split(",").map((c) => c.trim());
    if (cells.length !== header.length) {
      rows.push({
        where: `${file} line ${i + 1}`,
        value: {},
        problem: `has ${cells.length} cells; the header has ${header.length}`,
      });
      continue;
    }
    const value: Record<string, unknown> = {};
    header.forEach((h, j) => {
      if (cells[j] !== "") value[h] = cells[j];
    });
    rows.push({ where: `${file} line ${i + 1}`, value });
  }
  return rows;
}
