import { ChildProcess, fork } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as readline from "readline";

import { ProviderError, ProviderHost, ResourceRef } from "./host";
import { Limiter } from "./limiter";
import { qualifyKey, readProject, readStackConfig } from "./project";
import type { DoneMessage, RegisterMessage, RegisterReply, StartMessage, WorkerMessage } from "./protocol";
import { loadState, saveState, StateFile, StateResource } from "./state";
import { jsonEqual, markSecrets, Props, secretKeys, toDisplay, toProviderProps, withoutProvider } from "./wire";

/** What the engine does to one resource. */
export type Op = "create" | "update" | "replace" | "delete" | "same";

/** Options of one run of a program. */
export interface RunOptions {
  /** Directory holding `Pulumi.yaml` and the program. */
  readonly programDir: string;
  /** Stack name; selects `Pulumi.<stack>.yaml` and the default state file. */
  readonly stack: string;
  /** State file; default `<programDir>/.iot-reset/state-<stack>.json`. */
  readonly statePath?: string;
  /** Plan only: no Create, Update or Delete is sent, state is not written. Default false. */
  readonly preview?: boolean;
  /** Delete every resource in state instead of running the program. Default false. */
  readonly destroy?: boolean;
  /** Most provider operations in flight at once; default `4 × os.cpus().length`, as Pulumi's. */
  readonly parallel?: number;
  /** Stack config that overrides `Pulumi.<stack>.yaml`; keys without a namespace get the project's. */
  readonly config?: Readonly<Record<string, string>>;
  /** Like `config`, but the values are secret to the program. */
  readonly secretConfig?: Readonly<Record<string, string>>;
  /** Where to write the plan as JSON (`{ steps }`); not written when unset. */
  readonly planJsonPath?: string;
  /** Extra environment for the program and provider processes, on top of this process's. */
  readonly env?: Readonly<Record<string, string>>;
  /** Receives every output line as it is produced; nothing is printed when unset. */
  readonly onOutput?: (line: string) => void;
}

/** One step of the plan, as written by `planJsonPath`. */
export interface PlanStep {
  /** URN of the resource. */
  readonly urn: string;
  /** Type token. */
  readonly type: string;
  /** Logical name. */
  readonly name: string;
  /** What would happen to it. */
  readonly op: Op;
  /** True for a custom resource (one the provider manages), false for a component or the stack. */
  readonly custom: boolean;
  /** Properties that force the replacement, for `replace`. */
  readonly replaces?: string[];
  /** Checked inputs (secrets as `[secret]`, unknowns as `[unknown]`), for custom resources. */
  readonly inputs?: unknown;
  /** Outputs recorded in state, when the resource exists. */
  readonly oldOutputs?: unknown;
  /** Why the step cannot be planned, e.g. a check failure. */
  readonly error?: string;
}

/** One step as it happened (or, in a preview, as planned). */
export interface StepResult {
  /** URN of the resource. */
  readonly urn: string;
  /** Logical name. */
  readonly name: string;
  /** Type token. */
  readonly type: string;
  /** What was done to it. */
  readonly op: Op;
  /** Properties that forced the replacement, for `replace`. */
  readonly replaces?: string[];
  /** The failure, when the step failed. */
  readonly error?: string;
}

/** Counts of steps by outcome; `failed` counts failed steps of any kind and no other count includes them. */
export interface RunSummary {
  /** Resources created. */
  readonly created: number;
  /** Resources updated in place. */
  readonly updated: number;
  /** Resources replaced. */
  readonly replaced: number;
  /** Resources deleted. */
  readonly deleted: number;
  /** Resources left as they were. */
  readonly same: number;
  /** Steps that failed. */
  readonly failed: number;
}

/** What a run did. */
export interface RunResult {
  /** 0 on success, 1 when any step or the program failed. */
  readonly exitCode: number;
  /** Steps applied (in a preview: planned), in registration order, deletes last. */
  readonly steps: StepResult[];
  /** The plan computed before applying. */
  readonly plan: PlanStep[];
  /** Stack outputs in display form (`[secret]`, `[unknown]`). */
  readonly outputs: Record<string, unknown>;
  /** Counts of {@link steps} by outcome. */
  readonly summary: RunSummary;
  /** Lines the provider host printed (the provider's log), without the `provider:` tag. */
  readonly providerLog: string[];
  /** Readable errors: failed resources and program failures. */
  readonly errors: string[];
  /** Everything the run printed, one line per entry joined by newlines. */
  readonly stdout: string;
  /** The state file used. */
  readonly statePath: string;
}

