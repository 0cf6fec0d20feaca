/**
 * The benchmark of record for the performance targets (ARCHITECTURE.md) (`npm run bench`).
 *
 * Against the local emulator enforcing the documented 500 QPS ResetThing quota with real-world latency, it
 * resets N devices (default 5,000) through the real path — a DeviceCohortReset program under the real Pulumi
 * CLI (Automation API, inline program, file backend; the engine's own dynamic-provider host; the real SDK):
 * `pulumi preview`, `pulumi up --skip-preview`, a no-op preview and a one-device change — clean and with 5%
 * injected transient faults, and side by side: one DeviceRegistrationReset per device, a sequential bare-SDK
 * loop, an unbounded `Promise.all` over the bare SDK, and the reference measurements for the provider's
 * overhead. With `--journal s3` the engine scenarios keep the reset journal in an S3 bucket (SeaweedFS on 127.0.0.1,
 * every request counted), with `--backend s3` their state; `--skip-checkpoints` keeps the engine from writing the
 * checkpoint after every step, and `--charts-dir` draws the run as SVG (bench/charts.ts). Everything is measured at its
 * source (the emulator's request log, /proc, the checkpoint file or object); nothing is assumed. Progress goes to
 * stderr, the markdown tables to stdout, the full results to bench/results/latest.json.
 */
import { OFFLINE_ENV } from "./env";
import { ChildProcess, execFileSync, fork } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { startEmulator, type Emulator } from "../emulator";
import { ensurePulumiCli } from "../engine/cli";
import { startS3Server, type S3Server } from "../engine/seaweedfs";
import { writeCharts } from "./charts";
import { devices, fleetOf, padFor } from "./devices";
import type { EngineStep } from "./engine-job";
import { startJournalBucket, type JournalBucket } from "./journal-bucket";
import { coverage, MemorySampler, resetTraffic } from "./metrics";
import { killSession, sessionMembers } from "./session";
import {
  changesTable,
  cpuTable,
  journalTable,
  operationsTable,
  Overhead,
  PACED_SHARE,
  QUOTA,
  ScenarioResult,
  scenarioTable,
  targetTable,
} from "./report";
import type { ChildMessage, Job, JobResult, Target } from "./workload";

const REPO = path.resolve(__dirname, "..", "..");
const PROGRAMS = path.join(REPO, "bench", "programs");
const WORKLOAD = path.join(__dirname, "workload.js");

/** The injected transient faults of the faulty cohort scenario: 5% of ResetThing calls in all. */
const FAULT_MIX = { serverError: 0.02, throttle: 0.01, drop: 0.01, badGateway: 0.01 } as const;
/**
 * A diagnostic variant: the same 5% of transient faults without injected `Throttling`, to tell the cost of
 * retrying 5xx and dropped connections from the adaptive pacer's reaction to throttling.
 */
const FAULT_MIX_WITHOUT_THROTTLE = { serverError: 0.03, drop: 0.01, badGateway: 0.01 } as const;
/** The pacing the provider aims at (PACED_SHARE of the quota), in calls per second. */
const PACED_QPS = QUOTA * PACED_SHARE;
const PACED_CONCURRENCY = 64;

interface Options {
  devices: number[];
  /** `--parallel` of the engine operations; undefined for the CLI's default. */
  parallel: number | undefined;
  /** `batchSize` of the cohort programs; undefined for the package's default. */
  batchSize: number | undefined;
  sequentialDevices: number;
  perDeviceDevices: number[];
  overheadCalls: number;
  latencyMs: number;
  jitterMs: number;
  seed: number;
  deadlineMinutes: number;
  /** Where the engine scenarios keep the reset journal: the provider's default local file, or an S3 bucket. */
  journal: "file" | "s3";
  /** Where the engine scenarios keep their state: a file backend, or a bucket of the scenario's SeaweedFS. */
  backend: "file" | "s3";
  /** `PULUMI_SKIP_CHECKPOINTS=true` for every engine operation: the checkpoint is written once, at the end. */
  skipCheckpoints: boolean;
  /** Where the run's charts go; undefined for none. */
  chartsDir: string | undefined;
  scenarios: string[];
  out: string;
}

const SCENARIOS = [
  "warmup",
  "cohort-clean",
  "cohort-faults",
  "cohort-faults-no-throttle",
  "cohort-campaign",
  "cohort-operations",
  "cohort-promotion",
  "engine-floor",
  "sdk-paced",
  "overhead",
  "sdk-sequential",
  "sdk-unbounded",
  "per-device",
  "per-device-no-checkpoints",
];
/** Asked for by name: a campaign change resets every device twice; the operations matrix is long; the others are diagnostics. */
const OPT_IN = [
  "cohort-campaign",
  "cohort-operations",
  "cohort-promotion",
  "engine-floor",
  "per-device-no-checkpoints",
];
const DEFAULT_SCENARIOS = SCENARIOS.filter((s) => !OPT_IN.includes(s));
/** Per-device resources by default: the file backend rewrites the whole checkpoint after every step (docs/performance.md). */
const DEFAULT_PER_DEVICE = 500;

