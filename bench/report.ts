/**
 * The benchmark's markdown: one row per scenario, the follow-up operations on rolled-out stacks, then the
 * design's performance targets with what was measured and whether each was met.
 */
import type { EngineStepOutcome } from "./engine-job";
import type { JournalMeasure, RequestCount } from "./journal-bucket";
import type { DeviceCoverage, MemoryPeaks, ResetTraffic, StateSizes } from "./metrics";
import type { JobResult } from "./workload";

/** One engine operation of a scenario, with the ResetThing calls the emulator answered while it ran. */
export interface MeasuredStep extends EngineStepOutcome {
  /** ResetThing calls answered during the operation, any outcome. */
  readonly resetCalls: number;
  /** Successful resets among them. */
  readonly resets: number;
  /** CPU seconds of the CLI and provider-host processes started during the operation (each operation starts its own). */
  readonly cpuSeconds?: { readonly cli: number; readonly provider: number };
  /** From the start of the operation's `pulumi` process to the first ResetThing answered, ms. */
  readonly firstResetMs?: number;
  /** From the first to the last ResetThing answered during the operation, ms, and successful resets per second over it. */
  readonly resetSpanMs?: number;
  readonly resetQps?: number;
  /** Successful resets in each second from the first one: where the rate sagged, in the JSON only. */
  readonly resetsPerSecond?: readonly number[];
  /** Peak RSS of the CLI and of the provider host the operation started, bytes. */
  readonly peakBytes?: { readonly cli: number; readonly provider: number };
}

/** Everything measured in one scenario. */
export interface ScenarioResult {
  /** Stable id, e.g. `cohort-clean`; with `devices` it names the run. */
  readonly id: string;
  /** What the scenario is, in the table. */
  readonly title: string;
  readonly status: "ok" | "failed" | "skipped";
  /** Why it failed or was skipped. */
  readonly failure?: string;
  /** Devices the scenario's first rollout resets (measured, not extrapolated). */
  readonly devices: number;
  /** The scenario's time limit. */
  readonly timeoutMs: number;
  /** Emulator settings of this scenario. */
  readonly emulator?: {
    readonly latency: { fixedMs: number; jitterMs: number };
    readonly faults?: Record<string, unknown>;
    readonly resetQuota: number;
  };
  /** 1-minute load average before and after (the machine is shared). */
  readonly loadavg?: { readonly before: number; readonly after: number };
  /**
   * Wall time of the measured work, ms: for engine scenarios the `pulumi up --skip-preview` process of the
   * rollout; for bare-SDK ones the loop.
   */
  readonly wallMs?: number;
  /** From the start of the rollout's `pulumi up` to the first ResetThing answered, and from the last one to its end, ms. */
  readonly phases?: { readonly beforeFirstResetMs: number; readonly afterLastResetMs: number };
  /** ResetThing traffic of the rollout (engine scenarios) or of the whole workload. */
  readonly traffic?: ResetTraffic;
  /** Every expected device's reset count at the end of the scenario. */
  readonly coverage?: DeviceCoverage;
  readonly memory?: MemoryPeaks;
  /** The engine operations, in order. */
  readonly engine?: { readonly cliVersion: string; readonly steps: readonly MeasuredStep[] };
  readonly calls?: Extract<JobResult, { ok: true }>["calls"];
  readonly overhead?: Extract<JobResult, { ok: true }>["overhead"];
  /** Processes of the scenario's process group still alive after the workload process exited (then killed). */
  readonly leftoverProcesses?: number;
  /** With `--journal s3`: the journal bucket's requests and objects. */
  readonly journal?: JournalMeasure;
}

/** The overhead figures derived from several scenarios. */
export interface Overhead {
  /** Method 1, per N: cohort rollout span over the paced bare-SDK span, minus 1. */
  readonly throughput?: ReadonlyArray<{
    readonly devices: number;
    readonly cohortSpanMs: number;
    readonly pacedSpanMs: number;
    readonly overhead: number;
  }>;
  /** Method 2: sequential provider create against a bare SDK call, same latency draws. */
  readonly perCall?: {
    readonly providerMeanMs: number;
    readonly sdkMeanMs: number;
    readonly overhead: number;
    readonly providerCpuUs: number;
    readonly sdkCpuUs: number;
    readonly calls: number;
  };
}

export const QUOTA = 500;
/** The share of the quota the provider paces at (provider/host/pacer.ts). */
export const PACED_SHARE = 0.98;

