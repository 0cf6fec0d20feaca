#!/usr/bin/env node
/**
 * `iot-reset-plan PLAN.json [--max N] [--json]`: prints every device the planned update would reset, one per
 * line, and exits 1 when there are more than `--max` (a pipeline's guard before `pulumi up`).
 */
import * as fs from "fs";
import { parseArgs } from "util";
import { plannedResets } from "./plan";

function main(argv: string[]): number {
  let values: { max?: string; json?: boolean; help?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { max: { type: "string" }, json: { type: "boolean" }, help: { type: "boolean", short: "h" } },
    }));
  } catch (err) {
    process.stderr.write(`iot-reset-plan: ${(err as Error).message}\n`);
    return 2;
  }
  if (values.help || positionals.length !== 1) {
    process.stderr.write(
      "usage: iot-reset-plan PLAN.json [--max N] [--json]\n" +
        "  PLAN.json  output of `pulumi preview --json` (or the offline runner's --plan-json); - reads stdin\n" +
        "  --max N    exit 1 when the update would reset more than N devices\n" +
        '  --json     print {"count", "resets": [{urn, op, devices}]} instead of lines\n',
    );
    return values.help ? 0 : 2;
  }
  const max = values.max === undefined ? undefined : Number(values.max);
  if (max !== undefined && !(Number.isInteger(max) && max >= 0)) {
    process.stderr.write(`iot-reset-plan: --max must be a whole number, 0 or more, got "${values.max}"\n`);
    return 2;
  }
  const file = positionals[0] as string;
  let resets;
  try {
    const text = fs.readFileSync(file === "-" ? 0 : file, "utf8");
    resets = plannedResets(JSON.parse(text));
  } catch (err) {
    process.stderr.write(`iot-reset-plan: ${file}: ${(err as Error).message}\n`);
    return 2;
  }
  const count = resets.reduce((n, r) => n + r.devices.length, 0);
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ count, resets })}\n`);
  } else {
    for (const r of resets) {
      process.stdout.write(`# ${r.op} ${r.urn}${r.unknown ? " (devices unknown until apply)" : ""}\n`);
      for (const d of r.devices) process.stdout.write(`${d}\n`);
      for (const d of r.unknownOutcome ?? [])
        process.stdout.write(
          `# unknown outcome (sent, no answer; sent again only if iotReset:resendUnknown names it): ${d}\n`,
        );
    }
    process.stdout.write(
      `${count} device(s) would be reset by ${resets.filter((r) => r.devices.length > 0 || r.unknown).length} resource(s).\n`,
    );
    const held = resets.reduce((n, r) => n + (r.unknownOutcome?.length ?? 0), 0);
    if (held > 0) process.stdout.write(`${held} device(s) have an unknown outcome and wait for a decision.\n`);
  }
  const unknown = resets.filter((r) => r.unknown).length;
  if (max !== undefined && unknown > 0) {
    process.stderr.write(
      `iot-reset-plan: ${unknown} resource(s) reset devices that are unknown until apply, so --max ${max} cannot be checked; make the device list known at preview.\n`,
    );
    return 1;
  }
  if (max !== undefined && count > max) {
    process.stderr.write(
      `iot-reset-plan: the update would reset ${count} devices, more than --max ${max}; split the rollout into smaller stages or raise --max.\n`,
    );
    return 1;
  }
  return 0;
}

process.exitCode = main(process.argv.slice(2));
