/**
 * The engine side of a benchmark scenario, run inside the workload process: a bench program under the real
 * Pulumi CLI (Automation API, inline program, file backend in a fresh folder or a bucket), one operation after the
 * other, each timed twice: the whole Automation API call, and the `pulumi` process of the operation alone (what an
 * operator's `pulumi up --skip-preview` or `pulumi preview` costs; the Automation API adds `stack select`,
 * `stack output` and `stack history` around it).
 */
import * as fs from "fs";
import * as path from "path";
import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { ensurePulumiCli } from "../engine/cli";
import { programFromFile } from "../engine/program";
import { EngineStack, RunResult } from "../engine/stack";
import { stateSizes, stateSizesOf, type StateSizes } from "./metrics";

/** One operation of an engine scenario. */
export interface EngineStep {
  /** Stable id, e.g. `preview`, `up`, `noop-preview`, `one-device`, `campaign`. */
  readonly id: string;
  readonly op: "preview" | "up";
  /** Config merged into the stack's before the operation (e.g. one more device, a new campaign). */
  readonly config?: Readonly<Record<string, string>>;
  /** Measure the checkpoint after the operation. */
  readonly measureCheckpoint?: boolean;
}

/** What the workload process is asked to run. */
export interface EngineJob {
  /** The Pulumi program file (`bench/programs/<name>/index.ts`), run as an inline program. */
  readonly programFile: string;
  /** The Pulumi project name (stack config without a namespace is the project's). */
  readonly project: string;
  /** A fresh folder for the work folder and the file backend (or, with `bucketBackend`, the CLI's PULUMI_HOME). */
  readonly dir: string;
  /** The state in a bucket of an S3 server instead of the file backend; its keys are in `env`. */
  readonly bucketBackend?: BucketBackend;
  /** Plain stack config. */
  readonly config: Readonly<Record<string, string>>;
  /** Environment of the CLI and the provider host (the emulator's AccessKey goes here, never into config). */
  readonly env: Readonly<Record<string, string>>;
  /** Devices the first rollout declares, for the checkpoint's bytes per device. */
  readonly devices: number;
  /** `--parallel` of every operation; default the CLI's (4 × CPUs). */
  readonly parallel?: number;
  readonly steps: readonly EngineStep[];
}

/** A DIY backend in a bucket of an S3 server (`--backend s3`). */
export interface BucketBackend {
  /** The backend URL, as `S3Server.backendUrl` gives it. */
  readonly url: string;
  /** The server's endpoint (`http://127.0.0.1:PORT`), region and bucket, to read the checkpoint back. */
  readonly endpoint: string;
  readonly region: string;
  readonly bucket: string;
}

/** One operation, measured. */
export interface EngineStepOutcome {
  readonly id: string;
  readonly op: "preview" | "up";
  /** Epoch ms of the Automation API call (same clock as the emulator's request times). */
  readonly startedAt: number;
  readonly endedAt: number;
  /** The `pulumi up` / `pulumi preview` process alone, epoch ms; absent when it was not seen. */
  readonly cliStartedAt?: number;
  readonly cliEndedAt?: number;
  readonly exitCode: number;
  /** Resources by the engine's operation (`create`, `update`, `same`, `replace`, …), the stack and components included. */
  readonly ops: Record<string, number>;
  readonly errors: string[];
  readonly errorCount: number;
  readonly outputs: Record<string, unknown>;
  /** The checkpoint after the operation, when asked for. */
  readonly checkpoint?: StateSizes;
}

/** The whole engine scenario. */
export interface EngineOutcome {
  readonly cliVersion: string;
  readonly steps: EngineStepOutcome[];
}

/** A CLI process the Automation API ran, with its first argument (`up`, `preview`, `config`, `stack`, …). */
interface CliRun {
  readonly command: string;
  readonly startedAt: number;
  readonly endedAt: number;
}

/** `PulumiCommand.run`, which the Automation API calls for every CLI process. */
interface CommandRunner {
  run(args: string[], ...rest: unknown[]): Promise<unknown>;
}

/** Records when each CLI process of the stack's workspace starts and ends. */
function recordCliRuns(stack: EngineStack): CliRun[] {
  const runs: CliRun[] = [];
  const command = (stack.stack.workspace as unknown as { pulumiCommand: CommandRunner }).pulumiCommand;
  const run = command.run;
  command.run = async (args, ...rest) => {
    const startedAt = Date.now();
    try {
      return await run.call(command, args, ...rest);
    } finally {
      runs.push({ command: args[0] ?? "", startedAt, endedAt: Date.now() });
    }
  };
  return runs;
}