const int = (n: number) => Math.round(n).toLocaleString("en-US");
const sec = (ms: number | undefined) => (ms === undefined ? "–" : (ms / 1000).toFixed(1));
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const signedPct = (x: number) => `${x >= 0 ? "+" : ""}${(x * 100).toFixed(1)}%`;
const mib = (b: number | undefined) => (b === undefined ? "–" : (b / 1024 / 1024).toFixed(0));

/** The rollout: the scenario's first `pulumi up`. */
function rolloutOf(s: ScenarioResult): MeasuredStep | undefined {
  return s.engine?.steps.find((st) => st.op === "up");
}

function stepOf(s: ScenarioResult | undefined, id: string): MeasuredStep | undefined {
  return s?.engine?.steps.find((st) => st.id === id);
}

/** Wall time of the operation's own `pulumi` process (else the whole Automation API call), ms. */
function cliMs(st: MeasuredStep | undefined): number | undefined {
  if (!st) return undefined;
  return st.cliStartedAt !== undefined && st.cliEndedAt !== undefined
    ? st.cliEndedAt - st.cliStartedAt
    : st.endedAt - st.startedAt;
}

function checkpointOf(s: ScenarioResult | undefined): StateSizes | undefined {
  return s?.engine?.steps.find((st) => st.checkpoint)?.checkpoint;
}

function userErrors(s: ScenarioResult): string {
  const rollout = rolloutOf(s);
  if (rollout) return `exit ${rollout.exitCode}, ${rollout.errorCount} error${rollout.errorCount === 1 ? "" : "s"}`;
  if (s.calls) {
    if (s.calls.failed === 0) return "0";
    const codes = Object.entries(s.calls.errorsByCode)
      .sort((a, b) => b[1] - a[1])
      .map(([code, n]) => `${code} ${int(n)}`)
      .join(", ");
    return `${int(s.calls.failed)} (${codes})`;
  }
  if (s.overhead) return String(s.overhead.failures);
  return "–";
}

function faultsCell(t: ResetTraffic | undefined): string {
  if (!t) return "–";
  if (t.faultsTotal === 0) return "0";
  const kinds = Object.entries(t.faults)
    .map(([k, n]) => `${k} ${n}`)
    .join(", ");
  return `${int(t.faultsTotal)} (${kinds})`;
}

const COLUMNS = [
  "scenario",
  "devices",
  "preview (s)",
  "apply (s)",
  "before 1st reset (s)",
  "reset span (s)",
  "resets/s",
  "% of 500 QPS",
  "peak 1-s window",
  "quota-throttled calls",
  "faults injected",
  "errors reaching the user",
  "not reset",
  "reset >1×",
  "CLI peak RSS (MiB)",
  "provider peak RSS (MiB)",
  "checkpoint B/device",
];

/** The scenario table. The sequential loop also gets a row scaled to `n` devices, marked as extrapolated. */
export function scenarioTable(results: readonly ScenarioResult[], n: number): string {
  const rows = [`| ${COLUMNS.join(" | ")} |`, "|" + " --- |".repeat(COLUMNS.length)];
  const blank = (filled: number) => " |".repeat(COLUMNS.length - filled);
  for (const s of results) {
    if (s.status === "skipped") {
      rows.push(`| ${s.title} | ${int(s.devices)} | SKIPPED: ${s.failure ?? ""} |` + blank(3));
      continue;
    }
    const t = s.traffic;
    const failed = s.status === "failed" ? `FAILED: ${(s.failure ?? "").split("\n")[0]?.slice(0, 160)}` : undefined;
    const checkpoint = checkpointOf(s);
    const cells = [
      s.title,
      int(s.devices),
      s.engine ? sec(cliMs(stepOf(s, "preview"))) : "–",
      failed ? `${sec(s.wallMs)} — ${failed}` : sec(s.wallMs),
      sec(s.phases?.beforeFirstResetMs),
      t ? sec(t.spanMs) : "–",
      t ? int(t.qps) : "–",
      t ? pct(t.qps / QUOTA) : "–",
      t ? int(t.peakWindowResets) : "–",
      t ? int(t.quotaThrottled) : "–",
      faultsCell(t),
      userErrors(s),
      s.coverage ? int(s.coverage.notReset) : "–",
      s.coverage ? int(s.coverage.resetMoreThanOnce) : "–",
      s.memory?.cli !== undefined ? mib(s.memory.cli) : "n/a",
      s.memory?.provider !== undefined ? mib(s.memory.provider) : "n/a",
      checkpoint ? int(checkpoint.bytesPerDevice) : "n/a",
    ];
    rows.push(`| ${cells.join(" | ")} |`);
    if (s.id === "sdk-sequential" && s.status === "ok" && s.wallMs !== undefined && s.devices < n) {
      const ms = (s.wallMs * n) / s.devices;
      rows.push(
        `| ↳ same loop, **extrapolated** to ${int(n)} devices | ${int(n)} (extrapolated) | – | **${sec(ms)} (extrapolated)** |` +
          blank(4),
      );
    }
  }
  return rows.join("\n");
}