const DYNAMIC_PREFIX = "pulumi-nodejs:dynamic";
const SYMBOL: Record<Op, string> = {
  create: "+",
  update: "~",
  replace: "+-",
  delete: "-",
  same: " ",
};
const PAST: Record<Op, string> = {
  create: "created",
  update: "updated",
  replace: "replaced",
  delete: "deleted",
  same: "same",
};
/** The planned deletion of a resource in state. */
function deleteStep(r: StateResource): PlanStep {
  return { urn: r.urn, type: r.type, name: r.name, op: "delete", custom: r.custom, oldOutputs: toDisplay(r.outputs) };
}

/** Output properties shown per dynamic resource after the apply (`resetCount`: devices recorded by a batch). */
const RESULT_KEYS = ["success", "requestId", "jobId", "resetCount"];
/** Progress is printed only for runs with at least this many operations. */
const PROGRESS_MIN_OPS = 10;

/** A failure that belongs to one resource. */
class ResourceError extends Error {}

interface Decision {
  readonly op: Op;
  readonly plain: Props;
  readonly wire: Props;
  readonly secrets: string[];
  readonly replaces?: string[];
  readonly deleteBeforeReplace?: boolean;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Finds a file of `@pulumi/pulumi` as the program would resolve it, falling back to the runner's copy. */
function resolvePulumiFile(programDir: string, file: string): string {
  return require.resolve(`@pulumi/pulumi/${file}`, {
    paths: [programDir, __dirname],
  });
}

/** The compiled worker; from the TypeScript sources (under ts-jest) it is the build in `lib/runner`. */
function workerScript(): string {
  const beside = path.join(__dirname, "worker.js");
  if (fs.existsSync(beside)) return beside;
  const built = path.resolve(__dirname, "..", "lib", "runner", "worker.js");
  if (fs.existsSync(built)) return built;
  throw new Error(`cannot find the runner's worker (${beside} or ${built}); build with \`npx tsc -p tsconfig.json\``);
}

function programMain(programDir: string, main: string | undefined): string {
  if (main) return path.resolve(programDir, main);
  // As `require(dir)`: package.json `main`, else index.js, else index.ts (the hook registers .ts).
  return programDir + path.sep;
}

/** Orders resources so that children come before their parents (deepest first). */
function childrenFirst(resources: StateResource[], all: StateResource[]): StateResource[][] {
  const byUrn = new Map(all.filter((r) => !r.pendingDelete).map((r) => [r.urn, r]));
  const depth = (r: StateResource): number => {
    let d = 0;
    let p = r.parent;
    // Bounded by the number of resources, so a corrupt state with a parent cycle cannot hang us.
    while (p && d <= all.length) {
      d += 1;
      p = byUrn.get(p)?.parent;
    }
    return d;
  };
  const levels = new Map<number, StateResource[]>();
  for (const r of resources) {
    const d = depth(r);
    levels.set(d, [...(levels.get(d) ?? []), r]);
  }
  return [...levels.entries()].sort((a, b) => b[0] - a[0]).map((e) => e[1]);
}

function summarize(steps: readonly StepResult[]): RunSummary {
  const count = (op: Op) => steps.filter((s) => s.op === op && s.error === undefined).length;
  return {
    created: count("create"),
    updated: count("update"),
    replaced: count("replace"),
    deleted: count("delete"),
    same: count("same"),
    failed: steps.filter((s) => s.error !== undefined).length,
  };
}

function summaryLine(s: RunSummary): string {
  return `${s.created} created, ${s.updated} updated, ${s.replaced} replaced, ${s.deleted} deleted, ${s.same} unchanged, ${s.failed} failed`;
}

function formatValue(v: unknown): string {
  // The placeholders read better bare; everything else prints as JSON.
  return v === "[secret]" || v === "[unknown]" ? v : (JSON.stringify(v) ?? "undefined");
}

/** One run: plan (preview), then apply, against one provider host. */
class Deployment {
  private readonly lines: string[] = [];
  private readonly providerLog: string[] = [];
  private readonly errors: string[] = [];
  private readonly oldByUrn: Map<string, StateResource>;
  private host: ProviderHost | undefined;
  private readonly limiter: Limiter;
  private readonly env: NodeJS.ProcessEnv;
  private progress = { done: 0, total: 0, lastDone: 0, lastAt: 0 };

