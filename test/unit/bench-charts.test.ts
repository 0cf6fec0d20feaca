/**
 * The benchmark's charts: the Vega-Lite specs built from a run's JSON, the files named for its scenarios, and the SVG
 * that `lib/bench/charts.js` renders in Node (a process of its own: Vega is an ES module that awaits at the top level,
 * which jest's CommonJS loader cannot load).
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { chartsOf, growthSpec, resetRateSpec, type BenchRun } from "../../bench/charts";
import type { MeasuredStep, ScenarioResult } from "../../bench/report";

const CLI = path.resolve(__dirname, "..", "..", "lib", "bench", "charts.js");
const MiB = 1024 * 1024;

/** An operation whose `pulumi` process ran `seconds` s (the Automation API call 1 s more), with its resets per second. */
function step(id: string, seconds: number, cliMiB: number, perSecond?: number[]): MeasuredStep {
  return {
    id,
    op: id.includes("preview") ? "preview" : "up",
    startedAt: 1_000,
    endedAt: 2_000 + seconds * 1000,
    cliStartedAt: 1_500,
    cliEndedAt: 1_500 + seconds * 1000,
    exitCode: 0,
    ops: {},
    errors: [],
    errorCount: 0,
    outputs: {},
    resetCalls: 0,
    resets: 0,
    ...(perSecond ? { resetsPerSecond: perSecond } : {}),
    peakBytes: { cli: cliMiB * MiB, provider: 50 * MiB },
  };
}

function scenario(id: string, devices: number, steps: MeasuredStep[]): ScenarioResult {
  return {
    id,
    title: "DeviceCohortReset, operations",
    status: "ok",
    devices,
    timeoutMs: 1,
    engine: { cliVersion: "3", steps },
  };
}

const operations = (devices: number, scale: number) =>
  scenario("cohort-operations", devices, [
    step("up", 4 * scale, 100 * scale, [120, 480, 495, 300]),
    step("noop-preview", 2 * scale, 80 * scale),
    step("campaign", 6 * scale, 150 * scale, [200, 488, 90]),
  ]);

const run: BenchRun = {
  results: [scenario("warmup", 20, [step("up", 1, 10, [20, 0])]), operations(2_000, 1), operations(20_000, 3)],
};

describe("the reset-rate chart", () => {
  test("plots each operation's resets per second from its first reset, with rules at the quota and at 98% of it", () => {
    const spec = resetRateSpec(operations(2_000, 1)) as any;
    expect(spec.title).toEqual({
      text: "DeviceCohortReset, operations, 2,000 devices",
      subtitle: "successful ResetThing calls in each whole second of the operation",
    });
    const [lines, quota, paced] = spec.layer;
    expect(lines.data.values).toEqual([
      { operation: "up", second: 0, value: 120 },
      { operation: "up", second: 1, value: 480 },
      { operation: "up", second: 2, value: 495 },
      { operation: "up", second: 3, value: 300 },
      { operation: "campaign", second: 0, value: 200 },
      { operation: "campaign", second: 1, value: 488 },
      { operation: "campaign", second: 2, value: 90 },
    ]);
    expect(lines.mark.type).toBe("line");
    expect(lines.encoding.x.title).toBe("seconds since the first reset");
    expect(lines.encoding.y.title).toBe("resets/s");
    expect(lines.encoding.color.scale.domain).toEqual(["up", "campaign"]);
    expect(quota.data.values).toEqual([{ value: 500, label: "quota 500/s" }]);
    expect(paced.data.values).toEqual([{ value: 490, label: "98%: 490/s" }]);
    expect(quota.layer.map((l: any) => l.mark.type)).toEqual(["rule", "text"]);
  });

  test("is not drawn for a scenario without an operation that reset devices", () => {
    expect(resetRateSpec(scenario("engine-floor", 2_000, [step("up", 3, 90)]))).toBeUndefined();
  });
});