const OPERATION: Record<string, (devices: number) => string> = {
  "noop-preview": () => "no-op `pulumi preview`",
  "noop-up": () => "no-op `pulumi up --skip-preview`",
  promotion: () => "stage promotion 1 → 2 of [50, 100], `pulumi up`",
  "one-device": (n) => `one device added to the fleet (${int(n)} → ${int(n + 1)}), \`pulumi up\``,
  campaign: () => "campaign change, `pulumi up` (every batch replaced)",
};

/** The operations after a rollout: a no-op preview, a one-device change, a campaign change. */
export function changesTable(results: readonly ScenarioResult[]): string {
  const rows = [
    "| stack | operation | CLI (s) | with the Automation API's own calls (s) | ResetThing calls | resets | resources by engine operation | exit |",
    "| --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const s of results) {
    for (const st of s.engine?.steps ?? []) {
      const label = OPERATION[st.id];
      if (!label) continue;
      const ops = Object.entries(st.ops)
        .map(([op, k]) => `${op} ${int(k)}`)
        .join(", ");
      rows.push(
        `| ${s.title}, ${int(s.devices)} | ${label(s.devices)} | ${sec(cliMs(st))} | ${sec(st.endedAt - st.startedAt)} | ` +
          `${int(st.resetCalls)} | ${int(st.resets)} | ${ops} | ${st.exitCode}${st.errorCount ? `, ${st.errorCount} errors` : ""} |`,
      );
    }
  }
  return rows.length > 2 ? rows.join("\n") : "";
}

const STEP_LABEL: Record<string, (devices: number) => string> = {
  ...OPERATION,
  preview: () => "`pulumi preview` of the first rollout",
  up: () => "first rollout, `pulumi up --skip-preview`",
  "stage-1": () => "stage 1 of [50, 100] (first rollout of half), `pulumi up`",
};

/**
 * Every operation of the engine scenarios, one row each: whole time of the `pulumi` process, time to its first reset,
 * the reset rate over the reset span as a share of the quota, the checkpoint after it, and the peak memory and CPU of
 * the CLI and provider-host processes it started.
 */
export function operationsTable(results: readonly ScenarioResult[]): string {
  const rows = [
    "| scenario | devices | emulator latency | operation | whole (s) | to 1st reset (s) | resets | reset span (s) | % of 500 QPS | checkpoint (B) | B/device | CLI peak RSS (MiB) | host peak RSS (MiB) | CLI CPU (s) | host CPU (s) | exit |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const s of results) {
    const latency = s.emulator ? `${s.emulator.latency.fixedMs}+0..${s.emulator.latency.jitterMs} ms` : "–";
    for (const st of s.engine?.steps ?? []) {
      const label = STEP_LABEL[st.id]?.(s.devices) ?? st.id;
      const cp = st.checkpoint;
      rows.push(
        `| ${s.title} | ${int(s.devices)} | ${latency} | ${label} | ${sec(cliMs(st))} | ` +
          `${st.firstResetMs !== undefined ? sec(st.firstResetMs) : "–"} | ${int(st.resets)} | ` +
          `${st.resetSpanMs !== undefined && st.resets >= 100 ? sec(st.resetSpanMs) : "–"} | ` +
          `${st.resetQps !== undefined && st.resets >= 100 ? pct(st.resetQps / QUOTA) : "–"} | ` +
          `${cp ? int(cp.fileBytes) : "–"} | ${cp ? int(cp.fileBytes / s.devices) : "–"} | ` +
          `${st.peakBytes ? mib(st.peakBytes.cli) : "n/a"} | ${st.peakBytes ? mib(st.peakBytes.provider) : "n/a"} | ` +
          `${st.cpuSeconds ? st.cpuSeconds.cli.toFixed(1) : "n/a"} | ${st.cpuSeconds ? st.cpuSeconds.provider.toFixed(1) : "n/a"} | ` +
          `${st.exitCode}${st.errorCount ? `, ${st.errorCount} errors` : ""} |`,
      );
    }
  }
  return rows.length > 2 ? rows.join("\n") : "";
}