  constructor(
    private readonly options: RunOptions,
    private readonly programDir: string,
    private readonly project: string,
    private readonly main: string,
    private readonly statePath: string,
    private readonly config: Record<string, string>,
    private readonly secretConfigKeys: string[],
    private readonly oldState: StateFile,
  ) {
    this.oldByUrn = new Map(oldState.resources.filter((r) => !r.pendingDelete).map((r) => [r.urn, r]));
    this.limiter = new Limiter(options.parallel ?? 4 * os.cpus().length);
    this.env = {
      ...process.env,
      ...options.env,
      // The host's `config.get("key")` qualifies keys with the project it reads from here.
      PULUMI_NODEJS_PROJECT: project,
      PULUMI_NODEJS_STACK: options.stack,
    };
  }

  say(line: string): void {
    this.lines.push(line);
    this.options.onOutput?.(line);
  }

  private get stack(): string {
    return this.options.stack;
  }

  private providerHost(): ProviderHost {
    if (!this.host) throw new Error("the provider host is not running");
    return this.host;
  }

  async execute(): Promise<RunResult> {
    let steps: StepResult[] = [];
    let plan: PlanStep[] = [];
    let outputs: Props = {};
    try {
      const hostScript = resolvePulumiFile(this.programDir, "cmd/dynamic-provider/index.js");
      this.host = await ProviderHost.start(hostScript, this.programDir, this.env, (line) => {
        this.providerLog.push(line);
        this.say(`provider: ${line}`);
      });
      await this.host.configure(this.config);
      if (this.options.destroy) {
        ({ steps, plan } = await this.destroy());
      } else {
        ({ steps, plan, outputs } = await this.update());
      }
    } catch (e) {
      this.errors.push(errorText(e));
    } finally {
      await this.host?.stop();
    }
    const summary = summarize(steps);
    this.say(this.options.preview ? `Plan: ${summaryLine(summary)}` : `Resources: ${summaryLine(summary)}`);
    const shown = toDisplay(outputs) as Record<string, unknown>;
    if (Object.keys(shown).length > 0) {
      this.say("Outputs:");
      for (const [k, v] of Object.entries(shown)) this.say(`  ${k}: ${formatValue(v)}`);
    }
    for (const e of this.errors) this.say(`error: ${e}`);
    const exitCode = this.errors.length > 0 ? 1 : 0;
    return {
      exitCode,
      steps,
      plan,
      outputs: shown,
      summary,
      providerLog: this.providerLog,
      errors: this.errors,
      stdout: this.lines.join("\n") + "\n",
      statePath: this.statePath,
    };
  }

  // ---- the program's resources ------------------------------------------------------------

  private ref(r: { urn: string; name: string; type: string }): ResourceRef {
    return { urn: r.urn, name: r.name, type: r.type };
  }

  /** Check, then (with old state) Diff: the engine's decision for one custom resource. */
  private async decide(reg: RegisterMessage, old: StateResource | undefined): Promise<Decision> {
    const host = this.providerHost();
    const secrets = secretKeys(reg.inputs);
    const news = toProviderProps(reg.inputs);
    const oldInputs = old ? toProviderProps(old.inputs) : {};
    const checked = await this.limiter.run(() => host.check(this.ref(reg), oldInputs, news));
    if (checked.failures.length > 0) {
      const why = checked.failures.map((f) => (f.property ? `property \`${f.property}\`: ${f.reason}` : f.reason));
      throw new ResourceError(`check failed: ${why.join("; ")}`);
    }
    const plain = checked.inputs;
    const wire = markSecrets(plain, secrets);
    if (!old) return { op: "create", plain, wire, secrets };
    // The engine diffs the old OUTPUTS against the new inputs.
    const diff = await this.limiter.run(() =>
      host.diff(this.ref(reg), old.id ?? "", toProviderProps(old.outputs), plain, oldInputs),
    );
    let changes = diff.changes;
    if (changes === "unknown") {
      // No answer from the provider: compare inputs, leaving out the provider text, which changes
      // with every package upgrade and must not by itself update (let alone replace) anything.
      changes = jsonEqual(withoutProvider(oldInputs), withoutProvider(plain)) ? "none" : "some";
    }
    if (changes === "some" && diff.replaces.length > 0) {
      return {
        op: "replace",
        plain,
        wire,
        secrets,
        replaces: diff.replaces,
        deleteBeforeReplace: diff.deleteBeforeReplace || reg.deleteBeforeReplace,
      };
    }
    // A resource created but not initialized is updated on the next run even without changes.
    if (changes === "some" || (old.initErrors?.length ?? 0) > 0) return { op: "update", plain, wire, secrets };
    return { op: "same", plain, wire, secrets };
  }

