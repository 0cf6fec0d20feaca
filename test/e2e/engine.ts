/**
 * End-to-end tests run every operation through the real Pulumi CLI (built or found by `engine/cli.ts`, once,
 * in jest's global setup): one stack per test, on a file backend in a temporary folder that the test removes.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ensurePulumiCli, PulumiCli } from "../../engine/cli";
import { EngineStack, InlineProgram } from "../../engine/stack";

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
  });
  return { stack, dir, dispose: () => fs.rmSync(dir, { recursive: true, force: true }) };
}