/** CPU time of the CLI and the provider host per operation: where the engine's time goes. */
export function cpuTable(results: readonly ScenarioResult[]): string {
  const rows = [
    "| scenario | devices | operation | CLI wall (s) | CLI CPU (s) | provider host CPU (s) | provider host CPU per reset (ms) |",
    "| --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const s of results) {
    for (const st of s.engine?.steps ?? []) {
      if (!st.cpuSeconds) continue;
      // Per reset only where resets are the operation's work (a rollout, a campaign change), not a one-device change.
      const perReset = st.resets >= s.devices / 2 ? ((st.cpuSeconds.provider * 1000) / st.resets).toFixed(1) : "–";
      rows.push(
        `| ${s.title} | ${int(s.devices)} | ${st.id} | ${sec(cliMs(st))} | ${st.cpuSeconds.cli.toFixed(1)} | ${st.cpuSeconds.provider.toFixed(1)} | ${perReset} |`,
      );
    }
  }
  return rows.length > 2 ? rows.join("\n") : "";
}

const countOf = (by: Record<string, RequestCount>, ...kinds: string[]) =>
  kinds.reduce((a, k) => a + (by[k]?.count ?? 0), 0);

/**
 * With the journal in S3: the requests of the rollout's `pulumi up` as the counting proxy saw them (SDK retries
 * included), PUTs per 1,000 resets, the segment PUT's latency, and the journal's folder at the end of the scenario.
 */
export function journalTable(results: readonly ScenarioResult[]): string {
  const rows = [
    "| scenario | devices | resets in the rollout | PUTs (segment + probe + other) | PUTs per 1,000 resets | GETs | LISTs | DELETEs | segment PUT ms (mean / p50 / p99 / max) | segment PUTs created, whole scenario | segments at the end | lines per segment (mean / max) | segment bytes | snapshots |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const s of results) {
    const j = s.journal;
    if (!j) continue;
    const r = j.rollout;
    const resets = s.traffic?.succeeded ?? 0;
    const puts = countOf(r, "PUT segment", "PUT probe", "PUT other");
    const seg = r["PUT segment"];
    const o = j.objects;
    rows.push(
      `| ${s.title} | ${int(s.devices)} | ${int(resets)} | ${int(puts)} (${int(seg?.count ?? 0)} + ${int(countOf(r, "PUT probe"))} + ${int(countOf(r, "PUT other"))}) | ` +
        `${resets > 0 ? ((puts * 1000) / resets).toFixed(2) : "–"} | ${int(countOf(r, "GET"))} | ${int(countOf(r, "LIST"))} | ${int(countOf(r, "DELETE"))} | ` +
        (seg
          ? `${seg.meanMs.toFixed(1)} / ${seg.p50Ms.toFixed(1)} / ${seg.p99Ms.toFixed(1)} / ${seg.maxMs.toFixed(0)}`
          : "–") +
        ` | ${int(j.total["PUT segment"]?.ok ?? 0)} | ${int(o.segments)} | ${o.segments ? (o.lines / o.segments).toFixed(1) : "–"} / ${int(o.maxLines)} | ${int(o.bytes)} | ${o.snapshots} |`,
    );
  }
  return rows.length > 2 ? rows.join("\n") : "";
}

/** One row of the targets table. */
interface TargetRow {
  readonly target: string;
  readonly measured: string;
  readonly verdict: string;
}

const verdict = (ok: boolean | undefined) => (ok === undefined ? "not measured" : ok ? "met" : "**MISSED**");

/** What the rollout of an engine scenario did, in one sentence. */
function rolloutText(s: ScenarioResult): string {
  const t = s.traffic;
  if (!t) return s.failure ?? "–";
  const ideal = (s.devices / QUOTA) * 1000;
  return (
    `span ${sec(t.spanMs)} s for ${int(t.succeeded)} resets = ${int(t.qps)}/s = ${pct(t.qps / QUOTA)} of quota (ideal ${sec(ideal)} s)` +
    (t.faultsTotal > 0
      ? `; ${int(t.calls / (t.spanMs / 1000))} calls/s with retries. Faulted calls do not count against the quota, so a pacer at ${pct(PACED_SHARE)} of it ` +
        `over all attempts tops out at ${PACED_SHARE} × ${pct(t.succeeded / t.calls)} success = ${pct((PACED_SHARE * t.succeeded) / t.calls)} of the quota in resets`
      : "")
  );
}

