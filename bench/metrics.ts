/**
 * What the benchmark measures, each from the source of truth: ResetThing calls as the emulator recorded
 * them, resident memory as Linux reports it in /proc, and state as the Pulumi CLI wrote its checkpoint.
 */
import * as fs from "fs";
import * as path from "path";
import type { Emulator, RecordedRequest } from "../emulator";
import { sessionProcesses } from "./session";

/** ResetThing traffic of one scenario, as the emulator saw it. */
export interface ResetTraffic {
  /** ResetThing requests received, every outcome. */
  readonly calls: number;
  /** Calls that reset a device. */
  readonly succeeded: number;
  /** Calls refused by the account quota (`Throttling.User`, outcome "throttled"). */
  readonly quotaThrottled: number;
  /** Calls replaced by an injected fault, by kind (`serverError`, `throttle`, `drop`, `badGateway`, …). */
  readonly faults: Record<string, number>;
  /** Total of `faults`. */
  readonly faultsTotal: number;
  /** Business errors (HTTP 200, Success false). */
  readonly businessErrors: number;
  /** Signature/credential refusals. */
  readonly authErrors: number;
  /** Epoch ms of the first and last recorded ResetThing (any outcome); undefined without calls. */
  readonly firstAt?: number;
  readonly lastAt?: number;
  /** lastAt − firstAt, in ms (0 for fewer than two calls). */
  readonly spanMs: number;
  /** Successful resets per second over the span. */
  readonly qps: number;
  /** Most successful resets in any one-second window (the quota's own measure). */
  readonly peakWindowResets: number;
  /** Successful resets per whole second after firstAt, for the time series in the JSON. */
  readonly perSecond: number[];
  /** When the first 50 quota-throttled calls were answered, in ms after firstAt. */
  readonly throttledAtMs: number[];
}

/** A span of time, epoch ms, both ends included. */
export interface Window {
  readonly from: number;
  readonly to: number;
}

/** Counts the ResetThing calls in the emulator's log, all of them or those answered within `window`. */
export function resetTraffic(emu: Emulator, window?: Window): ResetTraffic {
  const reqs: RecordedRequest[] = emu
    .requests({ action: "ResetThing" })
    .filter((r) => !window || (r.time >= window.from && r.time <= window.to));
  const faults: Record<string, number> = {};
  let succeeded = 0;
  let quotaThrottled = 0;
  let businessErrors = 0;
  let authErrors = 0;
  let firstAt: number | undefined;
  let lastAt: number | undefined;
  const successTimes: number[] = [];
  const throttledTimes: number[] = [];
  for (const r of reqs) {
    firstAt = firstAt === undefined ? r.time : Math.min(firstAt, r.time);
    lastAt = lastAt === undefined ? r.time : Math.max(lastAt, r.time);
    switch (r.outcome) {
      case "success":
        succeeded++;
        successTimes.push(r.time);
        break;
      case "throttled":
        quotaThrottled++;
        throttledTimes.push(r.time);
        break;
      case "fault": {
        const kind = r.fault ?? r.code ?? "unknown";
        faults[kind] = (faults[kind] ?? 0) + 1;
        break;
      }
      case "business-error":
        businessErrors++;
        break;
      case "auth-error":
        authErrors++;
        break;
    }
  }
  successTimes.sort((a, b) => a - b);
  // Sliding window (t − 1000, t], as the emulator's quota counts.
  let peakWindowResets = 0;
  for (let hi = 0, lo = 0; hi < successTimes.length; hi++) {
    while ((successTimes[lo] ?? 0) <= (successTimes[hi] ?? 0) - 1000) lo++;
    peakWindowResets = Math.max(peakWindowResets, hi - lo + 1);
  }
  const perSecond: number[] = [];
  if (firstAt !== undefined) {
    for (const t of successTimes) {
      const s = Math.floor((t - firstAt) / 1000);
      while (perSecond.length <= s) perSecond.push(0);
      perSecond[s] = (perSecond[s] ?? 0) + 1;
    }
  }
  const spanMs = firstAt !== undefined && lastAt !== undefined ? lastAt - firstAt : 0;
  const faultsTotal = Object.values(faults).reduce((a, b) => a + b, 0);
  return {
    calls: reqs.length,
    succeeded,
    quotaThrottled,
    faults,
    faultsTotal,
    businessErrors,
    authErrors,
    ...(firstAt !== undefined ? { firstAt } : {}),
    ...(lastAt !== undefined ? { lastAt } : {}),
    spanMs,
    qps: spanMs > 0 ? succeeded / (spanMs / 1000) : 0,
    peakWindowResets,
    perSecond,
    throttledAtMs: throttledTimes.slice(0, 50).map((t) => t - (firstAt ?? t)),
  };
}

