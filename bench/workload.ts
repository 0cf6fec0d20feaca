/**
 * One benchmark workload, run in its own process (forked by bench.ts as the leader of a new session, so that
 * a timeout can stop it together with the Pulumi CLI and the provider host it starts: see session.ts). The emulator
 * stays in the parent: client and server never share an event loop, as in production.
 *
 * The parent sends one `Job`; this process answers with progress lines and one `JobResult`, then exits.
 */
import "./env";
import { devices } from "./devices";
import { killSession } from "./session";
import type { EngineJob, EngineOutcome } from "./engine-job";

/** Credentials and address of the emulator a job talks to. */
export interface Target {
  /** `http://127.0.0.1:PORT`. */
  readonly endpoint: string;
  readonly accessKeyId: string;
  readonly accessKeySecret: string;
}

/** What the parent asks for. */
export type Job =
  | ({
      /** A bench program under the real Pulumi CLI: preview, up and further operations, each timed. */
      readonly kind: "engine";
    } & EngineJob)
  | {
      /** Bare SDK, one call after the other, over the first `count` devices of a fleet of `fleetSize`. */
      readonly kind: "sdk-sequential";
      readonly target: Target;
      readonly count: number;
      readonly fleetSize: number;
    }
  | {
      /** Bare SDK, every call at once (`Promise.all`), no retries. */
      readonly kind: "sdk-unbounded";
      readonly target: Target;
      readonly count: number;
    }
  | {
      /** Bare SDK, evenly paced at `qps` with `concurrency` workers, no retries: the provider's pacing without the provider. */
      readonly kind: "sdk-paced";
      readonly target: Target;
      readonly count: number;
      readonly qps: number;
      readonly concurrency: number;
    }
  | {
      /**
       * Per-call overhead: `calls` sequential resets through the provider's own create (the handler the
       * dynamic-provider host runs) against `provider`, and `calls` bare SDK calls against `sdk`, in
       * alternating blocks. The two emulators have the same latency seed, so the k-th call of each side
       * waits exactly as long at the server.
       */
      readonly kind: "overhead";
      readonly provider: Target;
      readonly sdk: Target;
      readonly calls: number;
      readonly warmup: number;
      readonly block: number;
    };

/** Calls the user's code saw fail, by Code (`Throttling.User`, `SyntaxError`, `ECONNRESET`, …). */
export type ErrorsByCode = Record<string, number>;

/** Latency of calls as the client saw them, in ms. */
export interface LatencyStats {
  readonly count: number;
  readonly meanMs: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/** What the child answers. */
export type JobResult =
  | {
      readonly ok: true;
      /** Epoch ms when the measured work started and ended (same clock as the emulator's request times). */
      readonly startedAt: number;
      readonly endedAt: number;
      readonly wallMs: number;
      readonly engine?: EngineOutcome;
      readonly calls?: {
        readonly succeeded: number;
        readonly failed: number;
        readonly errorsByCode: ErrorsByCode;
        readonly latency: LatencyStats;
      };
      readonly overhead?: {
        readonly provider: LatencyStats & { readonly cpuUsPerCall: number };
        readonly sdk: LatencyStats & { readonly cpuUsPerCall: number };
        readonly failures: number;
      };
    }
  | { readonly ok: false; readonly error: string };

/** Messages from the child. */
export type ChildMessage =
  { readonly kind: "progress"; readonly line: string } | { readonly kind: "result"; readonly result: JobResult };

/* eslint-disable @typescript-eslint/no-require-imports */

const REGION = "cn-shanghai";
/** The provider's own call options (provider/host/iot-api.ts): no SDK retries, 10 s read, 5 s connect timeout. */
const RUNTIME_OPTIONS = { autoretry: false, readTimeout: 10_000, connectTimeout: 5_000 };

function send(msg: ChildMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) return resolve();
    process.send(msg, () => resolve());
  });
}

function progress(line: string): void {
  void send({ kind: "progress", line });
}

function errorText(e: unknown): string {
  return e instanceof Error ? (e.stack ?? e.message) : String(e);
}

/** The Code a user would read off an SDK exception. */
function codeOf(err: unknown): string {
  const e = (err ?? {}) as { code?: unknown; name?: unknown; message?: unknown };
  if (typeof e.code === "string" && e.code !== "") return e.code;
  if (typeof e.name === "string" && e.name !== "Error") return e.name;
  return typeof e.message === "string" ? e.message.slice(0, 60) : "Error";
}