  private unsupported(reg: RegisterMessage): ResourceError {
    return new ResourceError(
      `resource type ${reg.type} is unsupported by the offline runner, which runs only dynamic providers ` +
        `(pulumi.dynamic.Resource); use the Pulumi CLI for this program`,
    );
  }

  /** Runs the program once in a worker process, answering each registration with `handle`. */
  private runProgram(
    preview: boolean,
    handle: (reg: RegisterMessage) => Promise<{ id: string; state: Props }>,
  ): Promise<DoneMessage> {
    const start: StartMessage = {
      kind: "start",
      programDir: this.programDir,
      main: this.main,
      project: this.project,
      stack: this.stack,
      preview,
      config: this.config,
      secretKeys: this.secretConfigKeys,
    };
    return new Promise((resolve) => {
      const child: ChildProcess = fork(workerScript(), [], {
        cwd: this.programDir,
        env: this.env,
        execArgv: [],
        stdio: ["ignore", "pipe", "pipe", "ipc"],
      });
      readline.createInterface({ input: child.stdout! }).on("line", (l) => this.say(`program: ${l}`));
      readline.createInterface({ input: child.stderr! }).on("line", (l) => this.say(`program: ${l}`));
      let done: DoneMessage | undefined;
      const inFlight = new Set<Promise<void>>();
      const reply = (msg: RegisterReply) => {
        if (child.connected) child.send(msg);
      };
      child.on("message", (msg: WorkerMessage) => {
        if (msg.kind === "done") {
          done = msg;
          return;
        }
        const p = handle(msg).then(
          (r) =>
            reply({
              kind: "registered",
              seq: msg.seq,
              id: r.id,
              state: r.state,
            }),
          (e: unknown) => reply({ kind: "rejected", seq: msg.seq, message: errorText(e) }),
        );
        inFlight.add(p);
        void p.finally(() => inFlight.delete(p));
      });
      child.on("close", (code) => {
        // Operations already sent to the provider finish and get recorded even if the program died.
        void Promise.allSettled([...inFlight]).then(() =>
          resolve(
            done ?? {
              kind: "done",
              error: `the program process exited with code ${code} before finishing`,
            },
          ),
        );
      });
      child.send(start);
    });
  }

  private programFailed(done: DoneMessage, steps: readonly { error?: string }[]): void {
    if (done.error === undefined) return;
    // A failed resource makes the runtime fail the program with "failed to register new resource";
    // that resource's own error is already reported.
    if (steps.some((s) => s.error !== undefined) && done.error.startsWith("failed to register new resource")) return;
    this.errors.push(`program failed: ${done.error}`);
  }

  private async update(): Promise<{
    steps: StepResult[];
    plan: PlanStep[];
    outputs: Props;
  }> {
    const plan = await this.planUpdate();
    this.printPlan(plan.steps);
    this.writePlan(plan.steps);
    if (this.options.preview || this.errors.length > 0) {
      return {
        steps: plan.steps.map(toStepResult),
        plan: plan.steps,
        outputs: plan.outputs,
      };
    }
    const applied = await this.applyUpdate(plan.steps);
    return { steps: applied.steps, plan: plan.steps, outputs: applied.outputs };
  }