/** Which of the expected devices the emulator reset, and how often. */
export interface DeviceCoverage {
  readonly expected: number;
  /** Resets each device should have had (1, or 2 after a campaign change). */
  readonly times: number;
  /** Expected devices with fewer successful resets than `times`. */
  readonly notReset: number;
  /** Expected devices reset more than `times` times. */
  readonly resetMoreThanOnce: number;
}

/** Checks every expected device's reset count at the emulator against `times`. */
export function coverage(
  emu: Emulator,
  expected: ReadonlyArray<{ productKey: string; deviceName: string }>,
  times = 1,
): DeviceCoverage {
  let notReset = 0;
  let resetMoreThanOnce = 0;
  for (const d of expected) {
    const n = emu.resetCount(d);
    if (n < times) notReset++;
    if (n > times) resetMoreThanOnce++;
  }
  return { expected: expected.length, times, notReset, resetMoreThanOnce };
}

/** Peak resident memory of the processes of one scenario, by role, in bytes (max of VmHWM and VmRSS seen). */
export interface MemoryPeaks {
  /** The Pulumi CLI (`bin/pulumi`): the engine; the largest of its processes (`up`, `preview`, `config`, …). */
  cli?: number;
  /** The dynamic-provider host (`@pulumi/pulumi/cmd/dynamic-provider`) the CLI starts. */
  provider?: number;
  /** The workload process itself: the Automation API and the inline program, or the bare-SDK loop. */
  workload?: number;
  /** Anything else in the session (the `sh` of `pulumi-resource-pulumi-nodejs`, `node -e` probes). */
  other?: number;
  /** CPU seconds used, by the same roles, as last seen by the sampler (a process's last 200 ms may be missed). */
  cpuSeconds: Partial<Record<ProcessRole, number>>;
  /** Every process seen, with its role and when it was first seen (to tell which operation it served). */
  processes: SampledProcess[];
  /** Samples taken. */
  samples: number;
}

/** One process of a workload's session, as the sampler saw it. */
export interface SampledProcess {
  readonly pid: number;
  role: ProcessRole;
  /** Epoch ms of the first and the last sample that saw it. */
  readonly firstSeenAt: number;
  lastSeenAt: number;
  /** CPU seconds at the last sample. */
  cpuSeconds: number;
  /** Max of VmHWM and VmRSS seen, bytes. */
  peakBytes: number;
}

/** What a process of a workload's session is. */
export type ProcessRole = "cli" | "provider" | "workload" | "other";

function statusKb(status: string, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, "m").exec(status);
  return m ? Number(m[1]) : 0;
}

/**
 * Polls /proc every `intervalMs` for the memory and CPU time of the processes of one workload's session (the Pulumi CLI and the
 * provider host it starts belong to it), so that other processes on the machine, including other CLIs and
 * dynamic-provider hosts, are never counted. Linux only; elsewhere it records nothing.
 */
export class MemorySampler {
  readonly peaks: MemoryPeaks = { cpuSeconds: {}, processes: [], samples: 0 };
  private timer: NodeJS.Timeout | undefined;
  /** The processes seen, by pid and start time (a pid is reused once the pids wrap). */
  private readonly byPid = new Map<string, SampledProcess>();

  constructor(
    /** The workload's pid, which is also its session id. */
    private readonly sid: number,
    private readonly intervalMs = 200,
  ) {}

