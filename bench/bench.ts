/**
 * The benchmark of record for DESIGN.md's performance targets (`npm run bench`).
 *
 * Against the local emulator enforcing the documented 500 QPS ResetThing quota with real-world latency, it
 * resets N devices (default 5,000) through the real path — a DeviceCohortReset program applied by the
 * offline runner (the real @pulumi/pulumi runtime, the real dynamic-provider host over gRPC, the real SDK) —
 * clean and with 5% injected transient faults, and side by side: a sequential bare-SDK loop, an unbounded
 * `Promise.all` over the bare SDK, one DeviceRegistrationReset per device, and the reference measurements
 * for the provider's overhead. Everything is measured at its source (the emulator's request log, /proc,
 * the state file); nothing is assumed. Progress goes to stderr, the markdown tables to stdout, the full
 * results to bench/results/latest.json.
 */
import { OFFLINE_ENV } from "./env";
import { ChildProcess, execFileSync, fork } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { startEmulator, type Emulator } from "../emulator";
import { devices, fleetOf, padFor } from "./devices";
import { coverage, MemorySampler, resetTraffic, stateSizes } from "./metrics";
import { Overhead, PACED_SHARE, QUOTA, ScenarioResult, scenarioTable, targetTable } from "./report";
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
  devices: number;
  sequentialDevices: number;
  perDeviceDevices: number;
  overheadCalls: number;
  latencyMs: number;
  jitterMs: number;
  seed: number;
  deadlineMinutes: number;
  scenarios: string[] | undefined;
  out: string;
}

const SCENARIOS = [
  "warmup",
  "cohort-clean",
  "cohort-faults",
  "cohort-faults-no-throttle",
  "sdk-paced",
  "overhead",
  "sdk-sequential",
  "sdk-unbounded",
  "per-device",
];

const USAGE = `usage: node lib/bench/bench.js [flags]
  --devices N              devices of the cohort, unbounded and paced scenarios (default 5000)
  --sequential-devices N   devices of the sequential bare-SDK loop, extrapolated to --devices (default min(500, devices))
  --per-device-devices N   resources of the one-resource-per-device program (default: --devices)
  --overhead-calls N       sequential calls per side for the per-call overhead (default 300)
  --latency-ms N           emulator fixed latency (default 25)
  --jitter-ms N            emulator uniform extra latency 0..N (default 10)
  --seed N                 fault and latency seed (default 7)
  --deadline-minutes N     global deadline; scenarios past it are skipped (default 15)
  --scenarios a,b          only these (${SCENARIOS.join(", ")})
  --out FILE               JSON results (default bench/results/latest.json)`;

function parseArgs(argv: string[]): Options {
  const o: Options = {
    devices: 5000,
    sequentialDevices: NaN,
    perDeviceDevices: NaN,
    overheadCalls: 300,
    latencyMs: 25,
    jitterMs: 10,
    seed: 7,
    deadlineMinutes: 15,
    scenarios: undefined,
    out: path.join(REPO, "bench", "results", "latest.json"),
  };
  const numeric: Record<string, keyof Options> = {
    "--devices": "devices",
    "--sequential-devices": "sequentialDevices",
    "--per-device-devices": "perDeviceDevices",
    "--overhead-calls": "overheadCalls",
    "--latency-ms": "latencyMs",
    "--jitter-ms": "jitterMs",
    "--seed": "seed",
    "--deadline-minutes": "deadlineMinutes",
  };
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
    const value = argv[i + 1];
    if (value === undefined) fail(`\`${flag}\` needs a value`);
    i++;
    const key = numeric[flag];
    if (key) {
      const n = Number(value);
      const min = key === "latencyMs" || key === "jitterMs" || key === "seed" ? 0 : 1;
      if (!Number.isFinite(n) || n < min || (key !== "deadlineMinutes" && !Number.isInteger(n)))
        fail(`\`${flag}\` must be ${min === 0 ? "a whole number ≥ 0" : "a positive number"}, got "${value}"`);
      (o[key] as number) = n;
    } else if (flag === "--scenarios") {
      const list = (value ?? "").split(",").filter(Boolean);
      const unknown = list.filter((s) => !SCENARIOS.includes(s));
      if (unknown.length) fail(`\`--scenarios\`: unknown ${unknown.join(", ")}; known: ${SCENARIOS.join(", ")}`);
      o.scenarios = list;
    } else if (flag === "--out") {
      o.out = path.resolve(value ?? "");
    } else {
      fail(`unknown flag \`${flag}\``);
    }
  }
  if (Number.isNaN(o.sequentialDevices)) o.sequentialDevices = Math.min(500, o.devices);
  if (Number.isNaN(o.perDeviceDevices)) o.perDeviceDevices = o.devices;
  if (o.sequentialDevices > o.devices) fail("`--sequential-devices` must not exceed `--devices`");
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

