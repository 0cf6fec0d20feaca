/**
 * The benchmark's figures as SVG: Vega-Lite specs built from the JSON results, rendered by Vega in Node (no browser,
 * no canvas; text is measured by Vega's estimate, so the same input always gives the same bytes).
 *
 * - Per scenario, the reset rate of each engine operation over its update: successful resets in each whole second
 *   from the operation's first ResetThing, against the quota (500) and the provider's pace (98%, 490).
 * - Across the rows of one or more result files, how each operation's whole time and the CLI's peak RSS grow with
 *   the fleet (log scale), one line per scenario and operation through the mean of the runs at each size.
 *
 *   npm run bench:charts -- --in bench/results/latest.json[,other.json] --out-dir bench/results/charts/<name>
 *
 * `npm run bench -- --charts-dir DIR` draws the charts of its own run.
 */
import * as fs from "fs";
import * as path from "path";
import { pathToFileURL } from "url";
import type { TopLevelSpec } from "vega-lite/build/index";
import { PACED_SHARE, QUOTA, type MeasuredStep, type ScenarioResult } from "./report";

/** What the charts read of a results file (`bench/results/latest.json`). */
export interface BenchRun {
  readonly results: readonly ScenarioResult[];
}

/** A chart to write: its file name in the output folder and its Vega-Lite spec. */
export interface Chart {
  readonly file: string;
  readonly spec: TopLevelSpec;
}

const SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json";
const PACED = QUOTA * PACED_SHARE;
/** Long series names (scenario title and operation) stay whole in the legend (without a canvas, Vega overestimates widths). */
const LEGEND = { labelLimit: 1000, orient: "bottom", direction: "vertical" } as const;
/** One layer of a layered chart. */
type Layer = Extract<TopLevelSpec, { layer: unknown }>["layer"][number];
const int = (n: number) => Math.round(n).toLocaleString("en-US");

/** Wall time of the operation's own `pulumi` process (else the whole Automation API call), ms. */
function wholeMs(st: MeasuredStep): number {
  return st.cliStartedAt !== undefined && st.cliEndedAt !== undefined
    ? st.cliEndedAt - st.cliStartedAt
    : st.endedAt - st.startedAt;
}

/**
 * The reset rate of each engine operation of one scenario: x the seconds since the operation's first reset, y the
 * successful resets in that second, one line per operation, with rules at the quota and at 98% of it. Undefined when
 * no operation reset more than one device.
 */
export function resetRateSpec(s: ScenarioResult): TopLevelSpec | undefined {
  const steps = (s.engine?.steps ?? []).filter((st) => (st.resetsPerSecond?.length ?? 0) > 0);
  if (steps.length === 0) return undefined;
  const values = steps.flatMap((st) =>
    (st.resetsPerSecond ?? []).map((resets, second) => ({ operation: st.id, second, resets })),
  );
  const y = { field: "value", type: "quantitative", title: "resets/s" } as const;
  // The quota's label above its rule, the pace's below its own: 10 resets/s apart, they would overlap.
  const rules = [
    { value: QUOTA, label: `quota ${QUOTA}/s`, baseline: "bottom", dy: -2 },
    { value: PACED, label: `${PACED_SHARE * 100}%: ${PACED}/s`, baseline: "top", dy: 2 },
  ] as const;
  return {
    $schema: SCHEMA,
    title: {
      text: `${s.title}, ${int(s.devices)} devices`,
      subtitle: "successful ResetThing calls in each whole second of the operation",
    },
    width: 640,
    height: 280,
    background: "white",
    layer: [
      {
        data: { values: values.map(({ operation, second, resets }) => ({ operation, second, value: resets })) },
        // A short update has a few seconds only: each one marked.
        mark: { type: "line", strokeWidth: 1.5, point: steps.every((st) => (st.resetsPerSecond?.length ?? 0) <= 60) },
        encoding: {
          x: {
            field: "second",
            type: "quantitative",
            title: "seconds since the first reset",
            axis: { tickMinStep: 1, format: "d" },
          },
          y,
          color: {
            field: "operation",
            type: "nominal",
            title: "operation",
            scale: { domain: steps.map((st) => st.id) },
          },
        },
      },
      ...rules.map(({ value, label, baseline, dy }): Layer => ({
        data: { values: [{ value, label }] },
        layer: [
          { mark: { type: "rule", strokeDash: [4, 3], color: "#666" }, encoding: { y } },
          {
            mark: { type: "text", align: "right", baseline, dy, color: "#444", fontSize: 10 },
            encoding: { x: { value: "width" }, y, text: { field: "label" } },
          },
        ],
      })),
    ],
  };
}

/** One operation of one scenario run, as the growth chart plots it. */
interface GrowthRow {
  readonly series: string;
  readonly devices: number;
  readonly seconds: number;
  readonly cliMiB?: number;
}

/** The engine operations that succeeded, across the runs (the warm-up left out). */
function growthRows(runs: readonly BenchRun[]): GrowthRow[] {
  return runs.flatMap((run) =>
    run.results
      .filter((s) => s.id !== "warmup" && s.status !== "skipped")
      .flatMap((s) =>
        (s.engine?.steps ?? [])
          .filter((st) => st.exitCode === 0)
          .map((st) => ({
            series: `${s.title}: ${st.id}`,
            devices: s.devices,
            seconds: wholeMs(st) / 1000,
            // 0 when the sampler saw no `pulumi` process of the operation: not a measurement.
            ...(st.peakBytes?.cli ? { cliMiB: st.peakBytes.cli / 1024 / 1024 } : {}),
          })),
      ),
  );
}