  start(): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
  }

  stop(): MemoryPeaks {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const cpu: Partial<Record<ProcessRole, number>> = {};
    for (const p of this.byPid.values()) cpu[p.role] = (cpu[p.role] ?? 0) + p.cpuSeconds;
    this.peaks.cpuSeconds = cpu;
    this.peaks.processes = [...this.byPid.values()];
    return this.peaks;
  }

  private sample(): void {
    this.peaks.samples++;
    const now = Date.now();
    for (const { pid, argv, status, cpuSeconds, startTicks } of sessionProcesses(this.sid)) {
      const bytes = Math.max(statusKb(status, "VmHWM"), statusKb(status, "VmRSS")) * 1024;
      const role: ProcessRole = argv.some((a) => a.includes("cmd/dynamic-provider"))
        ? "provider"
        : path.basename(argv[0] ?? "") === "pulumi"
          ? "cli"
          : pid === this.sid
            ? "workload"
            : "other";
      this.peaks[role] = Math.max(this.peaks[role] ?? 0, bytes);
      const key = `${pid}:${startTicks}`;
      const seen = this.byPid.get(key);
      if (seen) {
        // A process seen between fork and exec still shows its parent's command line: the role is the last one seen.
        seen.role = role;
        seen.lastSeenAt = now;
        seen.cpuSeconds = cpuSeconds;
        seen.peakBytes = Math.max(seen.peakBytes, bytes);
      } else {
        this.byPid.set(key, { pid, role, firstSeenAt: now, lastSeenAt: now, cpuSeconds, peakBytes: bytes });
      }
    }
  }
}

/** Sizes of a Pulumi checkpoint: `.pulumi/stacks/<project>/<stack>.json` in the file backend's folder or the bucket. */
export interface StateSizes {
  /** The file (or object) as the CLI wrote it. */
  readonly fileBytes: number;
  /** Resources of the package (custom resources other than providers). */
  readonly customResources: number;
  /** All resources (with the stack, components and the default provider). */
  readonly resources: number;
  /** UTF-8 bytes of one serialized provider (`__provider` in a resource's outputs). */
  readonly providerBytes: number;
  /** Distinct `__provider` texts in the state. */
  readonly distinctProviders: number;
  /** fileBytes / devices. */
  readonly bytesPerDevice: number;
  /** fileBytes / custom resources. */
  readonly bytesPerResource: number;
  /** Compact JSON of the custom resources' inputs + outputs, per device: what the package puts in state. */
  readonly payloadBytesPerDevice: number;
  /** The same without the `__provider` copies (in inputs and in outputs). */
  readonly payloadBytesPerDeviceWithoutProvider: number;
}

interface CheckpointResource {
  type: string;
  custom?: boolean;
  inputs?: Record<string, unknown>;
  outputs?: Record<string, unknown>;
}

/** Measures a checkpoint file, dividing by `devices`. */
export function stateSizes(file: string, devices: number): StateSizes {
  return stateSizesOf(fs.readFileSync(file, "utf8"), devices);
}

/** Measures a checkpoint's text (the file backend's file, or a bucket backend's object), dividing by `devices`. */
export function stateSizesOf(text: string, devices: number): StateSizes {
  const state = JSON.parse(text) as { checkpoint?: { latest?: { resources?: CheckpointResource[] } } };
  const resources = state.checkpoint?.latest?.resources ?? [];
  const custom = resources.filter((r) => r.custom && !r.type.startsWith("pulumi:providers:"));
  const providers = new Set<string>();
  let payload = 0;
  let providerCopies = 0;
  for (const r of custom) {
    payload += Buffer.byteLength(JSON.stringify(r.inputs ?? {})) + Buffer.byteLength(JSON.stringify(r.outputs ?? {}));
    for (const p of [r.inputs?.__provider, r.outputs?.__provider]) {
      if (typeof p !== "string") continue;
      providers.add(p);
      // As it appears inside the JSON: quoted and escaped.
      providerCopies += Buffer.byteLength(JSON.stringify(p));
    }
  }
  const first = custom.find((r) => typeof r.outputs?.__provider === "string")?.outputs?.__provider as
    string | undefined;
  const fileBytes = Buffer.byteLength(text);
  return {
    fileBytes,
    customResources: custom.length,
    resources: resources.length,
    providerBytes: first ? Buffer.byteLength(first) : 0,
    distinctProviders: providers.size,
    bytesPerDevice: fileBytes / Math.max(1, devices),
    bytesPerResource: fileBytes / Math.max(1, custom.length),
    payloadBytesPerDevice: payload / Math.max(1, devices),
    payloadBytesPerDeviceWithoutProvider: (payload - providerCopies) / Math.max(1, devices),
  };
}