const USAGE = `usage: node lib/bench/bench.js [flags]
  --devices N[,N…]         devices of the cohort and paced scenarios, one run per N (default 5000); the
                           unbounded and sequential bare-SDK rows use the first N
  --per-device-devices N[,N…]  resources of the one-resource-per-device program, one run per N (default ${DEFAULT_PER_DEVICE})
  --parallel N             \`--parallel\` of every pulumi operation (default: the CLI's, 4 × CPUs)
  --batch-size N           \`batchSize\` of the cohort programs, named in the scenario titles (default: the
                           package's, 500)
  --sequential-devices N   devices of the sequential bare-SDK loop, extrapolated to the first N (default min(500, N))
  --overhead-calls N       sequential calls per side for the per-call overhead (default 300)
  --latency-ms N           emulator fixed latency (default 25)
  --jitter-ms N            emulator uniform extra latency 0..N (default 10)
  --seed N                 fault and latency seed (default 7)
  --deadline-minutes N     global deadline; scenarios past it are skipped (default 15)
  --journal file|s3        the engine scenarios' reset journal: a local file (default), or an S3 bucket of a
                           SeaweedFS started for each scenario on 127.0.0.1, its requests counted
  --backend file|s3        the engine scenarios' state: a file backend in a temporary folder (default), or a
                           bucket of a SeaweedFS started for each scenario on 127.0.0.1 (the journal's, with
                           --journal s3)
  --skip-checkpoints       every engine operation with PULUMI_SKIP_CHECKPOINTS=true: no intermediate checkpoints,
                           the state written once at the end of each operation
  --scenarios a,b          only these (${SCENARIOS.join(", ")});
                           default all but ${OPT_IN.join(" and ")}
  --with a,b               these as well (e.g. --with ${OPT_IN.join(",")})
  --out FILE               JSON results (default bench/results/latest.json)
  --charts-dir DIR         the run's charts as SVG in DIR (bench/charts.ts; default: none)`;

function parseArgs(argv: string[]): Options {
  const o: Options = {
    devices: [5000],
    parallel: undefined,
    batchSize: undefined,
    sequentialDevices: NaN,
    perDeviceDevices: [DEFAULT_PER_DEVICE],
    overheadCalls: 300,
    latencyMs: 25,
    jitterMs: 10,
    seed: 7,
    deadlineMinutes: 15,
    journal: "file",
    backend: "file",
    skipCheckpoints: false,
    chartsDir: undefined,
    scenarios: DEFAULT_SCENARIOS,
    out: path.join(REPO, "bench", "results", "latest.json"),
  };
  const numeric: Record<
    string,
    | "sequentialDevices"
    | "overheadCalls"
    | "latencyMs"
    | "jitterMs"
    | "seed"
    | "deadlineMinutes"
    | "parallel"
    | "batchSize"
  > = {
    "--parallel": "parallel",
    "--batch-size": "batchSize",
    "--sequential-devices": "sequentialDevices",
    "--overhead-calls": "overheadCalls",
    "--latency-ms": "latencyMs",
    "--jitter-ms": "jitterMs",
    "--seed": "seed",
    "--deadline-minutes": "deadlineMinutes",
  };
  const lists: Record<string, "devices" | "perDeviceDevices"> = {
    "--devices": "devices",
    "--per-device-devices": "perDeviceDevices",
  };
  const withScenarios: string[] = [];
  const fail = (msg: string): never => {
    process.stderr.write(`bench: ${msg}\n${USAGE}\n`);
    process.exit(2);
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i] ?? "";
    if (flag === "--help" || flag === "-h") {
      process.stdout.write(USAGE + "\n");
      process.exit(0);
    }
    if (flag === "--skip-checkpoints") {
      o.skipCheckpoints = true;
      continue;
    }
    const value = argv[i + 1];
    if (value === undefined) fail(`\`${flag}\` needs a value`);
    i++;
    const key = numeric[flag];
    const listKey = lists[flag];
    if (key) {
      const n = Number(value);
      const min = key === "latencyMs" || key === "jitterMs" || key === "seed" ? 0 : 1;
      if (!Number.isFinite(n) || n < min || (key !== "deadlineMinutes" && !Number.isInteger(n)))
        fail(`\`${flag}\` must be ${min === 0 ? "a whole number ≥ 0" : "a positive number"}, got "${value}"`);
      o[key] = n;
    } else if (listKey) {
      const list = (value ?? "").split(",").map(Number);
      if (list.length === 0 || list.some((n) => !Number.isInteger(n) || n < 1))
        fail(`\`${flag}\` must be positive whole numbers separated by commas, got "${value}"`);
      o[listKey] = list;
    } else if (flag === "--with") {
      const list = (value ?? "").split(",").filter(Boolean);
      const unknown = list.filter((s) => !SCENARIOS.includes(s));
      if (unknown.length) fail(`\`--with\`: unknown ${unknown.join(", ")}; known: ${SCENARIOS.join(", ")}`);
      withScenarios.push(...list);
    } else if (flag === "--scenarios") {
      const list = (value ?? "").split(",").filter(Boolean);
      const unknown = list.filter((s) => !SCENARIOS.includes(s));
      if (unknown.length) fail(`\`--scenarios\`: unknown ${unknown.join(", ")}; known: ${SCENARIOS.join(", ")}`);
      o.scenarios = list;
    } else if (flag === "--journal") {
      if (value !== "file" && value !== "s3") fail(`\`--journal\` must be file or s3, got "${value}"`);
      o.journal = value as "file" | "s3";
    } else if (flag === "--backend") {
      if (value !== "file" && value !== "s3") fail(`\`--backend\` must be file or s3, got "${value}"`);
      o.backend = value as "file" | "s3";
    } else if (flag === "--out") {
      o.out = path.resolve(value ?? "");
    } else if (flag === "--charts-dir") {
      o.chartsDir = path.resolve(value ?? "");
    } else {
      fail(`unknown flag \`${flag}\``);
    }
  }
  o.scenarios = [...new Set([...o.scenarios, ...withScenarios])];
  const first = o.devices[0] ?? 0;
  if (Number.isNaN(o.sequentialDevices)) o.sequentialDevices = Math.min(500, first);
  if (o.sequentialDevices > first) fail("`--sequential-devices` must not exceed the first `--devices`");
  return o;
}