/** A panel of a vertical concatenation. */
type Panel = Extract<TopLevelSpec, { vconcat: unknown }>["vconcat"][number];

/** One panel of the growth chart: every run as a point, a line through the mean at each fleet size. */
function growthPanel(field: "seconds" | "cliMiB", title: string, domain: string[]): Panel {
  const x = { field: "devices", title: "devices", scale: { type: "log" }, axis: { format: "~s" } } as const;
  const color = { field: "series", title: "scenario: operation", scale: { domain }, legend: LEGEND } as const;
  return {
    width: 640,
    height: 260,
    transform: [{ filter: `isValid(datum.${field})` }],
    layer: [
      {
        mark: { type: "line", strokeWidth: 1.5 },
        encoding: {
          x: { ...x, type: "quantitative" },
          y: { field, aggregate: "mean", type: "quantitative", title },
          color: { ...color, type: "nominal" },
        },
      },
      {
        mark: { type: "point", filled: true, size: 30 },
        encoding: {
          x: { ...x, type: "quantitative" },
          y: { field, type: "quantitative", title },
          color: { ...color, type: "nominal" },
        },
      },
    ],
  };
}

/**
 * How each operation's whole time (its own `pulumi` process) and the CLI's peak RSS grow with the fleet, across the
 * rows of the given runs: two panels, x the devices on a log scale. Undefined when no engine operation succeeded.
 */
export function growthSpec(runs: readonly BenchRun[]): TopLevelSpec | undefined {
  const rows = growthRows(runs);
  if (rows.length === 0) return undefined;
  const domain = [...new Set(rows.map((r) => r.series))];
  return {
    $schema: SCHEMA,
    title: {
      text: "Whole time and CLI peak memory of each operation against the fleet size",
      subtitle: "every run a point, the line through the mean at each size",
    },
    background: "white",
    data: { values: rows },
    vconcat: [growthPanel("seconds", "whole time (s)", domain), growthPanel("cliMiB", "CLI peak RSS (MiB)", domain)],
  };
}

/**
 * Every chart of the runs: one reset-rate chart per engine scenario (`resets-<id>-<devices>.svg`, numbered when a
 * file has the same scenario and size twice, prefixed with the file's `names` entry when there are several files),
 * then `growth.svg` across all of them.
 */
export function chartsOf(runs: readonly BenchRun[], names: readonly string[] = []): Chart[] {
  const charts: Chart[] = [];
  runs.forEach((run, i) => {
    const prefix = runs.length > 1 ? `${names[i] ?? `run${i + 1}`}-` : "";
    const seen = new Map<string, number>();
    for (const s of run.results) {
      if (s.id === "warmup") continue;
      const spec = resetRateSpec(s);
      if (!spec) continue;
      const base = `${prefix}resets-${s.id}-${s.devices}`;
      const k = (seen.get(base) ?? 0) + 1;
      seen.set(base, k);
      charts.push({ file: `${base}${k > 1 ? `-${k}` : ""}.svg`, spec });
    }
  });
  const growth = growthSpec(runs);
  if (growth) charts.push({ file: "growth.svg", spec: growth });
  return charts;
}

/**
 * Node's own `import()`. TypeScript's CommonJS output turns `import()` into `require()`, and Vega cannot be required:
 * its ESM build awaits at the top level.
 */
const importModule = new Function("url", "return import(url)") as (url: string) => Promise<unknown>;
const load = async <T>(name: string) => (await importModule(pathToFileURL(require.resolve(name)).href)) as T;

/** Renders a Vega-Lite spec to SVG with Vega's headless view (`renderer: 'none'`). */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const vl = await load<typeof import("vega-lite/build/index")>("vega-lite");
  const vega = await load<typeof import("vega")>("vega");
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Renders every chart of the runs into `outDir` (created when missing); returns the files written. */
export async function writeCharts(runs: readonly BenchRun[], outDir: string, names?: readonly string[]) {
  fs.mkdirSync(outDir, { recursive: true });
  const written: string[] = [];
  for (const chart of chartsOf(runs, names)) {
    const file = path.join(outDir, chart.file);
    fs.writeFileSync(file, (await renderSvg(chart.spec)) + "\n");
    written.push(file);
  }
  return written;
}

const USAGE = `usage: node lib/bench/charts.js --in FILE[,FILE…] --out-dir DIR
  --in FILE[,FILE…]   results of \`npm run bench\` (bench/results/latest.json or a kept copy); the growth chart
                      takes the rows of all of them
  --out-dir DIR       where the SVG files go (created when missing)`;

async function main(argv: string[]): Promise<void> {
  const fail = (msg: string): never => {
    process.stderr.write(`bench:charts: ${msg}\n${USAGE}\n`);
    process.exit(2);
  };
  let inputs: string[] = [];
  let outDir: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === "--help" || flag === "-h") {
      process.stdout.write(USAGE + "\n");
      return;
    }
    const value = argv[++i];
    if (value === undefined) fail(`\`${flag}\` needs a value`);
    else if (flag === "--in") inputs = value.split(",").filter(Boolean);
    else if (flag === "--out-dir") outDir = value;
    else fail(`unknown flag \`${flag}\``);
  }
  if (inputs.length === 0) fail("`--in` names no results file");
  if (outDir === undefined) fail("`--out-dir` is missing");
  const runs = inputs.map((file) => JSON.parse(fs.readFileSync(file, "utf8")) as BenchRun);
  const names = inputs.map((file) => path.basename(file, ".json"));
  for (const file of await writeCharts(runs, outDir!, names)) process.stdout.write(`${file}\n`);
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`bench:charts: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  });
}
