/**
 * End-to-end tests run every operation through the real Pulumi CLI (built or found by `engine/cli.ts`, once,
 * in jest's global setup): one stack per test, on a file backend in a temporary folder that the test removes.
 */
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ensurePulumiCli, PulumiCli } from "../../engine/cli";
import type { OperationSpec } from "../../engine/operate";
import { EngineStack, InlineProgram, RunResult } from "../../engine/stack";

const ROOT = path.resolve(__dirname, "..", "..");

let cli: Promise<PulumiCli> | undefined;

/** The CLI found by the global setup (a second lookup is a `pulumi version`, well under a second). */
export function pulumiCli(): Promise<PulumiCli> {
  cli ??= ensurePulumiCli(() => undefined);
  return cli;
}

/** A stack of its own and the folder that holds its backend, work folder and anything else the test keeps. */
export interface TestStack {
  /** The stack. */
  readonly stack: EngineStack;
  /** The test's own temporary folder. */
  readonly dir: string;
  /** Removes the folder. */
  dispose(): void;
}

/** Options of a test stack beyond the program. */
export interface TestStackOptions {
  /** The project name; default `iot-reset-e2e`. */
  readonly project?: string;
  /** The stack name; default `test`. */
  readonly stack?: string;
  /** Extra environment for the CLI and the provider host. */
  readonly env?: Readonly<Record<string, string>>;
  /** The `node_modules` the provider host resolves from; default the repository's. */
  readonly modulesDir?: string;
  /** The folder to use instead of a new temporary one. */
  readonly dir?: string;
  /** A DIY backend URL (e.g. a bucket of the S3 server) instead of the file backend in the test's folder. */
  readonly backendUrl?: string;
}

/** Opens a new stack for `program`. */
export async function testStack(program: InlineProgram, options: TestStackOptions = {}): Promise<TestStack> {
  const dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), "iot-e2e-"));
  const stack = await EngineStack.open({
    cli: await pulumiCli(),
    project: options.project ?? "iot-reset-e2e",
    stack: options.stack ?? "test",
    program,
    workDir: path.join(dir, "work"),
    backendDir: path.join(dir, "backend"),
    ...(options.modulesDir ? { modulesDir: options.modulesDir } : {}),
    ...(options.env ? { env: options.env } : {}),
    ...(options.backendUrl ? { backendUrl: options.backendUrl } : {}),
  });
  return { stack, dir, dispose: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** The program of a child-process run: a file, and the function it exports (else its top-level code). */
export interface ProgramRef {
  readonly file: string;
  readonly export?: string;
}

/**
 * Runs one operation in a process of its own (`engine/operate.ts`), on the same work folder and backend as
 * `t`: for programs that throw, whose exception the process, not the test runner, must handle.
 */
export function runInChild(
  t: TestStack,
  program: ProgramRef,
  operation: OperationSpec["operation"],
  config: Readonly<Record<string, string>>,
  secretConfig: Readonly<Record<string, string>> = {},
  options: { readonly project?: string; readonly json?: boolean } = {},
): Promise<RunResult> {
  const spec: OperationSpec = {
    programFile: program.file,
    ...(program.export !== undefined ? { programExport: program.export } : {}),
    operation,
    project: options.project ?? "iot-reset-e2e",
    ...(options.json ? { json: true } : {}),
    stack: "test",
    workDir: path.join(t.dir, "work"),
    backendDir: path.join(t.dir, "backend"),
    config,
    secretConfig,
  };
  return new Promise((resolve, reject) => {
    const child = execFile(
      process.execPath,
      [path.join(ROOT, "lib", "engine", "operate.js")],
      { maxBuffer: 256 << 20 },
      (err, stdout, stderr) => {
        const last = stdout.trim().split("\n").pop();
        if (!last) return reject(new Error(`engine/operate.js printed no result: ${err?.message ?? ""}\n${stderr}`));
        resolve(JSON.parse(last) as RunResult);
      },
    );
    child.stdin?.end(JSON.stringify(spec));
  });
}