// ---- progress ---------------------------------------------------------------------------------------

const benchStart = Date.now();
function log(line: string): void {
  const s = Math.floor((Date.now() - benchStart) / 1000);
  process.stderr.write(
    `[bench +${String(Math.floor(s / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}] ${line}\n`,
  );
}

// ---- process and emulator bookkeeping, so that nothing outlives the benchmark ---------------------------

const liveChildren = new Set<ChildProcess>();
const liveEmulators = new Set<Emulator>();
/** SeaweedFS servers and the journal's counting proxies. */
const liveStores = new Set<{ stop(): Promise<void> }>();

async function cleanupAll(): Promise<void> {
  for (const c of liveChildren) killSession(c.pid);
  liveChildren.clear();
  await Promise.allSettled([...liveEmulators, ...liveStores].map((e) => e.stop()));
  liveEmulators.clear();
  liveStores.clear();
}

// ---- one scenario ----------------------------------------------------------------------------------------

interface ScenarioSpec {
  readonly id: string;
  readonly title: string;
  readonly devices: number;
  /** Devices the emulator's fleet holds. */
  readonly fleet: number;
  /** Devices whose resets are checked afterwards. */
  readonly expected: ReadonlyArray<{ productKey: string; deviceName: string }>;
  /** Resets each expected device should have had at the end (2 after a campaign change); default 1. */
  readonly expectedTimes?: number;
  readonly timeoutMs: number;
  readonly faults?: Record<string, unknown>;
  /** Builds the job once the emulator listens; `dir` is the scenario's own temporary folder. */
  readonly job: (target: Target, dir: string) => Job;
}

/** Runs the workload in a child process with a time limit; resolves with its result (or a failure). */
function runWorkload(job: Job, timeoutMs: number, label: string, onSpawn: (pid: number) => void): Promise<JobResult> {
  return new Promise((resolve) => {
    const child = fork(WORKLOAD, [], {
      // Its own session: a timeout kills it together with the Pulumi CLI and the provider host (see session.ts).
      detached: true,
      env: { ...process.env, ...OFFLINE_ENV },
      execArgv: [],
      // The workload's stdout is not the report: send it to stderr with the progress.
      stdio: ["ignore", 2, 2, "ipc"],
    });
    liveChildren.add(child);
    if (child.pid !== undefined) onSpawn(child.pid);
    let settled: JobResult | undefined;
    const finish = (r: JobResult) => {
      settled ??= r;
    };
    const timer = setTimeout(() => {
      finish({
        ok: false,
        error: `timed out after ${(timeoutMs / 1000).toFixed(0)} s; the workload and its processes were killed`,
      });
      log(`${label}: TIMEOUT after ${(timeoutMs / 1000).toFixed(0)} s, killing its processes`);
      killSession(child.pid);
    }, timeoutMs);
    child.on("message", (msg: ChildMessage) => {
      if (msg.kind === "progress") log(`${label}: ${msg.line}`);
      else finish(msg.result);
    });
    child.on("error", (e) => finish({ ok: false, error: `workload process: ${e.message}` }));
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      liveChildren.delete(child);
      finish({ ok: false, error: `workload process exited (${signal ?? `code ${code}`}) without a result` });
      resolve(settled!);
    });
    child.send(job);
  });
}

