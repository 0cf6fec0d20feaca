import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

import { run, RunOptions, RunResult } from "../../runner";
import type { StateFile } from "../../runner/state";

const ROOT = path.resolve(__dirname, "..", "..");

/** The fixture program whose provider records every call. */
export const RECORDER = path.join(ROOT, "test", "fixtures", "runner", "recorder");
/** The fixture program with a non-dynamic custom resource. */
export const UNSUPPORTED = path.join(ROOT, "test", "fixtures", "runner", "unsupported");

/**
 * The runner forks its compiled worker from `lib/runner`; build it when it is missing or older than
 * the sources (tsc exits non-zero while other folders have type errors, but still emits).
 */
export function ensureRunnerBuilt(): void {
  const built = path.join(ROOT, "lib", "runner", "worker.js");
  const sources = fs
    .readdirSync(path.join(ROOT, "runner"))
    .map((f) => fs.statSync(path.join(ROOT, "runner", f)).mtimeMs);
  if (fs.existsSync(built) && fs.statSync(built).mtimeMs >= Math.max(...sources)) return;
  try {
    execFileSync(process.execPath, [require.resolve("typescript/bin/tsc"), "-p", path.join(ROOT, "tsconfig.json")], {
      stdio: "ignore",
    });
  } catch {
    // Errors elsewhere in the checkout do not stop the emit; the check below is what matters.
  }
  if (!fs.existsSync(built)) throw new Error(`building the runner did not produce ${built}`);
}

/** One call the recorder's provider received. */
export interface Call {
  op: string;
  label: string | null;
  start: number;
  end: number;
  changes?: boolean;
  replaces?: string[];
}

/** A resource the recorder program declares. */
export interface Spec {
  label: string;
  value: string;
  trigger?: string;
  group?: string;
  sleepMs?: number;
  failCreate?: boolean;
  initFail?: boolean;
  withJob?: boolean;
}

/** A scratch directory with the provider's call log and the state file of one test. */
export class Workspace {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), "runner-test-"));
  readonly log = path.join(this.dir, "calls.jsonl");
  readonly statePath = path.join(this.dir, "state.json");

  /** Runs the recorder program with these resources; the call log starts empty for each run. */
  run(specs: Spec[], extra: Partial<RunOptions> = {}): Promise<RunResult> {
    fs.rmSync(this.log, { force: true });
    return run({
      programDir: RECORDER,
      stack: "dev",
      statePath: this.statePath,
      ...extra,
      config: {
        "recorder:log": this.log,
        "recorder:resources": JSON.stringify(specs),
        ...extra.config,
      },
    });
  }

  /** The calls of the last run, in the order they finished. */
  calls(): Call[] {
    if (!fs.existsSync(this.log)) return [];
    return fs
      .readFileSync(this.log, "utf8")
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => JSON.parse(l) as Call);
  }

  /** `op label` of the last run's calls that change something (create, update, delete). */
  mutations(): string[] {
    return this.calls()
      .filter((c) => c.op === "create" || c.op === "update" || c.op === "delete")
      .map((c) => `${c.op} ${c.label}`);
  }

  /** How many calls of each kind the last run made. */
  counts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const c of this.calls()) out[c.op] = (out[c.op] ?? 0) + 1;
    return out;
  }

  state(): StateFile {
    return JSON.parse(fs.readFileSync(this.statePath, "utf8")) as StateFile;
  }

  /** The state's custom resources by name, without the bulky serialized provider. */
  customs(): Record<string, { id?: string; outputs: Record<string, unknown>; initErrors?: string[] }> {
    const out: Record<string, { id?: string; outputs: Record<string, unknown>; initErrors?: string[] }> = {};
    for (const r of this.state().resources.filter((x) => x.custom)) {
      const { __provider, ...outputs } = r.outputs;
      expect(typeof __provider).toBe("string");
      out[r.name] = {
        ...(r.id !== undefined ? { id: r.id } : {}),
        outputs,
        ...(r.initErrors ? { initErrors: r.initErrors } : {}),
      };
    }
    return out;
  }

  dispose(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** `op name` of each step that is not `same`. */
export function changes(result: RunResult): string[] {
  return result.steps
    .filter((s) => s.op !== "same")
    .map((s) => `${s.op} ${s.name}${s.error !== undefined ? " (failed)" : ""}`);
}

/** URN of a resource of the recorder project. */
export function urn(qualifiedType: string, name: string): string {
  return `urn:pulumi:dev::recorder::${qualifiedType}::${name}`;
}

/** The recorder's dynamic resource type. */
export const RECORDED = "pulumi-nodejs:dynamic/fixture:Recorded";
