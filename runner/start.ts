#!/usr/bin/env node
/**
 * `npm start`: the main job on a fresh clone. Starts the bundled IoT emulator on 127.0.0.1 with the demo
 * fleet, points the main example (examples/staged-cohort) at it and runs it: `pulumi up` when the Pulumi
 * CLI is installed, else the offline runner. Then shows what went over the wire.
 *
 *   npm start                          reset the promoted stage (state kept between runs)
 *   npm start -- --preview             plan only: lists the devices an update would reset, sends nothing
 *   npm start -- --stage 2             promote the next stage (only the newly selected devices are reset)
 *   npm start -- --campaign rot-2      a new campaign: every selected device is reset again
 *   npm start -- --destroy             remove the records from state (a reset cannot be undone; sends nothing)
 *   npm start -- --verbose             print every request the emulator received
 *   npm start -- --offline             use the offline runner even when the Pulumi CLI is installed
 *   npm start -- --port N --state FILE another emulator port / offline state file (tests use both)
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseArgs } from "util";
import { Emulator, RecordedRequest, startEmulator } from "../emulator";
import { plannedResets } from "../provider/plan";
import { run } from "./engine";
import { qualifyKey, readStackConfig } from "./project";

const ROOT = path.resolve(__dirname, "..", "..");
const PROGRAM = path.join(ROOT, "examples", "staged-cohort");
const STACK = "dev";
const PROJECT = "iot-reset-staged-cohort";
/** A fixed port: the endpoint is a replace-triggering input, so it must be the same on every run. */
const DEFAULT_PORT = 18127;

interface StartFlags {
  preview: boolean;
  destroy: boolean;
  verbose: boolean;
  offline: boolean;
  campaign?: string;
  stage?: string;
  parallel?: number;
  port: number;
  state?: string;
}

function readFlags(argv: string[]): StartFlags {
  const { values } = parseArgs({
    args: argv,
    options: {
      preview: { type: "boolean" },
      destroy: { type: "boolean" },
      verbose: { type: "boolean" },
      offline: { type: "boolean" },
      campaign: { type: "string" },
      stage: { type: "string" },
      parallel: { type: "string" },
      port: { type: "string" },
      state: { type: "string" },
    },
  });
  const port = values.port === undefined ? DEFAULT_PORT : Number(values.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new Error(`--port must be a port number, got "${values.port}"`);
  if (values.stage !== undefined && !/^\d+$/.test(values.stage))
    throw new Error(`--stage must be a whole number, got "${values.stage}"`);
  const parallel = values.parallel === undefined ? undefined : Number(values.parallel);
  if (parallel !== undefined && !(Number.isInteger(parallel) && parallel >= 1))
    throw new Error(`--parallel must be a positive whole number, got "${values.parallel}"`);
  return {
    preview: values.preview ?? false,
    destroy: values.destroy ?? false,
    verbose: values.verbose ?? false,
    offline: values.offline ?? false,
    campaign: values.campaign,
    stage: values.stage,
    parallel,
    port,
    state: values.state,
  };
}

function hasPulumiCli(): boolean {
  const probe = spawnSync("pulumi", ["version"], { stdio: "ignore" });
  return probe.status === 0;
}

/** The example's config for this run: the emulator endpoint plus any --campaign / --stage. */
function runConfig(emu: Emulator, flags: StartFlags): Record<string, string> {
  return {
    "alicloud:region": "cn-shanghai",
    endpoint: emu.endpoint,
    ...(flags.campaign ? { campaign: flags.campaign } : {}),
    ...(flags.stage ? { stage: flags.stage } : {}),
  };
}

/** Prints "devices reset: k" once a second while resets are flowing. */
function watchProgress(emu: Emulator): () => void {
  let last = -1;
  const timer = setInterval(() => {
    const done = emu.totalResets();
    if (done !== last && done > 0) console.log(`progress: ${done} device resets accepted by IoT Platform so far`);
    last = done;
  }, 1000);
  return () => clearInterval(timer);
}

/** The offline runner path. Returns the exit code. */
async function runOffline(emu: Emulator, flags: StartFlags): Promise<number> {
  const planJsonPath = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "iot-reset-plan-")), "plan.json");
  const result = await run({
    programDir: PROGRAM,
    stack: STACK,
    preview: flags.preview,
    destroy: flags.destroy,
    parallel: flags.parallel,
    statePath: flags.state,
    planJsonPath,
    config: runConfig(emu, flags),
    secretConfig: {
      "alicloud:accessKey": emu.credentials.accessKeyId,
      "alicloud:secretKey": emu.credentials.accessKeySecret,
    },
    onOutput: (line) => console.log(line),
  });
  if (flags.preview && fs.existsSync(planJsonPath)) {
    const resets = plannedResets(JSON.parse(fs.readFileSync(planJsonPath, "utf8")));
    const devices = resets.flatMap((r) => r.devices);
    console.log(`\nThis update would reset ${devices.length} device(s)${devices.length ? ":" : "."}`);
    for (const d of devices.slice(0, 50)) console.log(`  ${d}`);
    if (devices.length > 50) console.log(`  … and ${devices.length - 50} more (iot-reset-plan lists them all)`);
  }
  return result.exitCode;
}