/** Kills a workload's whole process group (it was started as the group's leader). */
function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // ESRCH: the group is already gone.
  }
}

/** Members of a process group still alive (Linux /proc). */
function groupMembers(pgid: number): number[] {
  const alive: number[] = [];
  let pids: string[] = [];
  try {
    pids = fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p));
  } catch {
    return alive;
  }
  for (const pid of pids) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      // Zombies (state Z) are already dead, waiting for their parent to reap them.
      if (Number(fields[2]) === pgid && fields[0] !== "Z") alive.push(Number(pid));
    } catch {
      // gone
    }
  }
  return alive;
}

async function cleanupAll(): Promise<void> {
  for (const c of liveChildren) killGroup(c.pid);
  liveChildren.clear();
  await Promise.allSettled([...liveEmulators].map((e) => e.stop()));
  liveEmulators.clear();
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
  readonly timeoutMs: number;
  readonly faults?: Record<string, unknown>;
  /** Builds the job once the emulator listens. */
  readonly job: (target: Target, statePath: string) => Job;
  /** For runner scenarios: where the state goes (then measured). */
  readonly statePath?: string;
}

/** Runs the workload in a child process with a time limit; resolves with its result (or a failure). */
function runWorkload(job: Job, timeoutMs: number, label: string, onSpawn: (pid: number) => void): Promise<JobResult> {
  return new Promise((resolve) => {
    const child = fork(WORKLOAD, [], {
      // Its own process group: a timeout kills it together with the runner's program and provider processes.
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
      log(`${label}: TIMEOUT after ${(timeoutMs / 1000).toFixed(0)} s, killing its process group`);
      killGroup(child.pid);
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

async function runScenario(spec: ScenarioSpec, o: Options, deadlineAt: number): Promise<ScenarioResult> {
  const remaining = deadlineAt - Date.now() - 15_000;
  const base = { id: spec.id, title: spec.title, devices: spec.devices, timeoutMs: spec.timeoutMs };
  if (remaining < 5_000) {
    log(`${spec.id}: skipped, the global deadline (${o.deadlineMinutes} min) is reached`);
    return { ...base, status: "skipped", failure: `global deadline of ${o.deadlineMinutes} min reached` };
  }
  const timeoutMs = Math.min(spec.timeoutMs, remaining);
  const latency = { fixedMs: o.latencyMs, jitterMs: o.jitterMs };
  log(
    `${spec.id}: ${spec.title} — ${spec.devices.toLocaleString("en-US")} devices, limit ${(timeoutMs / 1000).toFixed(0)} s`,
  );
  const emu = await startEmulator({
    fleet: fleetOf(spec.fleet),
    latency,
    faults: { seed: o.seed, ...(spec.faults ?? {}), actions: ["ResetThing"] },
    quotas: { ResetThing: QUOTA },
  });
  liveEmulators.add(emu);
  const target: Target = { endpoint: emu.endpoint, ...emu.credentials };
  const loadBefore = os.loadavg()[0] ?? 0;
  let sampler: MemorySampler | undefined;
  let pgid: number | undefined;
  const ticker = setInterval(() => {
    const throttled = emu.requests({ action: "ResetThing", outcome: "throttled" }).length;
    const faults = emu.requests({ action: "ResetThing", outcome: "fault" }).length;
    log(
      `${spec.id}: ${emu.totalResets().toLocaleString("en-US")} resets at the emulator, ${throttled} quota-throttled, ${faults} faults`,
    );
  }, 2000);
  try {
    const result = await runWorkload(spec.job(target, spec.statePath ?? ""), timeoutMs, spec.id, (pid) => {
      pgid = pid;
      sampler = new MemorySampler(pid, 200);
      sampler.start();
    });
    const memory = sampler?.stop();
    clearInterval(ticker);
    const leftovers = pgid !== undefined ? groupMembers(pgid) : [];
    killGroup(pgid);
    if (leftovers.length > 0)
      log(
        `${spec.id}: ${leftovers.length} process(es) of the scenario outlived the workload (${leftovers.join(", ")}); killed`,
      );
    const traffic = resetTraffic(emu);
    const cov = coverage(emu, spec.expected);
    const common = {
      ...base,
      timeoutMs,
      emulator: { latency, ...(spec.faults ? { faults: spec.faults } : {}), resetQuota: QUOTA },
      loadavg: { before: loadBefore, after: os.loadavg()[0] ?? 0 },
      traffic,
      coverage: cov,
      ...(memory ? { memory } : {}),
      leftoverProcesses: leftovers.length,
    };
    if (!result.ok) {
      log(`${spec.id}: FAILED: ${result.error.split("\n")[0]}`);
      return { ...common, status: "failed", failure: result.error };
    }
    let state;
    if (spec.statePath && fs.existsSync(spec.statePath)) state = stateSizes(spec.statePath, spec.devices);
    const phases =
      traffic.firstAt !== undefined && traffic.lastAt !== undefined
        ? { beforeFirstResetMs: traffic.firstAt - result.startedAt, afterLastResetMs: result.endedAt - traffic.lastAt }
        : undefined;
    const out: ScenarioResult = {
      ...common,
      status: "ok",
      wallMs: result.wallMs,
      ...(phases ? { phases } : {}),
      ...(state ? { state } : {}),
      ...(result.runner ? { runner: result.runner } : {}),
      ...(result.calls ? { calls: result.calls } : {}),
      ...(result.overhead ? { overhead: result.overhead } : {}),
    };
    log(
      `${spec.id}: done in ${(result.wallMs / 1000).toFixed(1)} s; ${traffic.succeeded} resets over ${(traffic.spanMs / 1000).toFixed(1)} s ` +
        `(${traffic.qps.toFixed(0)}/s), ${traffic.quotaThrottled} quota-throttled, ${traffic.faultsTotal} faults, ${cov.notReset} not reset` +
        (result.runner ? `, runner exit ${result.runner.exitCode}` : ""),
    );
    return out;
  } finally {
    clearInterval(ticker);
    sampler?.stop();
    await emu.stop();
    liveEmulators.delete(emu);
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
    let pgid: number | undefined;
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
      (pid) => (pgid = pid),
    );
    killGroup(pgid);
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

function runnerJob(program: string, n: number, campaign: string) {
  return (target: Target, statePath: string): Job => ({
    kind: "runner",
    programDir: path.join(PROGRAMS, program),
    statePath,
    config: {
      "alicloud:region": "cn-shanghai",
      endpoint: target.endpoint,
      devices: String(n),
      pad: String(padFor(n)),
      campaign,
      ...(program === "cohort" ? { batchSize: "500" } : {}),
    },
    secretConfig: { "alicloud:accessKey": target.accessKeyId, "alicloud:secretKey": target.accessKeySecret },
  });
}

function machine() {
  const git = (args: string[]) => {
    try {
      return execFileSync("git", args, { cwd: REPO, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    } catch {
      return undefined;
    }
  };
  const dirty = git(["status", "--porcelain", "--", "provider", "runner", "emulator"]);
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    totalMemMiB: Math.round(os.totalmem() / 1024 / 1024),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    commit: git(["rev-parse", "--short", "HEAD"]),
    // The benchmark runs the built lib/ of the working tree; uncommitted provider/runner changes are measured too.
    uncommittedFiles: dirty ? dirty.split("\n").filter(Boolean) : [],
    loadavgAtStart: os.loadavg(),
  };
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const deadlineAt = benchStart + o.deadlineMinutes * 60_000;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "iot-reset-bench-"));
  const facts = machine();
  const wanted = (id: string) => !o.scenarios || o.scenarios.includes(id);
  const n = o.devices;
  log(
    `N = ${n.toLocaleString("en-US")} devices; emulator: ResetThing quota ${QUOTA} QPS, latency ${o.latencyMs} ms + 0..${o.jitterMs} ms; ` +
      `deadline ${o.deadlineMinutes} min; ${facts.cpus} CPUs, node ${facts.node}; state under ${tmp}`,
  );

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

  const specs: ScenarioSpec[] = [];
  const all = devices(n);
  if (wanted("warmup")) {
    // Loads modules and fills the disk cache once, so that the first measured runner scenario is not the cold one.
    specs.push({
      id: "warmup",
      title: "(warm-up, not a result) cohort of 20 through the runner",
      devices: 20,
      fleet: 20,
      expected: devices(20),
      timeoutMs: 90_000,
      statePath: path.join(tmp, "warmup.json"),
      job: runnerJob("cohort", 20, "warmup"),
    });
  }
  if (wanted("cohort-clean")) {
    specs.push({
      id: "cohort-clean",
      title: "DeviceCohortReset via runner, clean",
      devices: n,
      fleet: n,
      expected: all,
      timeoutMs: 60_000 + (n / QUOTA) * 6_000,
      statePath: path.join(tmp, "cohort-clean.json"),
      job: runnerJob("cohort", n, "bench-clean"),
    });
  }
  if (wanted("cohort-faults")) {
    specs.push({
      id: "cohort-faults",
      title: "DeviceCohortReset via runner, 5% transient faults",
      devices: n,
      fleet: n,
      expected: all,
      // Generous: an adaptive pacer that backs off on every injected Throttling may fall far below the quota,
      // and that is a result to report, not a hang.
      timeoutMs: 90_000 + (n / 25) * 1_000,
      faults: { ...FAULT_MIX },
      statePath: path.join(tmp, "cohort-faults.json"),
      job: runnerJob("cohort", n, "bench-faults"),
    });
  }
  if (wanted("cohort-faults-no-throttle")) {
    specs.push({
      id: "cohort-faults-no-throttle",
      title: "(diagnostic) cohort, 5% faults without injected Throttling",
      devices: n,
      fleet: n,
      expected: all,
      timeoutMs: 90_000 + (n / 25) * 1_000,
      faults: { ...FAULT_MIX_WITHOUT_THROTTLE },
      statePath: path.join(tmp, "cohort-faults-no-throttle.json"),
      job: runnerJob("cohort", n, "bench-faults-no-throttle"),
    });
  }
  if (wanted("sdk-paced")) {
    specs.push({
      id: "sdk-paced",
      title: `(reference) bare SDK paced at ${PACED_QPS} QPS, ${PACED_CONCURRENCY} workers`,
      devices: n,
      fleet: n,
      expected: all,
      timeoutMs: 30_000 + (n / PACED_QPS) * 3_000,
      job: (target) => ({ kind: "sdk-paced", target, count: n, qps: PACED_QPS, concurrency: PACED_CONCURRENCY }),
    });
  }
  const results: ScenarioResult[] = [];
  for (const spec of specs) results.push(await runScenario(spec, o, deadlineAt));

  if (wanted("overhead")) results.push(await runOverheadScenario(o, deadlineAt));

  const later: ScenarioSpec[] = [];
  if (wanted("sdk-sequential")) {
    const m = o.sequentialDevices;
    later.push({
      id: "sdk-sequential",
      title: `(a) bare SDK, sequential loop${m < n ? ` (${m.toLocaleString("en-US")} of ${n.toLocaleString("en-US")})` : ""}`,
      devices: m,
      fleet: n,
      expected: devices(m, n),
      timeoutMs: 30_000 + m * 150,
      job: (target) => ({ kind: "sdk-sequential", target, count: m, fleetSize: n }),
    });
  }
  if (wanted("sdk-unbounded")) {
    later.push({
      id: "sdk-unbounded",
      title: "(b) bare SDK, unbounded Promise.all, no retries",
      devices: n,
      fleet: n,
      expected: all,
      timeoutMs: 120_000,
      job: (target) => ({ kind: "sdk-unbounded", target, count: n }),
    });
  }
  if (wanted("per-device")) {
    const k = o.perDeviceDevices;
    later.push({
      id: "per-device",
      title: `(c) one DeviceRegistrationReset per device via runner${k < n ? ` (${k.toLocaleString("en-US")} of ${n.toLocaleString("en-US")})` : ""}`,
      devices: k,
      fleet: k,
      expected: devices(k),
      timeoutMs: 60_000 + k * 100,
      statePath: path.join(tmp, "per-device.json"),
      job: runnerJob("per-device", k, "bench-per-device"),
    });
  }
  for (const spec of later) results.push(await runScenario(spec, o, deadlineAt));

  const by = (id: string) => results.find((r) => r.id === id && r.status === "ok");
  const overhead: { -readonly [K in keyof Overhead]: Overhead[K] } = {};
  const clean = by("cohort-clean");
  const paced = by("sdk-paced");
  if (clean?.traffic && paced?.traffic && paced.traffic.spanMs > 0) {
    overhead.throughput = {
      cohortSpanMs: clean.traffic.spanMs,
      pacedSpanMs: paced.traffic.spanMs,
      overhead: clean.traffic.spanMs / paced.traffic.spanMs - 1,
    };
  }
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
  const perDevice = by("per-device");
  const seq = by("sdk-sequential");
  if (perDevice?.wallMs && seq?.calls) {
    const parallel = 4 * os.cpus().length;
    const msPerResource = (perDevice.wallMs * parallel) / perDevice.devices;
    overhead.perResource = {
      msPerResource,
      sdkMeanMs: seq.calls.latency.meanMs,
      ratio: msPerResource / seq.calls.latency.meanMs,
      parallel,
    };
  }

  const shown = results.filter((r) => r.id !== "warmup");
  const report = [
    `## pulumi-alicloud-iot-reset benchmark — N = ${n.toLocaleString("en-US")} devices`,
    "",
    `Emulator: ResetThing quota ${QUOTA} QPS (sliding 1-s window), latency ${o.latencyMs} ms fixed + uniform 0..${o.jitterMs} ms jitter ` +
      `(seed ${o.seed}); a fresh emulator per scenario. Faulty scenario: ${Object.entries(FAULT_MIX)
        .map(([k, v]) => `${k} ${v * 100}%`)
        .join(", ")} of ResetThing calls (no read timeouts), seeded; the diagnostic variant: ${Object.entries(
        FAULT_MIX_WITHOUT_THROTTLE,
      )
        .map(([k, v]) => `${k} ${v * 100}%`)
        .join(", ")}. Runner at its default parallelism (${4 * os.cpus().length}).`,
    `Machine: ${facts.cpus} CPUs (${facts.cpuModel ?? "?"}), ${facts.totalMemMiB} MiB, node ${facts.node}, ${facts.platform}; commit ${facts.commit ?? "?"}` +
      (facts.uncommittedFiles.length
        ? ` plus ${facts.uncommittedFiles.length} uncommitted file(s) under provider/ runner/ emulator/ (measured as built in lib/)`
        : "") +
      `; load average at start ${facts.loadavgAtStart.map((x) => x.toFixed(2)).join(" ")}.`,
    "",
    scenarioTable(shown, n),
    "",
    targetTable(shown, n, overhead),
    "",
    "Overhead methods. (1) Throughput: the span from the first to the last ResetThing at the emulator for the cohort (the whole Pulumi " +
      `path: runtime, dynamic-provider host over gRPC, provider, SDK) against the same span for a bare-SDK loop paced exactly as the provider ` +
      `paces (even slots at ${PACED_QPS} QPS, ${PACED_CONCURRENCY} workers), same N, same emulator settings. (2) Per call: the provider's own ` +
      "create handler (what the host runs for one DeviceRegistrationReset) and a bare SDK call, sequentially, in alternating blocks of 25, each " +
      "against its own emulator with the same seed, so the k-th call of each side meets the same server latency; the mean difference is the " +
      "provider's cost per call, and the client CPU per call is shown beside it.",
    "",
    "Load average (1 min) before/after each scenario: " +
      shown
        .filter((r) => r.loadavg)
        .map((r) => `${r.id} ${r.loadavg!.before.toFixed(2)}/${r.loadavg!.after.toFixed(2)}`)
        .join(", ") +
      ". The machine is shared; a load above the CPU count means other work competed for the CPUs.",
  ].join("\n");

  const json = {
    generatedAt: new Date().toISOString(),
    command: process.argv.slice(1).join(" "),
    options: o,
    machine: { ...facts, loadavgAtEnd: os.loadavg() },
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
  const failed = shown.filter((r) => r.status !== "ok").length;
  process.exitCode = failed > 0 ? 1 : 0;
}

main().catch(async (e: unknown) => {
  process.stderr.write(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  await cleanupAll();
  process.exit(1);
});
