#!/usr/bin/env node
/**
 * `iot-reset-plan PLAN.json [--max N] [--json | --markdown [--first N] [--review FILE [--reviewed FILE]]]`: prints
 * every device the planned update would reset, one per line (or as JSON, or as a pull-request comment), and exits 1
 * when there are more than `--max`, 2 when the plan or a flag cannot be read (a pipeline's guard before `pulumi up`).
 */
import * as fs from "fs";
import { parseArgs } from "util";
import { escapeText } from "../shared/inputs";
import { PlannedGate, PlannedReset, PlanReading, readPlan } from "./read-plan";
import { describeRollout } from "../shared/rollout-controls";
import { readReview, ReviewFile, staleReview } from "../shared/review";

const USAGE =
  "usage: iot-reset-plan PLAN.json [--max N] [--json | --markdown [--first N] [--review FILE [--reviewed FILE]]]\n" +
  "  PLAN.json   output of `pulumi preview --json`; - reads stdin\n" +
  "  --max N     exit 1 when the update would reset more than N devices, or devices unknown until apply\n" +
  '  --json      print {"count", "resets": [{urn, op, devices, ...}], "gates", "stepsWithoutUrn"} instead of lines\n' +
  "  --markdown  print a pull-request comment: counts per stage and per resource, the first devices\n" +
  "  --first N   with --markdown, list the first N devices (default 20)\n" +
  "  --review F  with --markdown, show the review this preview wrote (IOT_RESET_REVIEW_OUT): per cohort its campaign,\n" +
  "              stage, digest and what the next stage would add\n" +
  "  --reviewed F  with --review, say whether the committed review F matches it, and how it differs\n" +
  "exit status: 0 within --max, 1 past it, 2 for a plan or flag that cannot be read\n";

/** A count flag: a whole number, 0 or more. */
function wholeNumber(flag: string, value: string | undefined): number | undefined | string {
  if (value === undefined) return undefined;
  const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  return Number.isSafeInteger(n) ? n : `--${flag} must be a whole number, 0 or more, got ${JSON.stringify(value)}`;
}

/** The resource's name (the URN's last part), or where the step sits when it has no URN. */
function resourceName(r: PlannedReset): string {
  return r.urn ? (r.urn.split("::").pop() ?? r.urn) : `(no URN: steps[${r.step}])`;
}