  private async planUpdate(): Promise<{ steps: PlanStep[]; outputs: Props }> {
    const bySeq = new Map<number, PlanStep>();
    const seen = new Set<string>();
    const done = await this.runProgram(true, async (reg) => {
      const old = this.oldByUrn.get(reg.urn);
      try {
        if (seen.has(reg.urn)) throw new ResourceError(`duplicate resource URN ${reg.urn}`);
        seen.add(reg.urn);
        if (!reg.custom) {
          bySeq.set(reg.seq, {
            urn: reg.urn,
            type: reg.type,
            name: reg.name,
            op: old ? "same" : "create",
            custom: false,
          });
          return { id: "", state: reg.inputs };
        }
        if (!reg.type.startsWith(DYNAMIC_PREFIX)) throw this.unsupported(reg);
        const d = await this.decide(reg, old);
        bySeq.set(reg.seq, {
          urn: reg.urn,
          type: reg.type,
          name: reg.name,
          op: d.op,
          custom: true,
          ...(d.replaces ? { replaces: d.replaces } : {}),
          inputs: toDisplay(d.wire),
          ...(old ? { oldOutputs: toDisplay(old.outputs) } : {}),
        });
        // As in a preview under the engine: unchanged resources show their outputs, others their
        // new inputs, and whatever the provider would add stays unknown.
        return d.op === "same" && old
          ? { id: old.id ?? "", state: old.outputs }
          : { id: d.op === "update" ? (old?.id ?? "") : "", state: d.wire };
      } catch (e) {
        bySeq.set(reg.seq, {
          urn: reg.urn,
          type: reg.type,
          name: reg.name,
          op: old ? "update" : "create",
          custom: reg.custom,
          error: errorText(e),
        });
        this.errors.push(`${reg.name}: ${errorText(e)}`);
        throw e;
      }
    });
    const steps = [...bySeq.entries()].sort((a, b) => a[0] - b[0]).map((e) => e[1]);
    this.programFailed(done, steps);
    if (done.error === undefined) {
      for (const r of this.deletions(seen).flat()) {
        steps.push(deleteStep(r));
      }
    }
    return { steps, outputs: done.outputs ?? {} };
  }

  /** Old resources the program no longer registers, plus replaced ones still awaiting delete. */
  private deletions(seen: ReadonlySet<string>): StateResource[][] {
    const gone = this.oldState.resources.filter((r) => r.pendingDelete || !seen.has(r.urn));
    return childrenFirst(gone, this.oldState.resources);
  }

  private printPlan(steps: readonly PlanStep[]): void {
    this.say(
      `${this.options.destroy ? "Previewing destroy" : "Previewing update"} (stack ${this.stack}, project ${this.project}):`,
    );
    for (const s of steps) {
      if (s.op === "same" && s.error === undefined) continue;
      const why =
        s.error !== undefined ? `  error: ${s.error}` : s.replaces ? `  [replace: ${s.replaces.join(", ")}]` : "";
      this.say(`  ${SYMBOL[s.op].padEnd(2)} ${s.op.padEnd(7)} ${s.type}  ${s.name}${why}`);
    }
    const unchanged = steps.filter((s) => s.op === "same" && s.error === undefined).length;
    if (unchanged > 0) this.say(`  ${unchanged} unchanged`);
  }

  private writePlan(steps: readonly PlanStep[]): void {
    if (!this.options.planJsonPath) return;
    const file = path.resolve(this.options.planJsonPath);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, JSON.stringify({ steps }, null, 2) + "\n");
  }

  /** Counts a finished Create/Update/Delete and prints progress at most every second or 10%. */
  private tick(): void {
    const p = this.progress;
    p.done += 1;
    if (p.total < PROGRESS_MIN_OPS) return;
    const now = Date.now();
    if (p.done === p.total || now - p.lastAt >= 1000 || p.done - p.lastDone >= Math.ceil(p.total / 10)) {
      p.lastAt = now;
      p.lastDone = p.done;
      this.say(`  [${p.done}/${p.total}] operations done`);
    }
  }

  private mutation<T>(fn: () => Promise<T>): Promise<T> {
    return this.limiter.run(fn).finally(() => this.tick());
  }

