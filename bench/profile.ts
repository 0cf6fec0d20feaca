/**
 * Where the time of one engine operation goes (`node lib/bench/profile.js`): the bench cohort program under the
 * real CLI against a fresh emulator, each operation with the CLI's own CPU profile (`pulumi --profiling`), the
 * provider host's CPU profile (`bench/cpu-profile-hook.js`, required through NODE_OPTIONS, which only the host
 * reads: the program runs in this process), and a timeline of the engine's events (the Automation API's event stream, which stamps each
 * event in whole seconds, so each event is stamped again when it arrives here) beside the emulator's resets.
 * Diagnostic only: `PULUMI_SKIP_CHECKPOINTS` can be set with `--skip-checkpoints` to tell the checkpoint's cost.
 */
import * as fs from "fs";
import * as path from "path";
import { startEmulator } from "../emulator";
import { ensurePulumiCli, PulumiCli } from "../engine/cli";
import { programFromFile } from "../engine/program";
import { EngineStack } from "../engine/stack";
import { fleetOf, padFor } from "./devices";
import { OFFLINE_ENV } from "./env";

const REPO = path.resolve(__dirname, "..", "..");

interface Step {
  readonly id: string;
  readonly op: "up" | "preview";
  readonly config?: Record<string, string>;
}

function args(argv: string[]) {
  const get = (flag: string, fallback: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 && argv[i + 1] !== undefined ? (argv[i + 1] as string) : fallback;
  };
  return {
    devices: Number(get("--devices", "20000")),
    out: path.resolve(get("--out", path.join(REPO, "bench", "results", "profile"))),
    steps: get("--steps", "up,noop-preview,noop-up,one-device,campaign").split(","),
    latencyMs: Number(get("--latency-ms", "0")),
    skipCheckpoints: argv.includes("--skip-checkpoints"),
    hostProfile: !argv.includes("--no-host-profile"),
    cliProfile: !argv.includes("--no-cli-profile"),
  };
}

/** A CLI root whose `bin/pulumi` runs the real binary with `--profiling <dir>/cli-<op>`, one profile per process. */
function profilingCli(cli: PulumiCli, dir: string): PulumiCli {
  const root = path.join(dir, "cli-root");
  fs.mkdirSync(path.join(root, "bin"), { recursive: true });
  const wrapper = path.join(root, "bin", "pulumi");
  fs.writeFileSync(
    wrapper,
    `#!/bin/sh\ncase "$1" in up|preview) exec "${cli.binary}" "$@" --profiling "${dir}/cli-$1-$(date +%s%N)";; esac\nexec "${cli.binary}" "$@"\n`,
    { mode: 0o755 },
  );
  return { ...cli, root, binary: wrapper };
}

async function main(): Promise<void> {
  const o = args(process.argv.slice(2));
  fs.rmSync(o.out, { recursive: true, force: true });
  fs.mkdirSync(o.out, { recursive: true });
  const emulator = await startEmulator({ fleet: fleetOf(o.devices + 1), latency: { fixedMs: o.latencyMs } });
  const real = await ensurePulumiCli((line) => console.error(line));
  const cli = o.cliProfile ? profilingCli(real, o.out) : real;
  const hostProfiles = path.join(o.out, "host");
  const stack = await EngineStack.open({
    cli,
    project: "iot-reset-profile",
    stack: "profile",
    program: programFromFile(path.join(REPO, "bench", "programs", "cohort", "index.ts")),
    workDir: path.join(o.out, "work"),
    backendDir: path.join(o.out, "backend"),
    env: {
      ...OFFLINE_ENV,
      ALICLOUD_ACCESS_KEY: emulator.credentials.accessKeyId,
      ALICLOUD_SECRET_KEY: emulator.credentials.accessKeySecret,
      ALICLOUD_SECURITY_TOKEN: "",
      ...(o.hostProfile
        ? {
            // NODE_OPTIONS refuses --cpu-prof; the hook profiles in chunks (the engine ends the host without an exit).
            NODE_OPTIONS: `--require ${path.join(REPO, "bench", "cpu-profile-hook.js")}`,
            IOT_RESET_CPU_PROFILE_DIR: hostProfiles,
          }
        : {}),
      ...(o.skipCheckpoints ? { PULUMI_SKIP_CHECKPOINTS: "true" } : {}),
    },
  });
  await stack.setConfig({
    "alicloud:region": "cn-shanghai",
    endpoint: emulator.endpoint,
    devices: String(o.devices),
    pad: String(padFor(o.devices + 1)),
    campaign: "profile-1",
    batchSize: "500",
  });
  const all: Record<string, Step> = {
    up: { id: "up", op: "up" },
    "noop-preview": { id: "noop-preview", op: "preview" },
    "noop-up": { id: "noop-up", op: "up" },
    "one-device": { id: "one-device", op: "up", config: { devices: String(o.devices + 1) } },
    campaign: { id: "campaign", op: "up", config: { campaign: "profile-2" } },
  };
  const report: unknown[] = [];
  for (const id of o.steps) {
    const step = all[id];
    if (!step) throw new Error(`unknown step ${id}; one of ${Object.keys(all).join(", ")}`);
    if (step.config) await stack.mergeConfig(step.config);
    const events: Array<{ at: number; kind: string; urn?: string; op?: string }> = [];
    const resetsBefore = emulator.requests({ action: "ResetThing" }).length;
    const startedAt = Date.now();
    const onEvent = (event: object) => {
      const e = event as Record<string, unknown>;
      const kind = Object.keys(e).find((k) => k.endsWith("Event")) ?? "?";
      const body = (e[kind] ?? {}) as { metadata?: { urn?: string; op?: string } };
      events.push({ at: Date.now() - startedAt, kind, urn: body.metadata?.urn, op: body.metadata?.op });
    };
    const result = step.op === "up" ? await stack.up({ onEvent }) : await stack.preview({ onEvent });
    const endedAt = Date.now();
    const resets = emulator
      .requests({ action: "ResetThing" })
      .slice(resetsBefore)
      .filter((r) => r.outcome === "success")
      .map((r) => r.time - startedAt);
    const checkpoint = fs.existsSync(stack.checkpointPath) ? fs.statSync(stack.checkpointPath).size : 0;
    const row = {
      id,
      exitCode: result.exitCode,
      wallMs: endedAt - startedAt,
      resets: resets.length,
      firstResetMs: resets.length ? Math.min(...resets) : undefined,
      lastResetMs: resets.length ? Math.max(...resets) : undefined,
      checkpointBytes: checkpoint,
      events: events.length,
    };
    report.push(row);
    fs.writeFileSync(path.join(o.out, `events-${id}.json`), JSON.stringify({ events, resets }));
    console.error(JSON.stringify(row));
    if (result.exitCode !== 0) {
      console.error(result.errors.slice(0, 3).join("\n"));
      break;
    }
  }
  fs.writeFileSync(path.join(o.out, "report.json"), JSON.stringify(report, null, 2));
  await emulator.stop();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