/**
 * The Pulumi CLI path: a local file backend inside the repo and a passphrase, so no login is needed. The CLI
 * writes its stack settings (the passphrase salt among them) next to Pulumi.yaml, so the program runs from a
 * git-ignored copy in `.pulumi/staged-cohort/`: the tracked example is never rewritten.
 */
function runWithCli(emu: Emulator, flags: StartFlags): number {
  const backend = path.join(ROOT, ".pulumi");
  const work = path.join(backend, "staged-cohort");
  fs.mkdirSync(work, { recursive: true });
  for (const file of ["Pulumi.yaml", "index.ts", "fleet.csv", "tsconfig.json"]) {
    fs.copyFileSync(path.join(PROGRAM, file), path.join(work, file));
  }
  // The example's stack settings with this run's on top; the salt the CLI wrote on an earlier run is kept.
  const config = readStackConfig(PROGRAM, STACK, PROJECT);
  for (const [k, v] of Object.entries(runConfig(emu, flags))) config[qualifyKey(k, PROJECT)] = v;
  const stackFile = path.join(work, `Pulumi.${STACK}.yaml`);
  const salt = fs.existsSync(stackFile)
    ? /^encryptionsalt: .*$/m.exec(fs.readFileSync(stackFile, "utf8"))?.[0]
    : undefined;
  const lines = Object.entries(config).map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`);
  fs.writeFileSync(stackFile, `${salt ? `${salt}\n` : ""}config:\n${lines.join("\n")}\n`);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PULUMI_BACKEND_URL: `file://${backend}`,
    PULUMI_CONFIG_PASSPHRASE: process.env.PULUMI_CONFIG_PASSPHRASE ?? "local-emulator-demo",
    PULUMI_SKIP_UPDATE_CHECK: "true",
    // The emulator's test keys, through the environment only (nothing reaches state). The provider looks at
    // ALICLOUD_* before the default chain, so both are set and an operator's own STS token is left out.
    ALICLOUD_ACCESS_KEY: emu.credentials.accessKeyId,
    ALICLOUD_SECRET_KEY: emu.credentials.accessKeySecret,
    ALIBABA_CLOUD_ACCESS_KEY_ID: emu.credentials.accessKeyId,
    ALIBABA_CLOUD_ACCESS_KEY_SECRET: emu.credentials.accessKeySecret,
  };
  delete env.ALICLOUD_SECURITY_TOKEN;
  delete env.ALIBABA_CLOUD_SECURITY_TOKEN;
  const pulumi = (args: string[]) => spawnSync("pulumi", args, { cwd: work, env, stdio: "inherit" }).status ?? 1;
  if (pulumi(["stack", "select", STACK, "--create"]) !== 0) return 1;
  const verb = flags.destroy ? ["destroy", "--yes"] : flags.preview ? ["preview", "--diff"] : ["up", "--yes"];
  return pulumi([...verb, "--stack", STACK, ...(flags.parallel ? ["--parallel", String(flags.parallel)] : [])]);
}

