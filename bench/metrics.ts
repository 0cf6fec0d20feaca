/**
 * What the benchmark measures, each from the source of truth: ResetThing calls as the emulator recorded
 * them, resident memory as Linux reports it in /proc, and state as the runner wrote it to disk.
 */
import * as fs from "fs";
import type { Emulator, RecordedRequest } from "../emulator";

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

/** Counts the ResetThing calls in the emulator's log. */
export function resetTraffic(emu: Emulator): ResetTraffic {
  const reqs: RecordedRequest[] = emu.requests({ action: "ResetThing" });
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
  /** Expected devices with no successful reset. */
  readonly notReset: number;
  /** Expected devices reset more than once. */
  readonly resetMoreThanOnce: number;
}

/** Checks every expected device's reset count at the emulator. */
export function coverage(
  emu: Emulator,
  expected: ReadonlyArray<{ productKey: string; deviceName: string }>,
): DeviceCoverage {
  let notReset = 0;
  let resetMoreThanOnce = 0;
  for (const d of expected) {
    const n = emu.resetCount(d);
    if (n === 0) notReset++;
    if (n > 1) resetMoreThanOnce++;
  }
  return { expected: expected.length, notReset, resetMoreThanOnce };
}

/** Peak resident memory of the processes of one scenario, by role, in bytes. */
export interface MemoryPeaks {
  /** The dynamic-provider host (`@pulumi/pulumi/cmd/dynamic-provider`): max of VmHWM and VmRSS seen. */
  provider?: number;
  /** The runner's program process (runner/worker.js). */
  program?: number;
  /** The workload process itself (the runner's engine, or the bare-SDK loop). */
  workload?: number;
  /** Samples taken. */
  samples: number;
}

function statusKb(status: string, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, "m").exec(status);
  return m ? Number(m[1]) : 0;
}

/**
 * Polls /proc every `intervalMs` for the processes of one process group (the workload's; the runner's
 * program and provider processes inherit it), so that other processes on the machine, including other
 * dynamic-provider hosts, are never counted. Linux only; elsewhere it records nothing.
 */
export class MemorySampler {
  readonly peaks: MemoryPeaks = { samples: 0 };
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly pgid: number,
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
    return this.peaks;
  }

  private sample(): void {
    let pids: string[];
    try {
      pids = fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p));
    } catch {
      return;
    }
    this.peaks.samples++;
    for (const pid of pids) {
      try {
        // Field 5 of /proc/<pid>/stat is the process group; the command name (field 2) may hold spaces.
        const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        if (Number(fields[2]) !== this.pgid) continue;
        const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
        const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
        const bytes = Math.max(statusKb(status, "VmHWM"), statusKb(status, "VmRSS")) * 1024;
        const role: keyof Omit<MemoryPeaks, "samples"> = cmdline.includes("cmd/dynamic-provider")
          ? "provider"
          : cmdline.includes("runner/worker")
            ? "program"
            : "workload";
        this.peaks[role] = Math.max(this.peaks[role] ?? 0, bytes);
      } catch {
        // The process ended between readdir and read.
      }
    }
  }
}

/** Sizes of a runner state file. */
export interface StateSizes {
  /** The file as written (pretty-printed JSON). */
  readonly fileBytes: number;
  /** Custom (provider-managed) resources in it. */
  readonly customResources: number;
  /** All resources (with the stack and components). */
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

/** Measures the state file a runner scenario wrote. */
export function stateSizes(file: string, devices: number): StateSizes {
  const text = fs.readFileSync(file, "utf8");
  const state = JSON.parse(text) as {
    resources: Array<{ custom: boolean; inputs: Record<string, unknown>; outputs: Record<string, unknown> }>;
  };
  const custom = state.resources.filter((r) => r.custom);
  const providers = new Set<string>();
  let payload = 0;
  let providerCopies = 0;
  for (const r of custom) {
    payload += Buffer.byteLength(JSON.stringify(r.inputs)) + Buffer.byteLength(JSON.stringify(r.outputs));
    for (const p of [r.inputs.__provider, r.outputs.__provider]) {
      if (typeof p !== "string") continue;
      providers.add(p);
      // As it appears inside the JSON: quoted and escaped.
      providerCopies += Buffer.byteLength(JSON.stringify(p));
    }
  }
  const first = custom.find((r) => typeof r.outputs.__provider === "string")?.outputs.__provider as string | undefined;
  const fileBytes = Buffer.byteLength(text);
  return {
    fileBytes,
    customResources: custom.length,
    resources: state.resources.length,
    providerBytes: first ? Buffer.byteLength(first) : 0,
    distinctProviders: providers.size,
    bytesPerDevice: fileBytes / Math.max(1, devices),
    bytesPerResource: fileBytes / Math.max(1, custom.length),
    payloadBytesPerDevice: payload / Math.max(1, devices),
    payloadBytesPerDeviceWithoutProvider: (payload - providerCopies) / Math.max(1, devices),
  };
}
