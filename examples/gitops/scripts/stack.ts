/**
 * The stack the pipeline's scripts drive: the program in `program.ts`, run inline by the Automation API (no language
 * host needed), with the project and `Pulumi.<stack>.yaml` of the repository's root, and the state where
 * PULUMI_BACKEND_URL points (the journal beside it, as `iotReset:journal` says).
 */
import * as fs from "fs";
import * as path from "path";
import { EngineEvent, LocalWorkspace, Stack, StepEventStateMetadata } from "@pulumi/pulumi/automation";
import { program } from "../program";

/** The stack: PULUMI_STACK, default `prod`. */
export const STACK = process.env.PULUMI_STACK ?? "prod";

/** Where the scripts write what later steps read: the plan, the review this preview computed, the comment. */
export const OUT = "out";

/** Selects the stack (creating it on the first run), in the repository's root. */
export async function openStack(): Promise<Stack> {
  if (!process.env.PULUMI_BACKEND_URL) {
    throw new Error("PULUMI_BACKEND_URL is not set: point it at the bucket that holds the stack's state.");
  }
  return LocalWorkspace.createOrSelectStack(
    { stackName: STACK, projectName: "iot-reset-gitops", program },
    {
      workDir: process.cwd(),
    },
  );
}

/** One step of a preview, in the shape `pulumi preview --json` prints it (what `iot-reset-plan` reads). */
interface PlanStep {
  op: string;
  urn: string;
  oldState?: { type: string; inputs?: unknown; outputs?: unknown };
  newState?: { type: string; inputs?: unknown; outputs?: unknown };
}

/**
 * Previews the update and returns its plan as `pulumi preview --json --show-sames` has it, built from the engine's
 * events (the Automation API's preview has no JSON output): the config (where the journal is) and every step, the
 * unchanged ones too, so the plan tool knows the devices a split moves to a new batch as reset.
 */
export async function previewPlan(stack: Stack): Promise<{ config: Record<string, string>; steps: PlanStep[] }> {
  const steps: PlanStep[] = [];
  let config: Record<string, string> = {};
  const state = (s: StepEventStateMetadata) => ({ type: s.type, inputs: s.inputs, outputs: s.outputs });
  const onEvent = (event: EngineEvent) => {
    if (event.preludeEvent) config = event.preludeEvent.config;
    const meta = event.resourcePreEvent?.metadata;
    // Every step, as the CLI lists them (a replace as several steps of one URN, which the plan tool joins).
    if (meta) {
      steps.push({
        op: meta.op,
        urn: meta.urn,
        ...(meta.old ? { oldState: state(meta.old) } : {}),
        ...(meta.new ? { newState: state(meta.new) } : {}),
      });
    }
  };
  await stack.preview({ onEvent, onOutput: (text) => process.stdout.write(text) });
  return { config, steps };
}

/** Writes `text` to `out/<name>`. */
export function writeOut(name: string, text: string): string {
  fs.mkdirSync(OUT, { recursive: true });
  const file = path.join(OUT, name);
  fs.writeFileSync(file, text);
  return file;
}

/** Runs `main`, and exits 1 with its message (not a stack trace) when it fails. */
export function run(main: () => Promise<number | void>): void {
  main().then(
    (code) => process.exit(code ?? 0),
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