function printRequestLog(emu: Emulator, verbose: boolean): void {
  const requests = emu.requests();
  const counts = new Map<string, number>();
  for (const r of requests) counts.set(`${r.action} ${r.outcome}`, (counts.get(`${r.action} ${r.outcome}`) ?? 0) + 1);
  console.log(
    `\nEmulator request log: ${requests.length} request(s) over the wire${requests.length ? "" : " (nothing was sent)"}`,
  );
  for (const [k, n] of [...counts.entries()].sort()) console.log(`  ${String(n).padStart(6)}  ${k}`);
  const shown = verbose ? requests : requests.slice(0, 10);
  for (const r of shown) console.log(`  ${formatRequest(r)}`);
  if (shown.length < requests.length)
    console.log(`  … ${requests.length - shown.length} more (npm start -- --verbose prints them all)`);
}

function formatRequest(r: RecordedRequest): string {
  const params = Object.entries(r.params)
    .map(([k, v]) => `${k}=${v}`)
    .join(" ");
  return `${new Date(r.time).toISOString()} ${r.action} ${params} -> ${r.httpStatus} ${r.code ?? r.outcome} RequestId=${r.requestId}`;
}

/** Devices in terms an operator counts: reset in this run, failed, and the rest unchanged. */
function deviceSummary(emu: Emulator): string {
  const ok = new Set<string>();
  const failed = new Set<string>();
  for (const r of emu.requests({ action: "ResetThing" })) {
    const key = r.params.IotId ?? `${r.params.ProductKey}/${r.params.DeviceName}`;
    // Any device sent and never accepted failed: business errors, refused signatures, retries run out.
    if (r.outcome === "success") ok.add(key);
    else failed.add(key);
  }
  for (const k of ok) failed.delete(k);
  return `Devices: ${ok.size} reset, ${failed.size} failed in this run (every other selected device unchanged).`;
}

async function main(): Promise<number> {
  process.env.ALIBABA_CLOUD_ECS_METADATA_DISABLED ??= "true";
  process.env.ALIBABA_CLOUD_CLI_PROFILE_DISABLED ??= "true";
  const flags = readFlags(process.argv.slice(2));
  let emu: Emulator;
  try {
    emu = await startEmulator({ port: flags.port, latency: { fixedMs: 20, jitterMs: 10 } });
  } catch (err) {
    throw new Error(
      `could not start the IoT emulator on 127.0.0.1:${flags.port} (${(err as Error).message}); free the port or pass --port N (a new port resets every device once, as the endpoint is part of each reset's identity)`,
    );
  }
  console.log(
    `IoT Platform emulator on ${emu.endpoint} (demo fleet: emulator/fleets/demo.json; test AccessKey ${emu.credentials.accessKeyId})`,
  );
  const stop = watchProgress(emu);
  try {
    const useCli = !flags.offline && hasPulumiCli();
    const code = useCli ? runWithCli(emu, flags) : await runOffline(emu, flags);
    stop();
    if (!flags.preview && !flags.destroy) console.log(`\n${deviceSummary(emu)}`);
    printRequestLog(emu, flags.verbose);
    if (code !== 0)
      console.error(
        `\nThe run failed (exit ${code}); the errors are above. Devices reset before the failure are recorded in state.`,
      );
    return code;
  } finally {
    stop();
    await emu.stop();
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: Error) => {
    console.error(`npm start: ${err.message}`);
    process.exitCode = 1;
  },
);