  private record(reg: RegisterMessage, d: Decision, id: string, outputs: Props, initErrors?: string[]): StateResource {
    // Stored as the provider returned them, as the engine does: the host adds `__provider` to successful
    // results only, so a provider whose partial outputs lack it cannot be loaded for a later Delete.
    return {
      urn: reg.urn,
      type: reg.type,
      name: reg.name,
      ...(reg.parent ? { parent: reg.parent } : {}),
      custom: true,
      id,
      inputs: d.wire,
      outputs: markSecrets(outputs, d.secrets),
      ...(initErrors && initErrors.length > 0 ? { initErrors } : {}),
    };
  }

  private announce(s: StepResult, outputs?: Props): void {
    if (s.error !== undefined) {
      this.say(`  !  failed   ${s.name}: ${s.error}`);
      return;
    }
    const shown = outputs ? (toDisplay(outputs) as Props) : {};
    const extra = RESULT_KEYS.filter((k) => shown[k] !== undefined).map((k) => `${k}=${formatValue(shown[k])}`);
    const why = s.replaces ? ` [replace: ${s.replaces.join(", ")}]` : "";
    this.say(
      `  ${SYMBOL[s.op].padEnd(2)} ${PAST[s.op].padEnd(8)} ${s.name}${why}${extra.length ? "  " + extra.join(" ") : ""}`,
    );
  }

  private async applyUpdate(plan: readonly PlanStep[]): Promise<{ steps: StepResult[]; outputs: Props }> {
    this.say(`Updating (stack ${this.stack}):`);
    // Operations that tick: provider calls, and deletes (components leave state without one).
    this.progress = {
      done: 0,
      total: plan.filter((s) => s.op !== "same" && (s.custom || s.op === "delete")).length,
      lastDone: 0,
      lastAt: Date.now(),
    };
    const newState = new Map<string, StateResource>();
    const pendingDeletes: StateResource[] = [];
    const bySeq = new Map<number, StepResult>();
    const seen = new Set<string>();
    let stackUrn: string | undefined;

    const done = await this.runProgram(false, async (reg) => {
      const old = this.oldByUrn.get(reg.urn);
      const step = (op: Op, replaces?: string[], error?: string): StepResult => {
        const s: StepResult = {
          urn: reg.urn,
          name: reg.name,
          type: reg.type,
          op,
          ...(replaces ? { replaces } : {}),
          ...(error !== undefined ? { error } : {}),
        };
        bySeq.set(reg.seq, s);
        return s;
      };
      let op: Op = old ? "update" : "create";
      let replaces: string[] | undefined;
      try {
        if (seen.has(reg.urn)) throw new ResourceError(`duplicate resource URN ${reg.urn}`);
        seen.add(reg.urn);
        if (!reg.custom) {
          if (reg.type === "pulumi:pulumi:Stack" && !reg.parent) stackUrn = reg.urn;
          newState.set(reg.urn, {
            urn: reg.urn,
            type: reg.type,
            name: reg.name,
            ...(reg.parent ? { parent: reg.parent } : {}),
            custom: false,
            inputs: {},
            outputs: old?.outputs ?? {},
          });
          step(old ? "same" : "create");
          return { id: "", state: reg.inputs };
        }
        if (!reg.type.startsWith(DYNAMIC_PREFIX)) throw this.unsupported(reg);
        // Until an operation succeeds, the resource stays in state as it was.
        if (old) newState.set(reg.urn, old);
        const d = await this.decide(reg, old);
        op = d.op;
        replaces = d.replaces;
        const r = await this.applyOne(reg, d, old, newState, pendingDeletes);
        this.announce(step(op, replaces), r.outputs);
        return { id: r.id, state: r.outputs };
      } catch (e) {
        this.announce(step(op, replaces, errorText(e)));
        this.errors.push(`${reg.name}: ${errorText(e)}`);
        throw e;
      }
    });

    const steps = [...bySeq.entries()].sort((a, b) => a[0] - b[0]).map((e) => e[1]);
    this.programFailed(done, steps);
    const stackEntry = stackUrn ? newState.get(stackUrn) : undefined;
    if (stackUrn && stackEntry && done.outputs) newState.set(stackUrn, { ...stackEntry, outputs: done.outputs });

    // Like the engine, delete only after a clean run: a failed program may simply not have reached
    // the resources it did not register.
    const deleted = new Set<StateResource>();
    if (this.errors.length === 0) {
      for (const level of this.deletions(seen)) {
        const results = await Promise.all(level.map((r) => this.deleteOne(r)));
        level.forEach((r, i) => results[i]!.error === undefined && deleted.add(r));
        steps.push(...results);
        if (results.some((s) => s.error !== undefined)) break;
      }
    }
    const kept = this.oldState.resources.filter((r) => !deleted.has(r) && (r.pendingDelete || !seen.has(r.urn)));
    this.save([...newState.values(), ...kept, ...pendingDeletes]);
    return { steps, outputs: done.outputs ?? {} };
  }