function opCounts(result: RunResult): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const step of result.steps) counts[step.op] = (counts[step.op] ?? 0) + 1;
  return counts;
}

/**
 * Measures the stack's checkpoint: the file backend's file, or the bucket's object at the same key under the bucket's
 * root (`.pulumi/stacks/<project>/<stack>.json`), read with the keys the CLI has. Undefined when there is none.
 */
function checkpointReader(job: EngineJob, file: string): () => Promise<StateSizes | undefined> {
  const backend = job.bucketBackend;
  if (!backend) return async () => (fs.existsSync(file) ? stateSizes(file, job.devices) : undefined);
  const key = `.pulumi/stacks/${job.project}/${path.basename(file)}`;
  return async () => {
    const client = new S3Client({
      endpoint: backend.endpoint,
      region: backend.region,
      forcePathStyle: true,
      credentials: {
        accessKeyId: job.env.AWS_ACCESS_KEY_ID ?? "",
        secretAccessKey: job.env.AWS_SECRET_ACCESS_KEY ?? "",
      },
    });
    try {
      const object = await client.send(new GetObjectCommand({ Bucket: backend.bucket, Key: key }));
      return stateSizesOf((await object.Body?.transformToString("utf8")) ?? "", job.devices);
    } catch (err) {
      if ((err as { name?: string }).name === "NoSuchKey") return undefined;
      throw err;
    } finally {
      client.destroy();
    }
  };
}

/** Runs the steps in order; stops after the first that fails. */
export async function runEngine(job: EngineJob, progress: (line: string) => void): Promise<EngineOutcome> {
  const cli = await ensurePulumiCli(progress);
  const stack = await EngineStack.open({
    cli,
    project: job.project,
    stack: "bench",
    program: programFromFile(job.programFile),
    workDir: path.join(job.dir, "work"),
    backendDir: path.join(job.dir, "backend"),
    ...(job.bucketBackend ? { backendUrl: job.bucketBackend.url } : {}),
    env: job.env,
  });
  const readCheckpoint = checkpointReader(job, stack.checkpointPath);
  const cliRuns = recordCliRuns(stack);
  await stack.setConfig(job.config);
  const steps: EngineStepOutcome[] = [];
  for (const step of job.steps) {
    if (step.config) await stack.mergeConfig(step.config);
    progress(`pulumi ${step.op} (${step.id}) …`);
    const from = cliRuns.length;
    const startedAt = Date.now();
    const options = job.parallel ? { parallel: job.parallel } : {};
    const result = step.op === "up" ? await stack.up(options) : await stack.preview(options);
    const endedAt = Date.now();
    const cliRun = cliRuns.slice(from).find((r) => r.command === step.op);
    const checkpoint = step.measureCheckpoint ? await readCheckpoint() : undefined;
    const outcome: EngineStepOutcome = {
      id: step.id,
      op: step.op,
      startedAt,
      endedAt,
      ...(cliRun ? { cliStartedAt: cliRun.startedAt, cliEndedAt: cliRun.endedAt } : {}),
      exitCode: result.exitCode,
      ops: opCounts(result),
      errors: result.errors.slice(0, 20).map((e) => e.slice(0, 2000)),
      errorCount: result.errors.length,
      outputs: { ...result.outputs },
      ...(checkpoint ? { checkpoint } : {}),
    };
    steps.push(outcome);
    const cliMs = cliRun ? cliRun.endedAt - cliRun.startedAt : endedAt - startedAt;
    progress(
      `pulumi ${step.op} (${step.id}): exit ${result.exitCode} in ${(cliMs / 1000).toFixed(1)} s ` +
        `(${((endedAt - startedAt) / 1000).toFixed(1)} s with the Automation API's own calls); ` +
        Object.entries(outcome.ops)
          .map(([op, n]) => `${n} ${op}`)
          .join(", ") +
        (result.errors.length ? `; first error: ${result.errors[0]?.split("\n")[0]?.slice(0, 300)}` : ""),
    );
    if (result.exitCode !== 0) break;
  }
  return { cliVersion: cli.version, steps };
}
