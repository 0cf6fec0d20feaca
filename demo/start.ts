#!/usr/bin/env node
/**
 * `npm start`: the main job on a fresh clone. Starts the bundled IoT emulator on 127.0.0.1 with the demo
 * fleet, and runs the main example (examples/staged-cohort) against it under the real Pulumi engine: the
 * Automation API drives the Pulumi CLI with the example as an inline program, on a local file backend in
 * `.pulumi/demo/` (git-ignored), so no login is needed. Then it shows what went over the wire. The options are
 * in USAGE below (`npm start -- --help` prints them).
 *
 * With no Pulumi CLI installed, the first run builds the pinned one from its Go modules (minutes, once).
 */
import * as fs from "fs";
import * as path from "path";
import { parseArgs } from "util";
import { Emulator, RecordedRequest, startEmulator } from "../emulator";
import { ensurePulumiCli } from "../engine/cli";
import { programFromFile } from "../engine/program";
import { EngineStack, RunResult } from "../engine/stack";
import { plannedResets } from "../provider/plan/read-plan";

import { ROOT } from "../engine/root";
const EXAMPLE = path.join(ROOT, "examples", "staged-cohort");
const STACK = "dev";
const PROJECT = "iot-reset-staged-cohort";
/** A fixed port: the endpoint is a replace-triggering input, so it must be the same on every run. */
const DEFAULT_PORT = 18127;

const USAGE = `Usage: npm start [-- options]

Runs examples/staged-cohort against the bundled IoT Platform emulator on 127.0.0.1, under the real Pulumi CLI,
with its state in .pulumi/demo/ (kept between runs) and its reset journal in .pulumi/demo/work/.iot-reset/.

  (no option)        reset the promoted stage
  --preview          plan only: list the devices an update would reset; sends nothing
  --stage N          promote stages up to N (only the newly selected devices are reset)
  --campaign NAME    a new campaign: every selected device is reset again
  --destroy          remove the records from state (a reset cannot be undone; sends nothing)
  --verbose          print every request the emulator received
  --parallel N       at most N resource operations at a time (pulumi up --parallel)
  --port N           the emulator's port (default ${DEFAULT_PORT}; a new port resets every device once,
                     as the endpoint is part of each reset's identity)
  --dir DIR          the state folder (default .pulumi/demo)
  -h, --help         print this help
`;

interface StartFlags {
  readonly help: boolean;
  readonly preview: boolean;
  readonly destroy: boolean;
  readonly verbose: boolean;
  readonly campaign?: string;
  readonly stage?: string;
  readonly parallel?: number;
  readonly port: number;
  readonly dir: string;
}