describe("the growth chart", () => {
  test("has one row per successful operation of every run: devices, the pulumi process's seconds, the CLI's peak MiB", () => {
    const failed = { ...step("one-device", 9, 999), exitCode: 1 };
    // The sampler saw no `pulumi` process of the preview (peak 0): its time counts, its memory is not plotted.
    const unseen = step("noop-preview", 20, 0);
    const other: BenchRun = {
      results: [scenario("cohort-operations", 100_000, [step("up", 40, 1_000), unseen, failed])],
    };
    const spec = growthSpec([run, other]) as any;
    expect(spec.data.values).toEqual([
      { series: "DeviceCohortReset, operations: up", devices: 2_000, seconds: 4, cliMiB: 100 },
      { series: "DeviceCohortReset, operations: noop-preview", devices: 2_000, seconds: 2, cliMiB: 80 },
      { series: "DeviceCohortReset, operations: campaign", devices: 2_000, seconds: 6, cliMiB: 150 },
      { series: "DeviceCohortReset, operations: up", devices: 20_000, seconds: 12, cliMiB: 300 },
      { series: "DeviceCohortReset, operations: noop-preview", devices: 20_000, seconds: 6, cliMiB: 240 },
      { series: "DeviceCohortReset, operations: campaign", devices: 20_000, seconds: 18, cliMiB: 450 },
      { series: "DeviceCohortReset, operations: up", devices: 100_000, seconds: 40, cliMiB: 1_000 },
      { series: "DeviceCohortReset, operations: noop-preview", devices: 100_000, seconds: 20 },
    ]);
    const [time, memory] = spec.vconcat;
    expect(time.layer[0].encoding.x.scale).toEqual({ type: "log" });
    expect(time.layer[0].encoding.y).toEqual({
      field: "seconds",
      aggregate: "mean",
      type: "quantitative",
      title: "whole time (s)",
    });
    expect(memory.layer[1].encoding.y).toEqual({ field: "cliMiB", type: "quantitative", title: "CLI peak RSS (MiB)" });
  });
});

describe("the chart files", () => {
  test("one per engine scenario and size, the warm-up left out, then the growth chart", () => {
    expect(chartsOf([run]).map((c) => c.file)).toEqual([
      "resets-cohort-operations-2000.svg",
      "resets-cohort-operations-20000.svg",
      "growth.svg",
    ]);
  });

  test("several files are told apart by their names, the same scenario and size twice by a number", () => {
    const twice: BenchRun = { results: [operations(20_000, 3), operations(20_000, 3)] };
    expect(chartsOf([run, twice], ["a", "b"]).map((c) => c.file)).toEqual([
      "a-resets-cohort-operations-2000.svg",
      "a-resets-cohort-operations-20000.svg",
      "b-resets-cohort-operations-20000.svg",
      "b-resets-cohort-operations-20000-2.svg",
      "growth.svg",
    ]);
  });
});

describe("npm run bench:charts", () => {
  test("renders SVG with the axis titles and a path, the same bytes for the same input", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-charts-"));
    try {
      const input = path.join(dir, "latest.json");
      fs.writeFileSync(input, JSON.stringify(run));
      const render = (out: string) =>
        execFileSync(process.execPath, [CLI, "--in", input, "--out-dir", path.join(dir, out)], { encoding: "utf8" });
      expect(render("one")).toBe(
        ["resets-cohort-operations-2000.svg", "resets-cohort-operations-20000.svg", "growth.svg"]
          .map((f) => path.join(dir, "one", f) + "\n")
          .join(""),
      );
      render("two");
      const read = (out: string, file: string) => fs.readFileSync(path.join(dir, out, file), "utf8");

      const rate = read("one", "resets-cohort-operations-2000.svg");
      expect(rate.startsWith("<svg")).toBe(true);
      for (const text of ["seconds since the first reset", "resets/s", "quota 500/s", "98%: 490/s", "campaign"])
        expect(rate).toContain(`>${text}</text>`);
      expect(rate).toMatch(/<path [^>]*d="M/);

      const growth = read("one", "growth.svg");
      for (const text of ["devices", "whole time (s)", "CLI peak RSS (MiB)", "DeviceCohortReset, operations: campaign"])
        expect(growth).toContain(`>${text}</text>`);
      expect(growth).toMatch(/<path [^>]*d="M/);

      for (const file of fs.readdirSync(path.join(dir, "one"))) expect(read("two", file)).toBe(read("one", file));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