/** The design's performance targets against the measurements. */
export function targetTable(results: readonly ScenarioResult[], overhead: Overhead): string {
  const runs = (id: string) => results.filter((r) => r.id === id && r.status !== "skipped");
  const rows: TargetRow[] = [];
  const ok = (s: ScenarioResult) => s.status === "ok" && s.coverage?.notReset === 0;

  const quotaRow = (label: string, s: ScenarioResult, share: number, note = "") => {
    const t = s.traffic;
    rows.push({
      target: `reset phase ≥ ${share * 100}% of the quota — ${label}, ${int(s.devices)}${note}`,
      measured: rolloutText(s),
      verdict: verdict(t ? ok(s) && t.qps / QUOTA >= share : false),
    });
  };
  // The design's targets (shared DESIGN.md, "Performance targets"): ≥ 95% of the quota, N/500 + 15 s.
  for (const s of runs("cohort-clean")) quotaRow("cohort, clean", s, 0.95);
  for (const s of runs("cohort-faults")) quotaRow("cohort, 5% transient faults", s, 0.95);
  for (const s of runs("cohort-faults-no-throttle"))
    quotaRow("(diagnostic) cohort, 5% faults without injected Throttling", s, 0.95);
  for (const s of runs("per-device"))
    quotaRow("one resource per device, clean", s, 0.95, " (DESIGN states the targets for a cohort)");

  const wholeRow = (label: string, s: ScenarioResult, st: MeasuredStep | undefined, note = "") => {
    const ms = cliMs(st);
    const budget = (s.devices / QUOTA) * 1000 + 15_000;
    const first = st === rolloutOf(s) ? s.phases : undefined;
    rows.push({
      target: `whole \`pulumi up --skip-preview\` ≤ N/500 + 15 s — ${label}, ${int(s.devices)}${note}`,
      measured:
        ms === undefined
          ? (s.failure ?? "–")
          : `${sec(ms)} s against ${sec(budget)} s` +
            (first
              ? ` (${sec(first.beforeFirstResetMs)} s before the first reset, ${sec(s.traffic?.spanMs)} s of resets, ${sec(first.afterLastResetMs)} s after the last)`
              : ""),
      verdict: verdict(ms === undefined ? false : ok(s) && st?.exitCode === 0 && ms <= budget),
    });
  };
  for (const s of runs("cohort-clean")) wholeRow("cohort, first rollout, clean", s, rolloutOf(s));
  for (const s of runs("cohort-faults")) wholeRow("cohort, first rollout, 5% transient faults", s, rolloutOf(s));
  for (const s of runs("cohort-campaign")) wholeRow("cohort, campaign change", s, stepOf(s, "campaign"));
  for (const s of runs("per-device"))
    wholeRow("one resource per device", s, rolloutOf(s), " (DESIGN states the targets for a cohort)");

  const oneDeviceRow = (label: string, s: ScenarioResult) => {
    const st = stepOf(s, "one-device");
    const ms = cliMs(st);
    rows.push({
      target: `a one-device change applies in < 10 s (stated at 20,000 devices) — ${label}, ${int(s.devices)}`,
      measured: st
        ? `${sec(ms)} s for the CLI (${sec(st.endedAt - st.startedAt)} s with the Automation API's own calls); ${int(st.resetCalls)} ResetThing call(s), ${int(st.resets)} reset`
        : "–",
      verdict: verdict(st && ms !== undefined ? st.exitCode === 0 && st.resetCalls === 1 && ms < 10_000 : undefined),
    });
  };
  for (const s of runs("cohort-clean")) oneDeviceRow("cohort", s);
  for (const s of runs("per-device")) oneDeviceRow("one resource per device", s);

  for (const s of runs("cohort-clean")) {
    const st = stepOf(s, "noop-preview");
    const ms = cliMs(st);
    rows.push({
      target: `a no-op \`pulumi preview\` takes < 5 s (stated at 20,000 devices) — cohort, ${int(s.devices)}`,
      measured: st ? `${sec(ms)} s for the CLI; ${int(st.resetCalls)} ResetThing calls` : "–",
      verdict: verdict(st && ms !== undefined ? st.exitCode === 0 && st.resetCalls === 0 && ms < 5_000 : undefined),
    });
  }

  for (const s of [...runs("cohort-clean"), ...runs("cohort-faults")]) {
    const st = rolloutOf(s);
    rows.push({
      target: `no throttling error reaching the user — ${s.title}, ${int(s.devices)}`,
      measured: st
        ? `\`pulumi up\` exit ${st.exitCode}, ${st.errorCount} errors; ${s.traffic ? int(s.traffic.quotaThrottled) : "–"} quota-throttled calls retried; ` +
          `${s.coverage ? int(s.coverage.notReset) : "–"} devices not reset, ${s.coverage ? int(s.coverage.resetMoreThanOnce) : "–"} reset twice`
        : (s.failure ?? "–"),
      verdict: verdict(st ? ok(s) && st.exitCode === 0 : false),
    });
  }

  const sized = results.map((s) => checkpointOf(s)).filter((x): x is StateSizes => x !== undefined);
  const providerBytes = sized.length ? Math.max(...sized.map((x) => x.providerBytes)) : undefined;
  rows.push({
    target: "serialized provider ≤ 4 KB",
    measured: providerBytes === undefined ? "–" : `${int(providerBytes)} B (\`__provider\` text in the checkpoint)`,
    verdict: verdict(providerBytes === undefined ? undefined : providerBytes <= 4096),
  });
  for (const s of runs("per-device")) {
    const st = checkpointOf(s);
    if (!st) continue;
    rows.push({
      target: `state per device resource ≤ 2 KB plus Pulumi's own metadata — one DeviceRegistrationReset per device, ${int(s.devices)}`,
      measured:
        `inputs + outputs ${int(st.payloadBytesPerDevice)} B/resource compact JSON, of which ${int(st.payloadBytesPerDevice - st.payloadBytesPerDeviceWithoutProvider)} B are the two \`__provider\` copies ` +
        `(${int(st.payloadBytesPerDeviceWithoutProvider)} B without them); checkpoint ${int(st.bytesPerResource)} B/resource`,
      // The performance targets budget the serialized provider separately (≤ 4 KB, stored twice per resource by Pulumi), so this
      // target is read as the package's own payload; both figures are shown.
      verdict:
        st.payloadBytesPerDeviceWithoutProvider <= 2048
          ? `met without \`__provider\` (budgeted separately); ${st.payloadBytesPerDevice <= 2048 ? "met" : "**MISSED**"} with its two copies`
          : "**MISSED**",
    });
  }
  for (const s of runs("cohort-clean")) {
    const st = checkpointOf(s);
    if (!st) continue;
    rows.push({
      target: `state per device ≤ 2 KB — DeviceCohortReset (batchSize 500), ${int(s.devices)}`,
      measured: `inputs + outputs ${int(st.payloadBytesPerDevice)} B/device compact JSON; checkpoint ${int(st.bytesPerDevice)} B/device (${int(st.fileBytes)} B, ${int(st.customResources)} batch resources)`,
      verdict: verdict(st.payloadBytesPerDevice <= 2048),
    });
  }
  for (const th of overhead.throughput ?? []) {
    rows.push({
      target: `provider overhead per reset ≤ 5% — method 1: cohort rollout span vs paced bare SDK (${QUOTA * PACED_SHARE} QPS, 64 workers), ${int(th.devices)}`,
      measured: `${sec(th.cohortSpanMs)} s vs ${sec(th.pacedSpanMs)} s = ${signedPct(th.overhead)}`,
      verdict: verdict(th.overhead <= 0.05),
    });
  }
  const pc = overhead.perCall;
  rows.push({
    target:
      "provider overhead per reset ≤ 5% — method 2: provider create vs bare SDK call, sequential, same latency draws",
    measured: pc
      ? `${pc.providerMeanMs.toFixed(2)} ms vs ${pc.sdkMeanMs.toFixed(2)} ms per call = ${signedPct(pc.overhead)} (${int(pc.calls)} calls each); ` +
        `client CPU ${int(pc.providerCpuUs)} µs vs ${int(pc.sdkCpuUs)} µs per call`
      : "–",
    verdict: verdict(pc ? pc.overhead <= 0.05 : undefined),
  });
  const out = ["| target (ARCHITECTURE.md, issue) | measured | verdict |", "| --- | --- | --- |"];
  for (const r of rows) out.push(`| ${r.target} | ${r.measured} | ${r.verdict} |`);
  return out.join("\n");
}