async function runScenario(spec: ScenarioSpec, o: Options, deadlineAt: number, tmp: string): Promise<ScenarioResult> {
  const remaining = deadlineAt - Date.now() - 15_000;
  const base = { id: spec.id, title: spec.title, devices: spec.devices, timeoutMs: spec.timeoutMs };
  if (remaining < 5_000) {
    log(`${spec.id}: skipped, the global deadline (${o.deadlineMinutes} min) is reached`);
    return { ...base, status: "skipped", failure: `global deadline of ${o.deadlineMinutes} min reached` };
  }
  const timeoutMs = Math.min(spec.timeoutMs, remaining);
  const latency = { fixedMs: o.latencyMs, jitterMs: o.jitterMs };
  const label = `${spec.id} (${spec.devices.toLocaleString("en-US")})`;
  log(`${label}: ${spec.title}, limit ${(timeoutMs / 1000).toFixed(0)} s`);
  const emu = await startEmulator({
    fleet: fleetOf(spec.fleet),
    latency,
    faults: { seed: o.seed, ...(spec.faults ?? {}), actions: ["ResetThing"] },
    quotas: { ResetThing: QUOTA },
  });
  liveEmulators.add(emu);
  const target: Target = { endpoint: emu.endpoint, ...emu.credentials };
  const dir = fs.mkdtempSync(path.join(tmp, `${spec.id}-${spec.devices}-`));
  let job = spec.job(target, dir);
  let server: S3Server | undefined;
  let bucket: JournalBucket | undefined;
  if ((o.journal === "s3" || o.backend === "s3") && job.kind === "engine") {
    // A server of the scenario's own, so that what is counted and listed afterwards is this scenario's alone.
    server = await startS3Server({ dir: path.join(dir, "s3"), log: (line) => log(`${label}: ${line}`) });
    liveStores.add(server);
    if (o.backend === "s3") {
      // Straight to the server, not through the journal's counting proxy: the state's requests are not the journal's.
      await server.createBucket(STATE_BUCKET);
      const { endpoint, region } = server;
      job = {
        ...job,
        bucketBackend: { url: server.backendUrl(STATE_BUCKET), endpoint, region, bucket: STATE_BUCKET },
        env: { ...job.env, ...server.env() },
      };
    }
    if (o.journal === "s3") {
      bucket = await startJournalBucket(server);
      liveStores.add(bucket);
      job = {
        ...job,
        config: { ...job.config, "iotReset:journal": bucket.setting },
        env: { ...job.env, ...bucket.env },
      };
    }
  }
  const notes =
    job.kind === "engine"
      ? [
          ...(o.backend === "s3" ? ["state in S3"] : []),
          ...(bucket ? ["journal in S3"] : []),
          ...(o.skipCheckpoints ? ["no intermediate checkpoints"] : []),
        ]
      : [];
  const loadBefore = os.loadavg()[0] ?? 0;
  let sampler: MemorySampler | undefined;
  let sid: number | undefined;
  let lastTotal = 0;
  const ticker = setInterval(() => {
    const total = emu.totalResets();
    if (total === lastTotal) return;
    lastTotal = total;
    // Counters, not the log: scanning 100,000 logged requests every 2 s stalls the emulator, and the calls queued
    // meanwhile reach its quota window together (throttles every 2 s at 100,000 devices).
    const throttled = emu.countOf("ResetThing", "throttled");
    const faults = emu.countOf("ResetThing", "fault");
    log(
      `${label}: ${total.toLocaleString("en-US")} resets at the emulator, ${throttled} quota-throttled, ${faults} faults`,
    );
  }, 2000);
  try {
    const result = await runWorkload(job, timeoutMs, label, (pid) => {
      sid = pid;
      sampler = new MemorySampler(pid, 200);
      sampler.start();
    });
    const memory = sampler?.stop();
    clearInterval(ticker);
    const leftovers = sid !== undefined ? sessionMembers(sid) : [];
    killSession(sid);
    if (leftovers.length > 0)
      log(
        `${label}: ${leftovers.length} process(es) of the scenario outlived the workload (${leftovers.join(", ")}); killed`,
      );
    const cov = coverage(emu, spec.expected, spec.expectedTimes ?? 1);
    const engine = result.ok ? result.engine : undefined;
    // The rollout is the first `up`; its ResetThing calls are those answered while it ran.
    const rollout = engine?.steps.find((st) => st.op === "up");
    const traffic = resetTraffic(emu, rollout ? { from: rollout.startedAt, to: rollout.endedAt } : undefined);
    const journal = await bucket?.measure(rollout ? { from: rollout.startedAt, to: rollout.endedAt } : undefined);
    const steps = engine?.steps.map((st) => {
      const t = resetTraffic(emu, { from: st.startedAt, to: st.endedAt });
      // Each operation starts its own CLI and provider host: the processes first seen while it ran are its.
      const cpu = { cli: 0, provider: 0 };
      for (const p of memory?.processes ?? [])
        if ((p.role === "cli" || p.role === "provider") && p.firstSeenAt >= st.startedAt && p.firstSeenAt <= st.endedAt)
          cpu[p.role] += p.cpuSeconds;
      const peak = { cli: 0, provider: 0 };
      for (const p of memory?.processes ?? [])
        if ((p.role === "cli" || p.role === "provider") && p.firstSeenAt >= st.startedAt && p.firstSeenAt <= st.endedAt)
          peak[p.role] = Math.max(peak[p.role], p.peakBytes);
      return {
        ...st,
        resetCalls: t.calls,
        resets: t.succeeded,
        ...(t.firstAt !== undefined ? { firstResetMs: t.firstAt - (st.cliStartedAt ?? st.startedAt) } : {}),
        ...(t.succeeded > 1 ? { resetSpanMs: t.spanMs, resetQps: t.qps, resetsPerSecond: t.perSecond } : {}),
        ...(memory ? { cpuSeconds: cpu, peakBytes: peak } : {}),
      };
    });
    const common = {
      ...base,
      title: [spec.title, ...notes].join(", "),
      timeoutMs,
      emulator: { latency, ...(spec.faults ? { faults: spec.faults } : {}), resetQuota: QUOTA },
      loadavg: { before: loadBefore, after: os.loadavg()[0] ?? 0 },
      traffic,
      coverage: cov,
      ...(memory ? { memory } : {}),
      leftoverProcesses: leftovers.length,
      ...(journal ? { journal } : {}),
    };
    if (!result.ok) {
      log(`${label}: FAILED: ${result.error.split("\n")[0]}`);
      return { ...common, status: "failed", failure: result.error };
    }
    const failedStep = steps?.find((st) => st.exitCode !== 0);
    const cliStart = rollout?.cliStartedAt ?? rollout?.startedAt ?? result.startedAt;
    const cliEnd = rollout?.cliEndedAt ?? rollout?.endedAt ?? result.endedAt;
    const phases =
      traffic.firstAt !== undefined && traffic.lastAt !== undefined
        ? { beforeFirstResetMs: traffic.firstAt - cliStart, afterLastResetMs: cliEnd - traffic.lastAt }
        : undefined;
    const wallMs = rollout ? cliEnd - cliStart : result.wallMs;
    const out: ScenarioResult = {
      ...common,
      status: failedStep ? "failed" : "ok",
      ...(failedStep
        ? {
            failure: `pulumi ${failedStep.op} (${failedStep.id}) exit ${failedStep.exitCode}: ${failedStep.errors[0] ?? ""}`,
          }
        : {}),
      wallMs,
      ...(phases ? { phases } : {}),
      ...(engine && steps ? { engine: { cliVersion: engine.cliVersion, steps } } : {}),
      ...(result.calls ? { calls: result.calls } : {}),
      ...(result.overhead ? { overhead: result.overhead } : {}),
    };
    log(
      `${label}: done in ${(result.wallMs / 1000).toFixed(1)} s; ${traffic.succeeded} resets over ${(traffic.spanMs / 1000).toFixed(1)} s ` +
        `(${traffic.qps.toFixed(0)}/s), ${traffic.quotaThrottled} quota-throttled, ${traffic.faultsTotal} faults, ${cov.notReset} not reset` +
        (failedStep ? `; FAILED at ${failedStep.id}` : ""),
    );
    return out;
  } finally {
    clearInterval(ticker);
    sampler?.stop();
    await emu.stop();
    liveEmulators.delete(emu);
    for (const store of [bucket, server]) {
      if (!store) continue;
      await store.stop();
      liveStores.delete(store);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The per-call overhead scenario uses two emulators (same seed), so it is run apart from runScenario. */
async function runOverheadScenario(o: Options, deadlineAt: number): Promise<ScenarioResult> {
  const warmup = 20;
  const block = 25;
  const calls = Math.ceil(o.overheadCalls / block) * block;
  const total = warmup + calls;
  const timeoutMs = Math.min(30_000 + total * 2 * 200, deadlineAt - Date.now() - 15_000);
  const base = {
    id: "overhead",
    title: "(overhead) provider create vs bare SDK, sequential; devices = calls per side",
    devices: calls,
    timeoutMs,
  };
  if (timeoutMs < 5_000)
    return { ...base, status: "skipped", failure: `global deadline of ${o.deadlineMinutes} min reached` };
  log(`overhead: ${calls} sequential calls per side after ${warmup} warm-up calls, alternating blocks of ${block}`);
  const latency = { fixedMs: o.latencyMs, jitterMs: o.jitterMs };
  // Same fleet, same seed: the k-th call of each side gets the same latency draw at its own emulator.
  const start = () =>
    startEmulator({ fleet: fleetOf(total), latency, faults: { seed: o.seed }, quotas: { ResetThing: QUOTA } });
  const [a, b] = await Promise.all([start(), start()]);
  liveEmulators.add(a);
  liveEmulators.add(b);
  const loadBefore = os.loadavg()[0] ?? 0;
  try {
    let sid: number | undefined;
    const result = await runWorkload(
      {
        kind: "overhead",
        provider: { endpoint: a.endpoint, ...a.credentials },
        sdk: { endpoint: b.endpoint, ...b.credentials },
        calls,
        warmup,
        block,
      },
      timeoutMs,
      "overhead",
      (pid) => (sid = pid),
    );
    killSession(sid);
    const loadavg = { before: loadBefore, after: os.loadavg()[0] ?? 0 };
    const sameDraws = a.requests().length === b.requests().length;
    if (!result.ok) return { ...base, status: "failed", failure: result.error, loadavg };
    if (!sameDraws)
      log(
        `overhead: the two emulators saw different request counts (${a.requests().length} vs ${b.requests().length}); latency draws may differ`,
      );
    log(
      `overhead: provider ${result.overhead?.provider.meanMs.toFixed(2)} ms, SDK ${result.overhead?.sdk.meanMs.toFixed(2)} ms per call`,
    );
    return {
      ...base,
      status: "ok",
      wallMs: result.wallMs,
      loadavg,
      emulator: { latency, resetQuota: QUOTA },
      ...(result.overhead ? { overhead: result.overhead } : {}),
    };
  } finally {
    await Promise.allSettled([a.stop(), b.stop()]);
    liveEmulators.delete(a);
    liveEmulators.delete(b);
  }
}

// ---- the benchmark ---------------------------------------------------------------------------------------

type Program = "cohort" | "per-device" | "engine-floor";

/** The bucket of the state with `--backend s3`. */
const STATE_BUCKET = "iot-reset-state";

/** A cohort scenario's title, naming the batch size when `--batch-size` gave one. */
function sized(title: string, o: Options): string {
  return o.batchSize === undefined ? title : `${title}, batchSize ${o.batchSize}`;
}

/**
 * A bench program under the real CLI against the scenario's emulator: a fresh file backend (runScenario moves it to
 * a bucket with `--backend s3`), plain config for everything but the AccessKey, which reaches the provider host through
 * the environment only (as `npm start` does), then the given operations; with `--skip-checkpoints`, each operation
 * writes the checkpoint once, at its end.
 */
function engineJob(
  o: Options,
  program: Program,
  n: number,
  campaign: string,
  steps: EngineStep[],
  pad = padFor(n),
  env: Readonly<Record<string, string>> = {},
) {
  return (target: Target, dir: string): Job => ({
    kind: "engine",
    programFile: path.join(PROGRAMS, program, "index.ts"),
    project: `iot-reset-bench-${program}`,
    dir,
    devices: n,
    ...(o.parallel ? { parallel: o.parallel } : {}),
    config: {
      "alicloud:region": "cn-shanghai",
      endpoint: target.endpoint,
      devices: String(n),
      pad: String(pad),
      campaign,
      ...(program !== "per-device" && o.batchSize !== undefined ? { batchSize: String(o.batchSize) } : {}),
    },
    env: {
      ...OFFLINE_ENV,
      ALICLOUD_ACCESS_KEY: target.accessKeyId,
      ALICLOUD_SECRET_KEY: target.accessKeySecret,
      ALICLOUD_SECURITY_TOKEN: "",
      ...(o.skipCheckpoints ? { PULUMI_SKIP_CHECKPOINTS: "true" } : {}),
      ...env,
    },
    steps,
  });
}

/** `pulumi preview` of the first rollout, then `pulumi up --skip-preview` with the checkpoint measured. */
const ROLLOUT: EngineStep[] = [
  { id: "preview", op: "preview" },
  { id: "up", op: "up", measureCheckpoint: true },
];

/** After the rollout: one more device in the fleet (N + 1), applied. */
const oneDevice = (n: number): EngineStep => ({ id: "one-device", op: "up", config: { devices: String(n + 1) } });

/**
 * The issue's operations on one stack, each with its checkpoint: the first rollout, a no-op `up`, a no-op preview,
 * one device added, then a change to `campaign` (every batch replaced).
 */
const operations = (n: number, campaign: string): EngineStep[] => [
  { id: "up", op: "up", measureCheckpoint: true },
  { id: "noop-up", op: "up", measureCheckpoint: true },
  { id: "noop-preview", op: "preview", measureCheckpoint: true },
  { ...oneDevice(n), measureCheckpoint: true },
  { id: "campaign", op: "up", config: { campaign }, measureCheckpoint: true },
];

/** The engine scenarios at N devices (cohort) and the paced reference beside them. */
function cohortSpecs(o: Options, n: number, wanted: (id: string) => boolean): ScenarioSpec[] {
  const specs: ScenarioSpec[] = [];
  if (wanted("cohort-clean")) {
    // The fleet holds one device more than the rollout declares, for the one-device change.
    specs.push({
      id: "cohort-clean",
      title: "DeviceCohortReset, clean",
      devices: n,
      fleet: n + 1,
      expected: devices(n + 1),
      timeoutMs: 180_000 + n * 15,
      job: engineJob(
        o,
        "cohort",
        n,
        "bench-clean",
        [...ROLLOUT, { id: "noop-preview", op: "preview" }, oneDevice(n)],
        padFor(n + 1),
      ),
    });
  }
  const faulty = [
    ["cohort-faults", "DeviceCohortReset, 5% transient faults", FAULT_MIX],
    [
      "cohort-faults-no-throttle",
      "(diagnostic) cohort, 5% faults without injected Throttling",
      FAULT_MIX_WITHOUT_THROTTLE,
    ],
  ] as const;
  for (const [id, title, mix] of faulty) {
    if (!wanted(id)) continue;
    specs.push({
      id,
      title,
      devices: n,
      fleet: n,
      expected: devices(n),
      // Generous: an adaptive pacer that backs off on every injected Throttling may fall far below the quota,
      // and that is a result to report, not a hang.
      timeoutMs: 180_000 + n * 40,
      faults: { ...mix },
      job: engineJob(o, "cohort", n, id, ROLLOUT),
    });
  }
  if (wanted("cohort-campaign")) {
    specs.push({
      id: "cohort-campaign",
      title: "DeviceCohortReset, rollout then a campaign change",
      devices: n,
      fleet: n,
      expected: devices(n),
      expectedTimes: 2,
      timeoutMs: 180_000 + n * 30,
      job: engineJob(o, "cohort", n, "bench-campaign-1", [
        { id: "up", op: "up", measureCheckpoint: true },
        { id: "campaign", op: "up", config: { campaign: "bench-campaign-2" } },
      ]),
    });
  }
  // Every operation of the issue's matrix on one stack (see `operations`): the cohort resets all N + 1 devices twice;
  // the floor runs the same resources and state under a provider that does no work, and resets nothing.
  const matrix = [
    ["cohort-operations", "DeviceCohortReset, operations", "cohort", 2],
    ["engine-floor", "(floor) the same stack, a provider that does nothing", "engine-floor", 0],
  ] as const;
  for (const [id, title, program, times] of matrix) {
    if (!wanted(id)) continue;
    specs.push({
      id,
      title: sized(title, o),
      devices: n,
      fleet: n + 1,
      expected: times > 0 ? devices(n + 1) : [],
      expectedTimes: times,
      timeoutMs: 300_000 + n * 45,
      job: engineJob(o, program, n, `${id}-1`, operations(n, `${id}-2`), padFor(n + 1)),
    });
  }
  if (wanted("cohort-promotion")) {
    // Stages [50, 100]: stage 1 first (about half the fleet), then the promotion to stage 2 (the other half).
    specs.push({
      id: "cohort-promotion",
      title: sized("DeviceCohortReset, stage promotion (stages [50, 100])", o),
      devices: n,
      fleet: n,
      expected: devices(n),
      timeoutMs: 180_000 + n * 20,
      job: engineJob(o, "cohort", n, "bench-promotion", [
        { id: "stage-1", op: "up", config: { stages: "[50,100]", stage: "1" }, measureCheckpoint: true },
        { id: "promotion", op: "up", config: { stage: "2" }, measureCheckpoint: true },
      ]),
    });
  }
  if (wanted("sdk-paced")) {
    specs.push({
      id: "sdk-paced",
      title: `(reference) bare SDK paced at ${PACED_QPS} QPS, ${PACED_CONCURRENCY} workers`,
      devices: n,
      fleet: n,
      expected: devices(n),
      timeoutMs: 30_000 + (n / PACED_QPS) * 3_000,
      job: (target) => ({ kind: "sdk-paced", target, count: n, qps: PACED_QPS, concurrency: PACED_CONCURRENCY }),
    });
  }
  return specs;
}

function machine() {
  const git = (args: string[]) => {
    try {
      return execFileSync("git", args, { cwd: REPO, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    } catch {
      return undefined;
    }
  };
  const dirty = git(["status", "--porcelain", "--", "provider", "emulator", "engine", "bench"]);
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    totalMemMiB: Math.round(os.totalmem() / 1024 / 1024),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    commit: git(["rev-parse", "--short", "HEAD"]),
    // The benchmark runs the built lib/ of the working tree; uncommitted changes are measured too.
    uncommittedFiles: dirty ? dirty.split("\n").filter(Boolean) : [],
    loadavgAtStart: os.loadavg(),
  };
}

const fmtList = (ns: readonly number[]) => ns.map((n) => n.toLocaleString("en-US")).join(" and ");

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const deadlineAt = benchStart + o.deadlineMinutes * 60_000;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "iot-reset-bench-"));
  const facts = machine();
  const wanted = (id: string) => o.scenarios.includes(id);
  const first = o.devices[0] ?? 0;
  log(
    `N = ${fmtList(o.devices)} devices (per-device program: ${fmtList(o.perDeviceDevices)}); emulator: ResetThing quota ${QUOTA} QPS, ` +
      `latency ${o.latencyMs} ms + 0..${o.jitterMs} ms; deadline ${o.deadlineMinutes} min; ${facts.cpus} CPUs, node ${facts.node}; ` +
      `load average ${facts.loadavgAtStart.map((x) => x.toFixed(2)).join(" ")}; work under ${tmp}`,
  );
  const cli = await ensurePulumiCli((line) => log(line));
  log(`Pulumi CLI v${cli.version} (${cli.source}): ${cli.binary}`);

  // A backstop behind the per-scenario limits: never run past the deadline by more than a minute.
  const watchdog = setTimeout(
    () => {
      log(`global deadline passed by 60 s; stopping everything`);
      void cleanupAll().then(() => process.exit(3));
    },
    deadlineAt - Date.now() + 60_000,
  );
  watchdog.unref();
  const interrupted = (signal: string) => {
    log(`${signal}: stopping workloads and emulators`);
    void cleanupAll().then(() => {
      fs.rmSync(tmp, { recursive: true, force: true });
      process.exit(130);
    });
  };
  process.once("SIGINT", () => interrupted("SIGINT"));
  process.once("SIGTERM", () => interrupted("SIGTERM"));

  const results: ScenarioResult[] = [];
  const run = async (specs: ScenarioSpec[]) => {
    for (const spec of specs) results.push(await runScenario(spec, o, deadlineAt, tmp));
  };
  if (wanted("warmup")) {
    // Loads modules and fills the disk cache once, so that the first measured engine scenario is not the cold one.
    await run([
      {
        id: "warmup",
        title: "(warm-up, not a result) cohort of 20 under the CLI",
        devices: 20,
        fleet: 20,
        expected: devices(20),
        timeoutMs: 120_000,
        job: engineJob(o, "cohort", 20, "warmup", ROLLOUT),
      },
    ]);
  }
  for (const n of o.devices) await run(cohortSpecs(o, n, wanted));

  if (wanted("overhead")) results.push(await runOverheadScenario(o, deadlineAt));

  const later: ScenarioSpec[] = [];
  if (wanted("sdk-sequential")) {
    const m = o.sequentialDevices;
    later.push({
      id: "sdk-sequential",
      title: `(a) bare SDK, sequential loop${m < first ? ` (${m.toLocaleString("en-US")} of ${first.toLocaleString("en-US")})` : ""}`,
      devices: m,
      fleet: first,
      expected: devices(m, first),
      timeoutMs: 30_000 + m * 150,
      job: (target) => ({ kind: "sdk-sequential", target, count: m, fleetSize: first }),
    });
  }
  if (wanted("sdk-unbounded")) {
    later.push({
      id: "sdk-unbounded",
      title: "(b) bare SDK, unbounded Promise.all, no retries",
      devices: first,
      fleet: first,
      expected: devices(first),
      timeoutMs: 120_000,
      job: (target) => ({ kind: "sdk-unbounded", target, count: first }),
    });
  }
  if (wanted("per-device")) {
    for (const k of o.perDeviceDevices) {
      later.push({
        id: "per-device",
        title: "(c) one DeviceRegistrationReset per device",
        devices: k,
        fleet: k + 1,
        expected: devices(k + 1),
        // The file backend rewrites the whole checkpoint after every step: time grows with the square of k.
        timeoutMs: 180_000 + k * 120 + (k * k) / 4,
        job: engineJob(o, "per-device", k, "bench-per-device", [...ROLLOUT, oneDevice(k)], padFor(k + 1)),
      });
    }
  }
  if (wanted("per-device-no-checkpoints")) {
    for (const k of o.perDeviceDevices) {
      later.push({
        id: "per-device-no-checkpoints",
        title: "(diagnostic) one DeviceRegistrationReset per device, `PULUMI_SKIP_CHECKPOINTS=true`",
        devices: k,
        fleet: k,
        expected: devices(k),
        timeoutMs: 180_000 + k * 120,
        // The engine then writes the checkpoint once, at the end: what the per-step rewrites cost.
        job: engineJob(o, "per-device", k, "bench-per-device", ROLLOUT, padFor(k), { PULUMI_SKIP_CHECKPOINTS: "true" }),
      });
    }
  }
  await run(later);

  const by = (id: string, n?: number) =>
    results.find((r) => r.id === id && r.status === "ok" && (n === undefined || r.devices === n));
  const overhead: { -readonly [K in keyof Overhead]: Overhead[K] } = {};
  const throughput: NonNullable<Overhead["throughput"]>[number][] = [];
  for (const n of o.devices) {
    const clean = by("cohort-clean", n);
    const paced = by("sdk-paced", n);
    if (clean?.traffic && paced?.traffic && paced.traffic.spanMs > 0)
      throughput.push({
        devices: n,
        cohortSpanMs: clean.traffic.spanMs,
        pacedSpanMs: paced.traffic.spanMs,
        overhead: clean.traffic.spanMs / paced.traffic.spanMs - 1,
      });
  }
  if (throughput.length) overhead.throughput = throughput;
  const oh = by("overhead")?.overhead;
  if (oh) {
    overhead.perCall = {
      providerMeanMs: oh.provider.meanMs,
      sdkMeanMs: oh.sdk.meanMs,
      overhead: oh.provider.meanMs / oh.sdk.meanMs - 1,
      providerCpuUs: oh.provider.cpuUsPerCall,
      sdkCpuUs: oh.sdk.cpuUsPerCall,
      calls: oh.provider.count,
    };
  }

  const shown = results.filter((r) => r.id !== "warmup");
  const report = [
    `## pulumi-alicloud-iot-reset benchmark — N = ${fmtList(o.devices)} devices, Pulumi CLI v${cli.version}`,
    "",
    `Emulator: ResetThing quota ${QUOTA} QPS (sliding 1-s window), latency ${o.latencyMs} ms fixed + uniform 0..${o.jitterMs} ms jitter ` +
      `(seed ${o.seed}); a fresh emulator and ` +
      (o.backend === "s3"
        ? "the state in a bucket of a fresh SeaweedFS on 127.0.0.1 (`--backend s3`) per scenario"
        : "a fresh file backend per scenario") +
      (o.skipCheckpoints
        ? ", every operation with `PULUMI_SKIP_CHECKPOINTS=true` (the checkpoint written once, at its end)"
        : "") +
      (o.journal === "s3"
        ? `, and the reset journal in ${o.backend === "s3" ? "another bucket of that server" : "the bucket of a fresh SeaweedFS on 127.0.0.1"}` +
          " (`--journal s3`), behind a counting proxy"
        : ", the reset journal in the provider's default local file") +
      `. Faulty scenario: ${Object.entries(FAULT_MIX)
        .map(([k, v]) => `${k} ${v * 100}%`)
        .join(", ")} of ResetThing calls (no read timeouts), seeded; the diagnostic variant: ${Object.entries(
        FAULT_MIX_WITHOUT_THROTTLE,
      )
        .map(([k, v]) => `${k} ${v * 100}%`)
        .join(", ")}. ` +
      (o.parallel
        ? `Every pulumi operation with \`--parallel ${o.parallel}\`.`
        : `The CLI at its default \`--parallel\` (4 × CPUs = ${4 * os.cpus().length} here).`),
    `Machine: ${facts.cpus} CPUs (${facts.cpuModel ?? "?"}), ${facts.totalMemMiB} MiB, node ${facts.node}, ${facts.platform}; commit ${facts.commit ?? "?"}` +
      (facts.uncommittedFiles.length
        ? ` plus ${facts.uncommittedFiles.length} uncommitted file(s) under provider/ emulator/ engine/ bench/ (measured as built in lib/)`
        : "") +
      `; load average at start ${facts.loadavgAtStart.map((x) => x.toFixed(2)).join(" ")}.`,
    "",
    scenarioTable(shown, first),
    "",
    changesTable(shown),
    "",
    operationsTable(shown),
    "",
    cpuTable(shown),
    "",
    ...(o.journal === "s3" ? [journalTable(shown), ""] : []),
    targetTable(shown, overhead),
    "",
    "Overhead methods. (1) Throughput: the span from the first to the last ResetThing at the emulator for the cohort's rollout (the whole " +
      `path: CLI, dynamic-provider host over gRPC, provider, SDK) against the same span for a bare-SDK loop paced exactly as the provider ` +
      `paces (even slots at ${PACED_QPS} QPS, ${PACED_CONCURRENCY} workers), same N, same emulator settings. (2) Per call: the provider's own ` +
      "create handler (what the host runs for one DeviceRegistrationReset) and a bare SDK call, sequentially, in alternating blocks of 25, each " +
      "against its own emulator with the same seed, so the k-th call of each side meets the same server latency; the mean difference is the " +
      "provider's cost per call, and the client CPU per call is shown beside it.",
    "",
    "Load average (1 min) before/after each scenario: " +
      shown
        .filter((r) => r.loadavg)
        .map(
          (r) =>
            `${r.id} (${r.devices.toLocaleString("en-US")}) ${r.loadavg!.before.toFixed(2)}/${r.loadavg!.after.toFixed(2)}`,
        )
        .join(", ") +
      `. The machine is shared; a load above ${facts.cpus} (the CPU count) means other work competed for the CPUs.`,
  ].join("\n");

  const json = {
    generatedAt: new Date().toISOString(),
    command: process.argv.slice(1).join(" "),
    options: o,
    machine: { ...facts, loadavgAtEnd: os.loadavg() },
    pulumiCli: { version: cli.version, source: cli.source },
    emulator: {
      resetQuota: QUOTA,
      latency: { fixedMs: o.latencyMs, jitterMs: o.jitterMs },
      faultMix: FAULT_MIX,
      seed: o.seed,
    },
    results,
    overhead,
    markdown: report,
  };
  fs.mkdirSync(path.dirname(o.out), { recursive: true });
  fs.writeFileSync(o.out, JSON.stringify(json, null, 2) + "\n");
  fs.rmSync(tmp, { recursive: true, force: true });
  process.stdout.write(report + "\n");
  log(
    `results written to ${path.relative(process.cwd(), o.out) || o.out}; total ${((Date.now() - benchStart) / 1000).toFixed(0)} s`,
  );
  clearTimeout(watchdog);
  let chartsFailed = false;
  if (o.chartsDir) {
    try {
      const files = await writeCharts([json], o.chartsDir);
      log(`${files.length} chart(s) written to ${path.relative(process.cwd(), o.chartsDir) || o.chartsDir}`);
    } catch (e) {
      chartsFailed = true;
      log(`charts: ${e instanceof Error ? e.message : String(e)}; the JSON results are written`);
    }
  }
  const failed = shown.filter((r) => r.status !== "ok").length;
  process.exitCode = failed > 0 || chartsFailed ? 1 : 0;
}

main().catch(async (e: unknown) => {
  process.stderr.write(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  await cleanupAll();
  process.exit(1);
});
