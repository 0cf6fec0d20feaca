#!/usr/bin/env node
/**
 * One engine operation in a process of its own: reads a JSON `OperationSpec` on stdin, runs it, streams the
 * CLI's output to stderr and prints the `RunResult` as JSON on stdout. Tests use it where the program itself
 * must fail (an exception in a program is the process's to handle), and where a process must be killed.
 */
import { ensurePulumiCli } from "./cli";
import { programFromFile } from "./program";
import { EngineStack, RunResult } from "./stack";

/** What to run. */
export interface OperationSpec {
  /** The program file (TypeScript or JavaScript). */
  readonly programFile: string;
  /** A function the file exports that declares the resources; default: the file's top-level code. */
  readonly programExport?: string;
  /** The operation. */
  readonly operation: "up" | "preview" | "refresh" | "destroy";
  /** The project name. */
  readonly project: string;
  /** The stack name. */
  readonly stack: string;
  /** The stack's work folder. */
  readonly workDir: string;
  /** The file backend's folder. */
  readonly backendDir: string;
  /** Stack config, set before the operation (replacing what the stack had). */
  readonly config?: Readonly<Record<string, string>>;
  /** Secret stack config. */
  readonly secretConfig?: Readonly<Record<string, string>>;
  /** Extra environment for the CLI and the provider host. */
  readonly env?: Readonly<Record<string, string>>;
  /** `--parallel`. */
  readonly parallel?: number;
  /** With `preview`: the plan as JSON (`pulumi preview --json`) in the result's stdout. */
  readonly json?: boolean;
}

/** Runs the operation of `spec`. */
export async function operate(spec: OperationSpec): Promise<RunResult> {
  const cli = await ensurePulumiCli((line) => process.stderr.write(`${line}\n`));
  const stack = await EngineStack.open({
    cli,
    project: spec.project,
    stack: spec.stack,
    program: programFromFile(spec.programFile, spec.programExport),
    workDir: spec.workDir,
    backendDir: spec.backendDir,
    ...(spec.env ? { env: spec.env } : {}),
  });
  if (spec.config || spec.secretConfig) await stack.setConfig(spec.config ?? {}, spec.secretConfig ?? {});
  const options = {
    onOutput: (text: string) => process.stderr.write(text),
    ...(spec.parallel ? { parallel: spec.parallel } : {}),
  };
  switch (spec.operation) {
    case "up":
      return stack.up(options);
    case "preview":
      return stack.preview({ ...options, ...(spec.json ? { json: true } : {}) });
    case "refresh":
      return stack.refresh(options);
    case "destroy":
      return stack.destroy(options);
  }
}

if (require.main === module) {
  let input = "";
  process.stdin.setEncoding("utf8");
  process.stdin.on("data", (chunk: string) => (input += chunk));
  process.stdin.on("end", () => {
    operate(JSON.parse(input) as OperationSpec).then(
      (result) => process.stdout.write(`${JSON.stringify(result)}\n`),
      (err: Error) => {
        process.stderr.write(`${err.stack ?? err.message}\n`);
        process.exitCode = 2;
      },
    );
  });
}