/** Text for a Markdown code span or table cell: escaped, with no backtick or pipe left to break out. */
function md(value: string): string {
  return escapeText(value).replace(/[`|]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/**
 * The cohort of a batch: its name without `-b<bucket>` (or `-s<stage>-b<bucket>` when gated), or without
 * `-b<count>-<bucket>` when its cohort pins `batchCount`.
 */
function cohortOf(r: PlannedReset): string {
  return resourceName(r).replace(/(-s\d+)?-b\d+(-\d+)?$/, "");
}

/** One sentence per promotion gate the update would check. */
function describeGates(gates: readonly PlannedGate[], code: (s: string) => string): string[] {
  return gates.map(
    (g) =>
      `promotion gate: before stage ${g.stage} of ${code(g.cohort)} resets any device, ` +
      `${(g.minOnlineRatio * 100).toFixed(1)}% of the ${g.devices ?? "(not yet known)"} devices reset by earlier ` +
      `stages must be back online, waiting up to ${g.waitMinutes} minute(s); otherwise the update stops there.`,
  );
}

/**
 * The rollout controls per cohort (batches of one cohort share them; a cohort whose batches differ, as in the middle
 * of a change, is listed once per distinct set), each as its phrases.
 */
function rolloutByCohort(resets: readonly PlannedReset[]): Array<{ cohort: string; phrases: string[] }> {
  const seen = new Map<string, { cohort: string; phrases: string[] }>();
  for (const r of resets) {
    if (!r.rollout) continue;
    const cohort = cohortOf(r);
    const phrases = describeRollout(r.rollout);
    seen.set(`${cohort}\u0000${JSON.stringify(phrases)}`, { cohort, phrases });
  }
  return [...seen.values()];
}

/** The devices of `r` with an unknown outcome, each with the name that sends it once more when it differs. */
function heldDevices(r: PlannedReset): Array<{ key: string; name: string }> {
  return (r.unknownOutcome ?? []).map((key, i) => ({ key, name: r.resendAs?.[i] ?? key }));
}

/** Why devices a split moved are counted: what the journal setting makes of them. */
function movedCountedBecause(reading: PlanReading): string {
  switch (reading.journal) {
    case "off":
      return "iotReset:journal is off: every update sends them again";
    case "secret":
      return "iotReset:journal is a secret the plan cannot read: unless it is a bucket, a runner without it sends them again";
    default:
      return "iotReset:journal is a file, not a bucket: a runner without that file sends them again";
  }
}

/** The comment lines of one resource's devices moved by a split. */
function movedLines(r: PlannedReset, reading: PlanReading): string[] {
  const from = escapeText((r.movedFrom ?? []).join(", "));
  const out = (r.moved ?? []).map(
    (d) => `# moved from ${from}, which records its reset (the journal records it without a call): ${escapeText(d)}`,
  );
  if (r.movedCounted) {
    out.push(
      `# ${r.movedCounted} of these device(s) moved here from ${from}, which records their reset; counted, since ` +
        movedCountedBecause(reading),
    );
  }
  return out;
}

function lines(reading: PlanReading, count: number): string {
  const out: string[] = describeGates(reading.gates, (c) => `"${escapeText(c)}"`).map((l) => `# ${l}`);
  for (const r of reading.resets) {
    const title = r.urn ? escapeText(r.urn) : `(no URN: steps[${r.step}])`;
    out.push(`# ${r.op} ${title}${r.unknown ? " (devices unknown until apply)" : ""}`);
    for (const d of r.devices) out.push(escapeText(d));
    out.push(...movedLines(r, reading));
    for (const { key, name } of heldDevices(r)) {
      const decision =
        name === key
          ? "sent again only if iotReset:resendUnknown names it"
          : `resent before; sent again only if iotReset:resendUnknown names ${escapeText(name)}`;
      out.push(`# unknown outcome (sent, no answer; ${decision}): ${escapeText(key)}`);
    }
  }
  const resetting = reading.resets.filter((r) => r.devices.length > 0 || r.unknown).length;
  out.push(`${count} device(s) would be reset by ${resetting} resource(s).`);
  const moved = reading.resets.reduce((n, r) => n + (r.moved?.length ?? 0), 0);
  if (moved > 0) out.push(`${moved} device(s) moved to another batch are recorded from the journal, not sent.`);
  const held = reading.resets.reduce((n, r) => n + (r.unknownOutcome?.length ?? 0), 0);
  if (held > 0) out.push(`${held} device(s) have an unknown outcome and wait for a decision.`);
  if (reading.stepsWithoutUrn > 0) {
    out.push(`${reading.stepsWithoutUrn} step(s) had no URN; each is listed by its index and counted.`);
  }
  // Comment lines, so that a pipeline reading the device lines skips them.
  for (const { cohort, phrases } of rolloutByCohort(reading.resets)) {
    out.push(`# rollout controls of ${escapeText(cohort)} (counted across the whole update):`);
    for (const p of phrases) out.push(`#   ${escapeText(p)}`);
  }
  return `${out.join("\n")}\n`;
}

/** The markdown table of devices reset per stage, and per cohort's stage; no lines when nothing is known. */
function stageTable(resets: readonly PlannedReset[]): string[] {
  // Per stage: batches of one cohort (named <cohort>-b<bucket>, or <cohort>-s<stage>-b<bucket> with a
  // promotion gate) share its stages.
  const stageRows = new Map<string, { label: string; share: string; devices: number }>();
  for (const r of resets) {
    if (r.stages && r.byStage) {
      const cohort = cohortOf(r);
      r.byStage.forEach((n, i) => {
        const key = `${cohort}\u0000${i}`;
        const row = stageRows.get(key) ?? {
          label: `\`${md(cohort)}\` stage ${i + 1}`,
          share: `${r.stages?.[i]}%`,
          devices: 0,
        };
        row.devices += n;
        stageRows.set(key, row);
      });
    } else if (!r.unknown) {
      const row = stageRows.get("") ?? { label: "not staged", share: "", devices: 0 };
      row.devices += r.devices.length;
      stageRows.set("", row);
    }
  }
  if (stageRows.size === 0) return [];
  return [
    "| stage | cumulative share | devices reset |",
    "| --- | --- | --- |",
    ...[...stageRows.values()].map((row) => `| ${row.label} | ${row.share} | ${row.devices} |`),
    "",
  ];
}

/** The first `first` of `lines` in a text block, each through `render`, then how many more; and a blank line. */
function fencedFirst(lines: readonly string[], first: number, render: (line: string) => string): string[] {
  return [
    "```text",
    ...lines.slice(0, first).map(render),
    ...(lines.length > first ? [`… and ${lines.length - first} more`] : []),
    "```",
    "",
  ];
}

/** A pull request's comment stays well under GitHub's 65,536 characters: past this many resources, one summary row. */
const RESOURCE_ROWS = 100;

/** The comment's review section: per cohort of the preview's review, and whether the committed one matches it. */
function reviewSection(review: ReviewFile, committed: ReviewFile | undefined, first: number): string[] {
  const out = [
    "| cohort | campaign | stage | devices selected | next stage would add | digest |",
    "| --- | --- | --- | --- | --- | --- |",
  ];
  for (const [name, c] of Object.entries(review.cohorts)) {
    const next =
      c.stage < c.stages.length
        ? `${(c.stageCounts[c.stage] ?? 0) - (c.stageCounts[c.stage - 1] ?? 0)} (stage ${c.stage + 1}, ${c.stages[c.stage]}%)`
        : "(last stage)";
    const share = c.stage === 0 ? "0%" : `${c.stages[c.stage - 1]}%`;
    out.push(
      `| \`${md(name)}\` | \`${md(c.campaign)}\` | ${c.stage} of ${c.stages.length} (${share}) | ${c.selected} | ${next} | \`${c.digest.slice(0, 19)}…\` |`,
    );
  }
  out.push("");
  if (!committed) return out;
  const stale = staleReview(committed, review);
  if (stale.length === 0) {
    out.push("> **Review:** the committed review file matches what this preview selects.", "");
  } else {
    out.push(
      "> **Stale review:** the committed review file does not match what this preview selects; the merge would be " +
        "refused. Write it anew (`npm run review`), read its diff, and push it.",
      "",
      ...fencedFirst(stale, first, escapeText),
    );
  }
  return out;
}

function markdown(
  reading: PlanReading,
  count: number,
  first: number,
  max: number | undefined,
  review?: { review: ReviewFile; committed?: ReviewFile },
): string {
  const { resets } = reading;
  const out = [`### iot-reset-plan: ${count} device reset(s) in ${resets.length} resource(s)`, ""];
  if (review) out.push(...reviewSection(review.review, review.committed, first));
  const gates = describeGates(reading.gates, (c) => `\`${md(c)}\``);
  if (gates.length > 0) out.push(...gates.map((g) => `> **Gate:** ${g}`), "");
  out.push(...stageTable(resets));
  if (resets.length > 0) {
    out.push("| resource | operation | devices reset |", "| --- | --- | --- |");
    for (const r of resets.slice(0, RESOURCE_ROWS)) {
      const name = r.urn ? `\`${md(resourceName(r))}\`` : resourceName(r);
      out.push(`| ${name} | ${md(r.op)} | ${r.unknown ? "unknown until apply" : r.devices.length} |`);
    }
    if (resets.length > RESOURCE_ROWS) {
      const rest = resets.slice(RESOURCE_ROWS);
      const devices = rest.reduce((n, r) => n + r.devices.length, 0);
      out.push(`| … ${rest.length} more resource(s) |  | ${devices} |`);
    }
    out.push("");
  }
  const controls = rolloutByCohort(resets);
  if (controls.length > 0) {
    out.push("| cohort | rollout controls (counted across the whole update) |", "| --- | --- |");
    for (const { cohort, phrases } of controls) out.push(`| \`${md(cohort)}\` | ${phrases.map(md).join("<br>")} |`);
    out.push("");
  }
  const all = resets.flatMap((r) => r.devices);
  if (all.length > 0 && first > 0) {
    const shown = all.slice(0, first);
    const summary =
      shown.length < all.length ? `The first ${shown.length} of ${all.length} devices` : `All ${all.length} devices`;
    out.push(`<details><summary>${summary}</summary>`, "", "```text", ...shown.map(md), "```", "", "</details>", "");
  }
  const unknown = resets.filter((r) => r.unknown).length;
  if (reading.stepsWithoutUrn > 0) {
    out.push(`> **Note:** ${reading.stepsWithoutUrn} step(s) had no URN; each is listed by its index and counted.`, "");
  }
  if (unknown > 0) {
    out.push(
      `> **Warning:** ${unknown} resource(s) reset devices that are unknown until apply; their number cannot be checked here.`,
      "",
    );
  }
  out.push(...movedNotes(reading));
  const held = resets.flatMap(heldDevices);
  if (held.length > 0) {
    out.push(
      `> **Unknown outcomes:** ${held.length} device(s) were sent by an earlier update and got no answer; they are not ` +
        "sent again unless `iotReset:resendUnknown` names them as listed. Check each in the IoT console first.",
      "",
      ...fencedFirst(
        held.map(({ key, name }) => (name === key ? key : `${key} (resent before: name it ${name})`)),
        first,
        md,
      ),
    );
  }
  if (max !== undefined && count > max) {
    out.push(`> **Over the limit:** ${count} device resets, more than \`--max ${max}\`.`, "");
  }
  return out.join("\n");
}

/** The comment's notes on devices a split moved to another batch, recorded or counted. */
function movedNotes(reading: PlanReading): string[] {
  const moved = reading.resets.filter((r) => r.moved || r.movedCounted);
  if (moved.length === 0) return [];
  const from = [...new Set(moved.flatMap((r) => r.movedFrom ?? []))].map((n) => `\`${md(n)}\``).join(", ");
  const recorded = moved.reduce((n, r) => n + (r.moved?.length ?? 0), 0);
  const counted = moved.reduce((n, r) => n + (r.movedCounted ?? 0), 0);
  return [
    recorded > 0
      ? `> **Moved:** ${recorded} device(s) moved to another batch from ${from}, which records their reset; the ` +
        "journal in a bucket records them at apply without a call, so they are not counted."
      : `> **Moved:** ${counted} of the devices counted moved to another batch from ${from}, which records their ` +
        `reset; they are counted because ${movedCountedBecause(reading)}. Keep the journal in a bucket ` +
        "(`iotReset:journal` at `s3://…` or `oss://…`).",
    "",
  ];
}

/** The reviews `--review` and `--reviewed` name, read; or why they cannot be used. */
function reviewFlags(values: {
  markdown?: boolean;
  review?: string;
  reviewed?: string;
}): { review: ReviewFile; committed?: ReviewFile } | undefined | string {
  if (values.review === undefined) return values.reviewed === undefined ? undefined : "--reviewed goes with --review";
  if (!values.markdown) return "--review goes with --markdown";
  try {
    return {
      review: readReview(values.review),
      ...(values.reviewed !== undefined ? { committed: readReview(values.reviewed) } : {}),
    };
  } catch (err) {
    return (err as Error).message;
  }
}

/** The flags given. */
interface Flags {
  max?: string;
  json?: boolean;
  markdown?: boolean;
  first?: string;
  review?: string;
  reviewed?: string;
  help?: boolean;
}

/** The command line, parsed; or why it cannot be. */
function readFlags(argv: string[]): { values: Flags; positionals: string[] } | string {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        max: { type: "string" },
        json: { type: "boolean" },
        markdown: { type: "boolean" },
        first: { type: "string" },
        review: { type: "string" },
        reviewed: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (err) {
    return (err as Error).message;
  }
}

function main(argv: string[]): number {
  const flags = readFlags(argv);
  if (typeof flags === "string") {
    process.stderr.write(`iot-reset-plan: ${flags}\n`);
    return 2;
  }
  const { values, positionals } = flags;
  if (values.help || positionals.length !== 1) {
    (values.help ? process.stdout : process.stderr).write(USAGE);
    return values.help ? 0 : 2;
  }
  const maxFlag = wholeNumber("max", values.max);
  const firstFlag = wholeNumber("first", values.first) ?? 20;
  for (const problem of [maxFlag, firstFlag]) {
    if (typeof problem === "string") {
      process.stderr.write(`iot-reset-plan: ${problem}\n`);
      return 2;
    }
  }
  const max = maxFlag as number | undefined;
  const first = firstFlag as number;
  const together =
    values.json && values.markdown
      ? "--json and --markdown are two outputs; give one"
      : values.first !== undefined && !values.markdown
        ? "--first goes with --markdown"
        : undefined;
  if (together) {
    process.stderr.write(`iot-reset-plan: ${together}\n`);
    return 2;
  }
  const review = reviewFlags(values);
  if (typeof review === "string") {
    process.stderr.write(`iot-reset-plan: ${review}\n`);
    return 2;
  }
  const file = positionals[0] as string;
  let reading: PlanReading;
  try {
    const text = fs.readFileSync(file === "-" ? 0 : file, "utf8");
    reading = readPlan(JSON.parse(text));
  } catch (err) {
    process.stderr.write(`iot-reset-plan: ${escapeText(file)}: ${(err as Error).message}\n`);
    return 2;
  }
  const count = reading.resets.reduce((n, r) => n + r.devices.length, 0);
  if (values.json) {
    const json = {
      count,
      resets: reading.resets,
      ...(reading.gates.length > 0 ? { gates: reading.gates } : {}),
      ...(reading.stepsWithoutUrn ? { stepsWithoutUrn: reading.stepsWithoutUrn } : {}),
    };
    process.stdout.write(`${JSON.stringify(json)}\n`);
  } else if (values.markdown) {
    process.stdout.write(markdown(reading, count, first, max, review));
  } else {
    process.stdout.write(lines(reading, count));
  }
  const unknown = reading.resets.filter((r) => r.unknown).length;
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
