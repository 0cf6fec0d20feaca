/**
 * Loads a fleet from a CSV or JSON file, with errors that name the file, the row and the rule.
 */
import * as fs from "fs";
import * as path from "path";
import { parse } from "csv-parse/sync";
import { IotResetError } from "../shared/errors";
import { CheckFailure, checkFleetDevice } from "../shared/inputs";
import { deviceKey, FleetDevice, mixedForms, mixedFormsReason } from "../shared/device-key";

/** A fleet file that could not be used; the message lists every bad row (up to 20). */
export class FleetFileError extends IotResetError {}

/** Options of `loadFleet`. */
export interface LoadFleetOptions {
  /** Accept a file that lists no device (an empty array, or a CSV with only a header); default false. */
  readonly allowEmpty?: boolean;
}

// Where each loaded device came from (`fleet.csv line 4`), so that a cohort's errors can name the file and line.
// Kept beside the objects, not in them: nothing of it reaches the engine or state.
const origins = new WeakMap<object, string>();

/** The file and line (or JSON index) a device object came from, when `loadFleet` returned it. */
export function originOf(device: unknown): string | undefined {
  return device !== null && typeof device === "object" ? origins.get(device) : undefined;
}

/**
 * Reads a fleet: a `.json` array of `{ productKey, deviceName }` or `{ iotId }` objects, or a `.csv` (UTF-8,
 * comma-separated, RFC 4180 quoting, optional BOM, LF or CRLF) with a header naming `productKey,deviceName` or
 * `iotId` columns. Rows that break a rule, repeated devices, a mix of the two identity forms and (unless
 * `allowEmpty`) a file with no device are errors; blank lines and lines starting with `#` in CSV are skipped.
 */
export function loadFleet(file: string, options: LoadFleetOptions = {}): FleetDevice[] {
  const text = decodeUtf8(file, fs.readFileSync(file));
  const rows = path.extname(file).toLowerCase() === ".csv" ? parseCsv(file, text) : parseJson(file, text);
  const problems: string[] = [];
  const seen = new Map<string, string>();
  const devices: FleetDevice[] = [];
  const wheres: string[] = [];
  for (const { where, value, problem } of rows) {
    if (problem) {
      problems.push(`${where}: ${problem}`);
      continue;
    }
    const failures: CheckFailure[] = [];
    checkFleetDevice(value, "device", failures);
    if (failures.length > 0) {
      problems.push(
        ...failures.map((f) => {
          const property = f.property.replace(/^device\.?/, "");
          if (!property) return `${where}: ${f.reason}`;
          return `${where}: ${property} ${f.reason.startsWith('"') ? f.reason : `- ${f.reason}`}`;
        }),
      );
      continue;
    }
    const v = value as Record<string, string>;
    const device = {
      ...(v.productKey !== undefined ? { productKey: v.productKey } : {}),
      ...(v.deviceName !== undefined ? { deviceName: v.deviceName } : {}),
      ...(v.iotId !== undefined ? { iotId: v.iotId } : {}),
    } as FleetDevice;
    const key = deviceKey(device);
    const first = seen.get(key);
    if (first) {
      problems.push(`${where}: repeats device ${key} (first at ${first})`);
      continue;
    }
    seen.set(key, where);
    origins.set(device, where);
    devices.push(device);
    wheres.push(where);
  }
  const mixed = mixedForms(devices);
  if (mixed) problems.push(`${file}: ${mixedFormsReason(mixed, (i) => wheres[i] as string)}`);
  if (problems.length > 0) {
    const shown = problems.slice(0, 20);
    if (problems.length > 20) shown.push(`… and ${problems.length - 20} more`);
    throw new FleetFileError(`Fleet file ${file} has ${problems.length} bad row(s):\n  ${shown.join("\n  ")}`);
  }
  if (devices.length === 0 && options.allowEmpty !== true) {
    throw new FleetFileError(
      `Fleet file ${file} lists no device, so nothing would be reset; an empty fleet file is usually a mistake: ` +
        `pass \`{ allowEmpty: true }\` to loadFleet when it is expected.`,
    );
  }
  return devices;
}

/** Decodes UTF-8, refusing bytes that are not: they would become U+FFFD and reach the API as another name. */
function decodeUtf8(file: string, bytes: Buffer): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    const lenient = new TextDecoder("utf-8").decode(bytes);
    const at = lenient.indexOf("\ufffd");
    const line = lenient.slice(0, Math.max(0, at)).split("\n").length;
    throw new FleetFileError(
      `Fleet file ${file} line ${line} is not valid UTF-8 (a spreadsheet's "CSV" export in a local code page, or ` +
        `UTF-16); save the file as UTF-8.`,
    );
  }
}

interface Row {
  readonly where: string;
  readonly value: unknown;
  /** A row that could not be read at all. */
  readonly problem?: string;
}

function parseJson(file: string, text: string): Row[] {
  let data: unknown;
  try {
    data = JSON.parse(text.replace(/^\ufeff/, ""));
  } catch (err) {
    throw new FleetFileError(`Fleet file ${file} is not valid JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(data)) throw new FleetFileError(`Fleet file ${file} must hold a JSON array of devices.`);
  return data.map((value, i) => ({ where: `${file} [${i}]`, value }));
}

function parseCsv(file: string, text: string): Row[] {
  let records: Array<{ record: string[]; info: { lines: number } }>;
  try {
    records = parse(text, {
      bom: true,
      info: true,
      trim: true,
      comment: "#",
      comment_no_infix: true,
      skip_empty_lines: true,
      relax_column_count: true,
    }) as unknown as typeof records; // `info: true` makes each record { record, info }
  } catch (err) {
    // csv-parse's errors carry the line where the record started (its own CsvError class, per entry point).
    const lines = (err as { lines?: unknown }).lines;
    const line = typeof lines === "number" ? ` line ${lines}` : "";
    throw new FleetFileError(
      `Fleet file ${file}${line} is not valid CSV: ${(err as Error).message}; fix the quoting (a value with a comma or a quote is written "like ""this""").`,
    );
  }
  // A line of nothing but separators or spaces is a blank line too.
  records = records.filter((r) => r.record.some((cell) => cell !== ""));
  const head = records[0];
  if (!head) return [];
  const header = head.record;
  const known = new Set(["productKey", "deviceName", "iotId"]);
  const unknown = header.filter((h) => !known.has(h));
  if (unknown.length > 0) {
    throw new FleetFileError(
      `Fleet file ${file} line ${head.info.lines}: unknown column(s) ${unknown.map((u) => `"${u}"`).join(", ")}; the header names productKey,deviceName or iotId.`,
    );
  }
  const repeated = header.find((h, i) => header.indexOf(h) !== i);
  if (repeated) {
    throw new FleetFileError(`Fleet file ${file} line ${head.info.lines}: the header names "${repeated}" twice.`);
  }
  return records.slice(1).map(({ record, info }) => {
    const where = `${file} line ${info.lines}`;
    if (record.length !== header.length) {
      return { where, value: {}, problem: `has ${record.length} cells; the header has ${header.length}` };
    }
    const value: Record<string, unknown> = {};
    header.forEach((h, j) => {
      if (record[j] !== "") value[h] = record[j];
    });
    return { where, value };
  });
}