  /** Sends the Create/Update/Delete for one decision and updates `newState`. */
  private async applyOne(
    reg: RegisterMessage,
    d: Decision,
    old: StateResource | undefined,
    newState: Map<string, StateResource>,
    pendingDeletes: StateResource[],
  ): Promise<{ id: string; outputs: Props }> {
    const host = this.providerHost();
    const ref = this.ref(reg);
    const create = async (): Promise<StateResource> => {
      try {
        const res = await this.mutation(() => host.create(ref, d.plain));
        return this.record(reg, d, res.id, res.outputs);
      } catch (e) {
        const f = e instanceof ProviderError ? e.initFailure : undefined;
        if (!f) throw e;
        const reasons = f.reasons.length > 0 ? f.reasons : [errorText(e)];
        newState.set(reg.urn, this.record(reg, d, f.id, f.properties, reasons));
        throw new ResourceError(`created as ${f.id} but failed to initialize: ${reasons.join("; ")}`);
      }
    };
    const result = (r: StateResource) => ({
      id: r.id ?? "",
      outputs: r.outputs,
    });

    if (d.op === "same" && old) {
      // As the engine's same step: the new inputs are recorded, the outputs stay as they were.
      const r: StateResource = { ...old, inputs: d.wire };
      newState.set(reg.urn, r);
      return result(r);
    }
    if (d.op === "create") {
      const r = await create();
      newState.set(reg.urn, r);
      return result(r);
    }
    if (!old) throw new Error(`internal: ${d.op} of ${reg.urn} without old state`);
    if (d.op === "update") {
      try {
        const outs = await this.mutation(() =>
          host.update(ref, old.id ?? "", toProviderProps(old.outputs), d.plain, toProviderProps(old.inputs)),
        );
        const r = this.record(reg, d, old.id ?? "", outs);
        newState.set(reg.urn, r);
        return result(r);
      } catch (e) {
        const f = e instanceof ProviderError ? e.initFailure : undefined;
        if (!f) throw e;
        const reasons = f.reasons.length > 0 ? f.reasons : [errorText(e)];
        newState.set(reg.urn, this.record(reg, d, f.id || (old.id ?? ""), f.properties, reasons));
        throw new ResourceError(`updated but failed to initialize: ${reasons.join("; ")}`);
      }
    }
    // replace
    if (d.deleteBeforeReplace) {
      await this.mutation(() => this.sendDelete(old));
      newState.delete(reg.urn);
      const r = await create();
      newState.set(reg.urn, r);
      return result(r);
    }
    try {
      const r = await create();
      newState.set(reg.urn, r);
    } catch (e) {
      // A replacement that exists but failed to initialize supersedes the old one all the same.
      if (newState.get(reg.urn) !== old) pendingDeletes.push({ ...old, pendingDelete: true });
      throw e;
    }
    const created = newState.get(reg.urn)!;
    try {
      await this.mutation(() => this.sendDelete(old));
    } catch (e) {
      pendingDeletes.push({ ...old, pendingDelete: true });
      throw new ResourceError(`replacement created, but deleting the old resource failed: ${errorText(e)}`);
    }
    return result(created);
  }

  private sendDelete(r: StateResource): Promise<void> {
    // The engine sends the recorded outputs; the host finds the provider in them, nowhere else.
    return this.providerHost().delete(this.ref(r), r.id ?? "", toProviderProps(r.outputs), toProviderProps(r.inputs));
  }