/** A bare SDK client, as the emulator's README shows it: static keys, plain http, host:port. */
function bareClient(target: Target) {
  const Iot = require("@alicloud/iot20180120").default as typeof import("@alicloud/iot20180120").default;
  const $OpenApi = require("@alicloud/openapi-client") as typeof import("@alicloud/openapi-client");
  const $Util = require("@alicloud/tea-util") as typeof import("@alicloud/tea-util");
  const { ResetThingRequest } = require("@alicloud/iot20180120") as typeof import("@alicloud/iot20180120");
  const client = new Iot(
    new $OpenApi.Config({
      accessKeyId: target.accessKeyId,
      accessKeySecret: target.accessKeySecret,
      endpoint: target.endpoint.replace(/^http:\/\//, ""),
      protocol: "http",
      regionId: REGION,
    }),
  );
  const runtime = new $Util.RuntimeOptions(RUNTIME_OPTIONS);
  /** One ResetThing; throws what the SDK throws, and for `Success: false` an error with the body's Code. */
  return async (device: { productKey: string; deviceName: string }): Promise<void> => {
    const res = await client.resetThingWithOptions(new ResetThingRequest(device), runtime);
    if (res.body?.success === false)
      throw Object.assign(new Error(res.body.errorMessage ?? "Success: false"), { code: res.body.code ?? "Unknown" });
  };
}

function stats(samples: number[]): LatencyStats {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  const sum = sorted.reduce((a, b) => a + b, 0);
  return {
    count: sorted.length,
    meanMs: sorted.length ? sum / sorted.length : 0,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    maxMs: sorted[sorted.length - 1] ?? 0,
  };
}

async function runEngineJob(job: Extract<Job, { kind: "engine" }>): Promise<JobResult> {
  const { runEngine } = require("./engine-job") as typeof import("./engine-job");
  const startedAt = Date.now();
  const engine = await runEngine(job, progress);
  const endedAt = Date.now();
  return { ok: true, startedAt, endedAt, wallMs: endedAt - startedAt, engine };
}

/** One bare-SDK call, timed: its latency is recorded, a failure counted by Code; true when it succeeded. */
async function timedCall<D>(
  call: (device: D) => Promise<unknown>,
  device: D,
  errorsByCode: ErrorsByCode,
  latencies: number[],
): Promise<boolean> {
  const t0 = performance.now();
  try {
    await call(device);
    return true;
  } catch (err) {
    const code = codeOf(err);
    errorsByCode[code] = (errorsByCode[code] ?? 0) + 1;
    return false;
  } finally {
    latencies.push(performance.now() - t0);
  }
}

/** The result of a bare-SDK workload: `count` calls, how many succeeded, the errors by Code, the latencies. */
function callsResult(
  startedAt: number,
  count: number,
  succeeded: number,
  errorsByCode: ErrorsByCode,
  latencies: number[],
  endedAt: number = Date.now(),
): JobResult {
  return {
    ok: true,
    startedAt,
    endedAt,
    wallMs: endedAt - startedAt,
    calls: { succeeded, failed: count - succeeded, errorsByCode, latency: stats(latencies) },
  };
}

async function runSequential(job: Extract<Job, { kind: "sdk-sequential" }>): Promise<JobResult> {
  const call = bareClient(job.target);
  const list = devices(job.count, job.fleetSize);
  const errorsByCode: ErrorsByCode = {};
  const latencies: number[] = [];
  let succeeded = 0;
  const startedAt = Date.now();
  for (const [i, device] of list.entries()) {
    if (await timedCall(call, device, errorsByCode, latencies)) succeeded++;
    if ((i + 1) % 100 === 0) progress(`sequential SDK: ${i + 1}/${list.length} calls`);
  }
  return callsResult(startedAt, list.length, succeeded, errorsByCode, latencies);
}

async function runUnbounded(job: Extract<Job, { kind: "sdk-unbounded" }>): Promise<JobResult> {
  const call = bareClient(job.target);
  const list = devices(job.count);
  const latencies: number[] = [];
  const startedAt = Date.now();
  // What a user writes first: every call at once. `allSettled` so that every failure is counted (with
  // `Promise.all` the user would see the first rejection while the rest still run).
  const settled = await Promise.allSettled(
    list.map(async (device) => {
      const t0 = performance.now();
      try {
        await call(device);
      } finally {
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const endedAt = Date.now();
  const errorsByCode: ErrorsByCode = {};
  let succeeded = 0;
  for (const s of settled) {
    if (s.status === "fulfilled") succeeded++;
    else errorsByCode[codeOf(s.reason)] = (errorsByCode[codeOf(s.reason)] ?? 0) + 1;
  }
  return callsResult(startedAt, list.length, succeeded, errorsByCode, latencies, endedAt);
}

async function runPaced(job: Extract<Job, { kind: "sdk-paced" }>): Promise<JobResult> {
  const call = bareClient(job.target);
  const list = devices(job.count);
  const errorsByCode: ErrorsByCode = {};
  const latencies: number[] = [];
  let succeeded = 0;
  let next = 0;
  // The provider's pacing (provider/host/pacer.ts) without the provider: evenly spaced slots in call order.
  const spacing = 1000 / job.qps;
  let nextSlot = 0;
  const acquire = async () => {
    const now = Date.now();
    const slot = Math.max(nextSlot, now);
    nextSlot = slot + spacing;
    if (slot > now) await new Promise((resolve) => setTimeout(resolve, slot - now));
  };
  const startedAt = Date.now();
  const worker = async () => {
    while (next < list.length) {
      const device = list[next++];
      if (!device) break;
      await acquire();
      if (await timedCall(call, device, errorsByCode, latencies)) succeeded++;
    }
  };
  await Promise.all(Array.from({ length: job.concurrency }, worker));
  return callsResult(startedAt, list.length, succeeded, errorsByCode, latencies);
}

async function runOverhead(job: Extract<Job, { kind: "overhead" }>): Promise<JobResult> {
  // The handler set the dynamic-provider host runs for DeviceRegistrationReset, configured as the host
  // configures it (stack config with namespaced keys).
  const host = require("pulumi-alicloud-iot-reset/provider-host") as typeof import("../provider/host/index");
  const config: Record<string, string> = {
    "alicloud:region": REGION,
    "alicloud:accessKey": job.provider.accessKeyId,
    "alicloud:secretKey": job.provider.accessKeySecret,
  };
  await host.deviceReset.configure!({ config: { get: (k: string) => config[k] } } as never);
  const viaProvider = async (device: { productKey: string; deviceName: string }) => {
    await host.deviceReset.create!({ ...device, endpoint: job.provider.endpoint });
  };
  const viaSdk = bareClient(job.sdk);
  const list = devices(job.warmup + job.calls);
  const samples = { provider: [] as number[], sdk: [] as number[] };
  const cpu = { provider: 0, sdk: 0 };
  let failures = 0;
  const startedAt = Date.now();
  // Warm-up (JIT, connection, credential) on both sides, not measured; then alternating blocks, so that a
  // change in machine load hits both sides alike.
  for (let i = 0; i < job.warmup; i++) {
    const device = list[i]!;
    await viaProvider(device).catch(() => failures++);
    await viaSdk(device).catch(() => failures++);
  }
  for (let start = job.warmup; start < list.length; start += job.block) {
    const block = list.slice(start, start + job.block);
    for (const side of ["provider", "sdk"] as const) {
      const fn = side === "provider" ? viaProvider : viaSdk;
      const cpu0 = process.cpuUsage();
      for (const device of block) {
        const t0 = performance.now();
        try {
          await fn(device);
        } catch {
          failures++;
        }
        samples[side].push(performance.now() - t0);
      }
      const used = process.cpuUsage(cpu0);
      cpu[side] += used.user + used.system;
    }
    if ((start - job.warmup + job.block) % 100 === 0)
      progress(`overhead: ${start - job.warmup + job.block}/${job.calls} calls per side`);
  }
  const endedAt = Date.now();
  return {
    ok: true,
    startedAt,
    endedAt,
    wallMs: endedAt - startedAt,
    overhead: {
      provider: { ...stats(samples.provider), cpuUsPerCall: cpu.provider / Math.max(1, samples.provider.length) },
      sdk: { ...stats(samples.sdk), cpuUsPerCall: cpu.sdk / Math.max(1, samples.sdk.length) },
      failures,
    },
  };
}

async function runJob(job: Job): Promise<JobResult> {
  switch (job.kind) {
    case "engine":
      return runEngineJob(job);
    case "sdk-sequential":
      return runSequential(job);
    case "sdk-unbounded":
      return runUnbounded(job);
    case "sdk-paced":
      return runPaced(job);
    case "overhead":
      return runOverhead(job);
  }
}

// Without the parent nobody reads the result, and the CLI and the provider host would outlive us: end this
// session (this process, the CLI and the provider host it started).
process.on("disconnect", () => {
  killSession(process.pid);
  process.exit(1);
});

process.once("message", (job: Job) => {
  runJob(job)
    .catch((e: unknown): JobResult => ({ ok: false, error: errorText(e) }))
    .then(async (result) => {
      await send({ kind: "result", result });
      process.exit(0);
    });
});