function readFlags(argv: string[]): StartFlags {
  const { values } = parseArgs({
    args: argv,
    options: {
      help: { type: "boolean", short: "h" },
      preview: { type: "boolean" },
      destroy: { type: "boolean" },
      verbose: { type: "boolean" },
      campaign: { type: "string" },
      stage: { type: "string" },
      parallel: { type: "string" },
      port: { type: "string" },
      dir: { type: "string" },
    },
  });
  const port = values.port === undefined ? DEFAULT_PORT : Number(values.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new Error(`--port must be a port number from 1 to 65535, got "${values.port}"`);
  if (values.stage !== undefined && !/^[1-9]\d*$/.test(values.stage))
    throw new Error(`--stage must be a whole number from 1, got "${values.stage}"`);
  const parallel = values.parallel === undefined ? undefined : Number(values.parallel);
  if (parallel !== undefined && !(Number.isInteger(parallel) && parallel >= 1))
    throw new Error(`--parallel must be a positive whole number, got "${values.parallel}"`);
  if (values.preview && values.destroy) throw new Error("--preview and --destroy cannot be given together");
  return {
    help: values.help ?? false,
    preview: values.preview ?? false,
    destroy: values.destroy ?? false,
    verbose: values.verbose ?? false,
    ...(values.campaign ? { campaign: values.campaign } : {}),
    ...(values.stage ? { stage: values.stage } : {}),
    ...(parallel ? { parallel } : {}),
    port,
    dir: path.resolve(values.dir ?? path.join(ROOT, ".pulumi", "demo")),
  };
}

/**
 * The stack config for this run: the example's `Pulumi.dev.yaml` (copied into the work folder, keeping the
 * salt the CLI wrote there), then the emulator endpoint and any --campaign / --stage on top.
 */
async function configure(stack: EngineStack, workDir: string, emu: Emulator, flags: StartFlags): Promise<void> {
  const stackFile = path.join(workDir, `Pulumi.${STACK}.yaml`);
  const written = fs.existsSync(stackFile) ? fs.readFileSync(stackFile, "utf8") : "";
  const salt = /^encryptionsalt: .*$/m.exec(written)?.[0];
  const example = fs.readFileSync(path.join(EXAMPLE, `Pulumi.${STACK}.yaml`), "utf8");
  fs.writeFileSync(stackFile, salt ? `${salt}\n${example}` : example);
  await stack.mergeConfig({
    endpoint: emu.endpoint,
    ...(flags.campaign ? { campaign: flags.campaign } : {}),
    ...(flags.stage ? { stage: flags.stage } : {}),
  });
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

/** The plan of a JSON preview, in an operator's terms: each resource's operation, then every device to reset. */
function printPlan(result: RunResult): void {
  for (const step of result.steps) {
    if (step.op === "same" || step.type === "pulumi:pulumi:Stack") continue;
    const why = step.replaces?.length ? ` (${step.replaces.join(", ")} changed)` : "";
    console.log(`  ${step.op.padEnd(8)} ${step.name}${why}`);
  }
  const resets = plannedResets(JSON.parse(result.stdout));
  const devices = resets.flatMap((r) => r.devices);
  const unknown = resets.filter((r) => r.unknown).length;
  console.log(`\nThis update would reset ${devices.length} device(s)${devices.length ? ":" : "."}`);
  for (const d of devices.slice(0, 50)) console.log(`  ${d}`);
  if (devices.length > 50) console.log(`  … and ${devices.length - 50} more (iot-reset-plan lists them all)`);
  if (unknown) console.log(`  and ${unknown} resource(s) whose devices are not known until the update runs`);
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

/** A folder as the user can find it: relative to the clone when inside it, else absolute. */
function shown(dir: string): string {
  const relative = path.relative(ROOT, dir);
  return relative.startsWith("..") || path.isAbsolute(relative) ? dir : relative;
}

async function main(): Promise<number> {
  process.env.ALIBABA_CLOUD_ECS_METADATA_DISABLED ??= "true";
  process.env.ALIBABA_CLOUD_CLI_PROFILE_DISABLED ??= "true";
  const flags = readFlags(process.argv.slice(2));
  if (flags.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const cli = await ensurePulumiCli((line) => console.log(line));
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
  console.log(
    `Pulumi CLI v${cli.version} (${cli.source}), stack ${STACK}, state in ${shown(flags.dir)}/, journal in ${shown(path.join(flags.dir, "work", ".iot-reset"))}/`,
  );
  const stop = watchProgress(emu);
  try {
    const workDir = path.join(flags.dir, "work");
    const stack = await EngineStack.open({
      cli,
      project: PROJECT,
      stack: STACK,
      program: programFromFile(path.join(EXAMPLE, "index.ts")),
      workDir,
      backendDir: path.join(flags.dir, "backend"),
      // The emulator's test keys reach the provider through the environment only, so nothing lands in state.
      // The provider reads ALICLOUD_* before the default chain; an operator's own STS token is left out.
      env: {
        ALICLOUD_ACCESS_KEY: emu.credentials.accessKeyId,
        ALICLOUD_SECRET_KEY: emu.credentials.accessKeySecret,
        ALICLOUD_SECURITY_TOKEN: "",
      },
    });
    await configure(stack, workDir, emu, flags);
    const onOutput = (text: string) => process.stdout.write(text);
    const parallel = flags.parallel ? { parallel: flags.parallel } : {};
    let result: RunResult;
    if (flags.preview) {
      console.log(`\npulumi preview (stack ${STACK}):`);
      result = await stack.preview({ json: true, ...parallel });
      if (result.exitCode === 0) printPlan(result);
      else for (const e of result.errors) console.error(e);
    } else if (flags.destroy) {
      result = await stack.destroy({ onOutput, ...parallel });
    } else {
      result = await stack.up({ onOutput, ...parallel });
    }
    stop();
    if (!flags.preview && !flags.destroy) console.log(`\n${deviceSummary(emu)}`);
    printRequestLog(emu, flags.verbose);
    if (result.exitCode !== 0)
      console.error(
        `\nThe run failed (exit ${result.exitCode}); the errors are above. Devices reset before the failure are recorded in state.`,
      );
    return result.exitCode === 0 ? 0 : 1;
  } finally {
    stop();
    await emu.stop();
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: Error & { code?: string }) => {
    // parseArgs refuses an unknown or malformed option with a code of its own; the usage says what is accepted.
    const hint = err.code?.startsWith("ERR_PARSE_ARGS") ? "\nRun `npm start -- --help` for the options." : "";
    console.error(`npm start: ${err.message}${hint}`);
    process.exitCode = 1;
  },
);