  private async deleteOne(r: StateResource): Promise<StepResult> {
    const base = {
      urn: r.urn,
      name: r.name,
      type: r.type,
      op: "delete" as const,
    };
    try {
      if (r.custom) await this.mutation(() => this.sendDelete(r));
      else this.tick();
      this.announce(base);
      return base;
    } catch (e) {
      const s = { ...base, error: errorText(e) };
      this.announce(s);
      this.errors.push(`${r.name}: ${errorText(e)}`);
      return s;
    }
  }

  private async destroy(): Promise<{ steps: StepResult[]; plan: PlanStep[] }> {
    const levels = childrenFirst(this.oldState.resources, this.oldState.resources);
    const plan: PlanStep[] = levels.flat().map(deleteStep);
    this.printPlan(plan);
    this.writePlan(plan);
    if (this.options.preview) return { steps: plan.map(toStepResult), plan };
    this.say(`Destroying (stack ${this.stack}):`);
    this.progress = {
      done: 0,
      total: plan.length,
      lastDone: 0,
      lastAt: Date.now(),
    };
    const steps: StepResult[] = [];
    const deleted = new Set<StateResource>();
    for (const level of levels) {
      const results = await Promise.all(level.map((r) => this.deleteOne(r)));
      level.forEach((r, i) => results[i]!.error === undefined && deleted.add(r));
      steps.push(...results);
      // Parents stay while a child could not be deleted.
      if (results.some((s) => s.error !== undefined)) break;
    }
    this.save(this.oldState.resources.filter((r) => !deleted.has(r)));
    return { steps, plan };
  }

  private save(resources: StateResource[]): void {
    saveState(this.statePath, {
      version: 1,
      project: this.project,
      stack: this.stack,
      resources,
    });
  }
}

function toStepResult(p: PlanStep): StepResult {
  return {
    urn: p.urn,
    name: p.name,
    type: p.type,
    op: p.op,
    ...(p.replaces ? { replaces: p.replaces } : {}),
    ...(p.error !== undefined ? { error: p.error } : {}),
  };
}

function qualifyAll(values: Readonly<Record<string, string>> | undefined, project: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(values ?? {})) out[qualifyKey(k, project)] = v;
  return out;
}

/** The first line of every run: what this is, and what to use when the Pulumi CLI is there. */
export function banner(
  programDir: string,
  statePath: string,
  options: Pick<RunOptions, "preview" | "destroy">,
): string {
  const cli = options.destroy ? "pulumi destroy" : options.preview ? "pulumi preview" : "pulumi up";
  return (
    `offline runner (not \`${cli}\`): runs this program with the real Pulumi runtime and dynamic-provider host, ` +
    `state in ${statePath}. With the Pulumi CLI installed, run \`${cli}\` in ${programDir} instead.`
  );
}

/** Runs a Pulumi program (or destroys its stack) without the Pulumi CLI; see {@link RunOptions}. */
export async function run(options: RunOptions): Promise<RunResult> {
  const programDir = path.resolve(options.programDir);
  const statePath = path.resolve(
    options.statePath ?? path.join(programDir, ".iot-reset", `state-${options.stack}.json`),
  );
  const first = banner(programDir, statePath, options);
  options.onOutput?.(first);
  let deployment: Deployment;
  try {
    const project = readProject(programDir);
    const config = {
      ...readStackConfig(programDir, options.stack, project.name),
      ...qualifyAll(options.config, project.name),
      ...qualifyAll(options.secretConfig, project.name),
    };
    const secretKeysOfConfig = Object.keys(qualifyAll(options.secretConfig, project.name));
    const oldState = loadState(statePath, project.name, options.stack);
    deployment = new Deployment(
      options,
      programDir,
      project.name,
      programMain(programDir, project.main),
      statePath,
      config,
      secretKeysOfConfig,
      oldState,
    );
  } catch (e) {
    const line = `error: ${errorText(e)}`;
    options.onOutput?.(line);
    return {
      exitCode: 1,
      steps: [],
      plan: [],
      outputs: {},
      summary: summarize([]),
      providerLog: [],
      errors: [errorText(e)],
      stdout: `${first}\n${line}\n`,
      statePath,
    };
  }
  // The deployment's own lines follow the banner.
  const result = await deployment.execute();
  return { ...result, stdout: `${first}\n${result.stdout}` };
}
