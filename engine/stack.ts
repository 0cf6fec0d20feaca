/**
 * One stack under the real Pulumi engine, driven by the Automation API with an inline program: `pulumi up`,
 * `preview`, `refresh` and `destroy` run by the CLI, the program served in-process (no language host is
 * needed), and the dynamic provider run by the engine's own `pulumi-resource-pulumi-nodejs` host.
 *
 * What the engine needs, set here once: a DIY backend (a local folder, or a bucket) and a passphrase (no
 * login), a private PULUMI_HOME, no update check, and the `pulumi-resource-pulumi-nodejs` script of
 * `@pulumi/pulumi` on PATH; the script and the provider host resolve modules from `modulesDir` (NODE_PATH), so
 * the work folder can be anywhere.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import {
  CommandError,
  ConfigMap,
  EngineEvent,
  LocalWorkspace,
  PulumiCommand,
  Stack,
  StepEventMetadata,
} from "@pulumi/pulumi/automation";
import { PROVIDER_HOST_SCRIPT, PulumiCli } from "./cli";

import { ROOT } from "./root";

/** The folder the engine should find the provider host script in: beside the CLI when it is there, else `@pulumi/pulumi`'s. */
function providerHostDir(cli: PulumiCli, modulesDir: string): string {
  const beside = path.dirname(cli.binary);
  if (fs.existsSync(path.join(beside, PROVIDER_HOST_SCRIPT))) return beside;
  return path.join(modulesDir, "@pulumi", "pulumi");
}

/** The program: a function that declares resources and returns the stack outputs. */
export type InlineProgram = () => Promise<Record<string, unknown> | void>;

/** Everything a stack needs. */
export interface StackOptions {
  /** The CLI to run, from `ensurePulumiCli()`. */
  readonly cli: PulumiCli;
  /** The Pulumi project name. */
  readonly project: string;
  /** The stack name. */
  readonly stack: string;
  /** The program, run in this process for every operation. */
  readonly program: InlineProgram;
  /** Where the CLI keeps `Pulumi.yaml` and `Pulumi.<stack>.yaml`; created when missing. */
  readonly workDir: string;
  /**
   * The file backend's folder (state under `.pulumi/stacks/`), and the folder of the CLI's PULUMI_HOME whatever the
   * backend; created when missing.
   */
  readonly backendDir: string;
  /**
   * A DIY backend URL to keep the state in instead of `file://<backendDir>`, e.g. a bucket of a local S3 server:
   * `s3://state?endpoint=http://127.0.0.1:41234&region=us-east-1&use_path_style=true&response_checksum_validation=when_required`
   * (as `S3Server.backendUrl` gives it, with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in `env`); default the
   * file backend.
   */
  readonly backendUrl?: string;
  /** The `node_modules` the provider host resolves `@pulumi/pulumi` and this package from; default the repository's. */
  readonly modulesDir?: string;
  /** The passphrase of the stack's secrets; default a fixed local one. */
  readonly passphrase?: string;
  /** Extra environment for the CLI and the provider host. */
  readonly env?: Readonly<Record<string, string>>;
}

/** One resource's step in an operation. */
export interface StepResult {
  /** The resource's URN. */
  readonly urn: string;
  /** Its logical name (the URN's last part). */
  readonly name: string;
  /** Its type token. */
  readonly type: string;
  /** What the engine did (or, in a preview, would do): `create`, `same`, `update`, `replace`, `delete`, `refresh`, … */
  readonly op: string;
  /** Every engine step op seen for the resource, in order (a replace is `create-replacement`, `replace`, `delete-replaced`). */
  readonly ops: readonly string[];
  /** The properties that forced a replace. */
  readonly replaces?: readonly string[];
  /** The properties that differ. */
  readonly diffs?: readonly string[];
  /** The step's error diagnostics, when it failed. */
  readonly error?: string;
}

/** The result of one operation. */
export interface RunResult {
  /** The CLI's exit code: 0 when the operation succeeded. */
  readonly exitCode: number;
  /** One entry per resource the engine touched or planned, in the order first seen. */
  readonly steps: readonly StepResult[];
  /** The stack outputs after the operation (empty for a preview). */
  readonly outputs: Readonly<Record<string, unknown>>;
  /** Error diagnostics, in order. */
  readonly errors: readonly string[];
  /** Warning diagnostics, in order. */
  readonly warnings: readonly string[];
  /** Info diagnostics (`pulumi.log.info` and the provider host's logs), in order. */
  readonly infos: readonly string[];
  /** The CLI's standard output (for `preview({ json: true })`, the JSON plan). */
  readonly stdout: string;
  /** The CLI's standard error. */
  readonly stderr: string;
}

/** A resource as `pulumi stack export` has it. */
export interface StateResource {
  readonly urn: string;
  readonly type: string;
  readonly inputs?: Record<string, unknown>;
  readonly outputs?: Record<string, unknown>;
  readonly initErrors?: string[];
}

/** Options common to every operation. */
export interface OperationOptions {
  /** Receives the CLI's output as it is written. */
  readonly onOutput?: (text: string) => void;
  /** Receives each engine event as it arrives (the benchmark's timelines). */
  readonly onEvent?: (event: EngineEvent) => void;
  /** Most resource operations at once (`--parallel`); default the CLI's. */
  readonly parallel?: number;
  /** Aborts the operation: the CLI gets one SIGINT and cancels gracefully. */
  readonly signal?: AbortSignal;
}

const stripColor = (text: string): string => text.replace(/\u001b\[[0-9;]*m/g, "");
const nameOf = (urn: string): string => urn.slice(urn.lastIndexOf("::") + 2);

/** Collects engine events into steps and diagnostics. */
class EventLog {
  private readonly byUrn = new Map<string, { meta: StepEventMetadata; ops: string[]; errors: string[] }>();
  readonly errors: string[] = [];
  readonly warnings: string[] = [];
  readonly infos: string[] = [];

  readonly onEvent = (event: EngineEvent): void => {
    const meta = event.resourcePreEvent?.metadata ?? event.resOpFailedEvent?.metadata;
    if (meta && event.resourcePreEvent) {
      const entry = this.byUrn.get(meta.urn) ?? { meta, ops: [], errors: [] };
      entry.ops.push(meta.op);
      if (meta.op !== "delete-replaced") entry.meta = meta;
      this.byUrn.set(meta.urn, entry);
    }
    const diag = event.diagnosticEvent;
    if (diag && !diag.ephemeral) {
      const message = stripColor(diag.message).trim();
      if (diag.severity === "error") {
        this.errors.push(message);
        if (diag.urn) this.byUrn.get(diag.urn)?.errors.push(message);
      } else if (diag.severity === "warning") this.warnings.push(message);
      else if (diag.severity === "info" || diag.severity === "info#err") this.infos.push(message);
    }
  };

  steps(): StepResult[] {
    return [...this.byUrn.entries()].map(([urn, { meta, ops, errors }]) => {
      const replaced = ops.some((op) => op === "replace" || op === "create-replacement");
      return {
        urn,
        name: nameOf(urn),
        type: meta.type,
        op: replaced ? "replace" : (ops[0] ?? "same"),
        ops,
        ...(replaced && meta.keys ? { replaces: meta.keys } : {}),
        ...(meta.diffs?.length ? { diffs: meta.diffs } : {}),
        ...(errors.length ? { error: errors.join("\n") } : {}),
      };
    });
  }
}

/** What the Automation API keeps of a CLI run that failed. */
interface CommandOutcome {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number;
  readonly err?: unknown;
}

/** `PulumiCommand.run`, which the Automation API calls for every CLI command but does not declare. */
interface CommandRunner {
  run(args: string[], ...rest: unknown[]): Promise<unknown>;
}

/** A stack of the real engine. */
export class EngineStack {
  private constructor(
    private readonly options: StackOptions,
    /** The environment every CLI command gets. */
    private readonly envVars: Readonly<Record<string, string>>,
    /** The Automation API stack, for what this class does not wrap. */
    readonly stack: Stack,
    /** Whether the preview under way prints JSON, and its unchanged resources too; read by the command wrapper. */
    private readonly previewMode: { json: boolean; showSames: boolean },
  ) {}

  /** Creates (or selects) the stack, on `backendUrl` when given, else on a file backend in `backendDir`. */
  static async open(options: StackOptions): Promise<EngineStack> {
    fs.mkdirSync(options.workDir, { recursive: true });
    fs.mkdirSync(options.backendDir, { recursive: true });
    const modulesDir = options.modulesDir ?? path.join(ROOT, "node_modules");
    const pulumiHome = path.join(options.backendDir, ".pulumi-home");
    fs.mkdirSync(pulumiHome, { recursive: true });
    const base = await PulumiCommand.get({ root: options.cli.root, skipVersionCheck: true });
    const preview = { json: false, showSames: false };
    // A pass-through that adds `--json` (and `--show-sames`) to a JSON preview, so a test reads the same plan as
    // `pulumi preview --json [--show-sames]`.
    const runner = base as unknown as CommandRunner;
    const command = Object.create(base) as CommandRunner;
    command.run = (args, ...rest) => {
      const flags =
        args[0] !== "preview" || !preview.json ? [] : ["--json", ...(preview.showSames ? ["--show-sames"] : [])];
      return runner.run([...args, ...flags], ...rest);
    };
    const backendUrl = options.backendUrl ?? `file://${options.backendDir}`;
    const envVars: Record<string, string> = {
      PULUMI_BACKEND_URL: backendUrl,
      PULUMI_CONFIG_PASSPHRASE: options.passphrase ?? "local-engine-passphrase",
      PULUMI_SKIP_UPDATE_CHECK: "true",
      PULUMI_HOME: pulumiHome,
      PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK: "true",
      // The engine starts the provider host script from PATH, else from beside its binary; the script and the host
      // resolve from NODE_PATH. The copy beside the binary goes first: any other copy makes the engine warn.
      PATH: [providerHostDir(options.cli, modulesDir), process.env.PATH ?? ""].join(path.delimiter),
      NODE_PATH: modulesDir,
      ...options.env,
    };
    const workspace = await LocalWorkspace.create({
      workDir: options.workDir,
      pulumiCommand: command as unknown as PulumiCommand,
      pulumiHome,
      envVars,
      program: options.program,
      projectSettings: {
        name: options.project,
        runtime: "nodejs",
        backend: { url: backendUrl },
      },
    });
    const stack = await Stack.createOrSelect(options.stack, workspace);
    return new EngineStack(options, envVars, stack, preview);
  }

  /** Replaces the stack's config: plain values, and secret ones stored encrypted. Keys without a namespace get the project's. */
  async setConfig(
    plain: Readonly<Record<string, string>>,
    secret: Readonly<Record<string, string>> = {},
  ): Promise<void> {
    const current = await this.stack.getAllConfig();
    const stale = Object.keys(current).filter((key) => !(key in plain) && !(key in secret));
    const qualify = (key: string) => (key.includes(":") ? key : `${this.options.project}:${key}`);
    const keep = new Set([...Object.keys(plain), ...Object.keys(secret)].map(qualify));
    const removed = stale.filter((key) => !keep.has(key));
    if (removed.length) await this.stack.removeAllConfig(removed);
    await this.mergeConfig(plain, secret);
  }

  /** Sets config values on top of what the stack has. */
  async mergeConfig(
    plain: Readonly<Record<string, string>>,
    secret: Readonly<Record<string, string>> = {},
  ): Promise<void> {
    const config: ConfigMap = {};
    for (const [key, value] of Object.entries(plain)) config[key] = { value, secret: false };
    for (const [key, value] of Object.entries(secret)) config[key] = { value, secret: true };
    if (Object.keys(config).length) await this.stack.setAllConfig(config);
  }

  /** `pulumi up` (the Automation API skips the CLI's own preview, so the program runs once). */
  up(options: OperationOptions = {}): Promise<RunResult> {
    return this.operate((common) => this.stack.up(common), options, true);
  }

  /**
   * `pulumi preview`; with `json`, stdout is the plan as `pulumi preview --json` prints it, with `showSames` as
   * `--show-sames` adds the unchanged resources to it.
   */
  preview(
    options: OperationOptions & { readonly json?: boolean; readonly showSames?: boolean } = {},
  ): Promise<RunResult> {
    return this.operate(
      async (common) => {
        this.previewMode.json = options.json ?? false;
        this.previewMode.showSames = options.showSames ?? false;
        try {
          return await this.stack.preview({ ...common, diff: !options.json });
        } finally {
          this.previewMode.json = false;
          this.previewMode.showSames = false;
        }
      },
      options,
      false,
    );
  }

  /** `pulumi refresh`. */
  refresh(options: OperationOptions = {}): Promise<RunResult> {
    return this.operate((common) => this.stack.refresh(common), options, true);
  }

  /** `pulumi destroy`. */
  destroy(options: OperationOptions = {}): Promise<RunResult> {
    return this.operate((common) => this.stack.destroy(common), options, false);
  }

  /** The checkpoint file the file backend writes after every step. */
  get checkpointPath(): string {
    return path.join(this.options.backendDir, ".pulumi", "stacks", this.options.project, `${this.options.stack}.json`);
  }

  /** `pulumi stack export` as an operator runs it (secrets stay encrypted; the Automation API's export decrypts them). */
  exportText(): string {
    return this.cli(["stack", "export", "--stack", this.options.stack]);
  }

  /** Runs a CLI command in the stack's work folder with its environment; returns stdout, throws on failure. */
  cli(args: string[]): string {
    const result = spawnSync(this.options.cli.binary, [...args, "--non-interactive"], {
      cwd: this.options.workDir,
      env: { ...process.env, ...this.envVars },
      encoding: "utf8",
      maxBuffer: 256 << 20,
    });
    if (result.status !== 0)
      throw new Error(`pulumi ${args.join(" ")} failed (exit ${result.status}): ${result.stderr.trim()}`);
    return result.stdout;
  }

  /** The stack's resources as `pulumi stack export` has them. */
  async resources(): Promise<StateResource[]> {
    const deployment = (await this.stack.exportStack()).deployment as { resources?: StateResource[] };
    return deployment.resources ?? [];
  }

  /** Removes the stack and its work folder's stack file (the backend folder stays for the caller to delete). */
  async remove(): Promise<void> {
    await this.stack.workspace.removeStack(this.options.stack, { force: true });
  }

  private async operate(
    run: (common: {
      onEvent: (event: EngineEvent) => void;
      onOutput?: (text: string) => void;
      parallel?: number;
      color: "never";
      signal?: AbortSignal;
    }) => Promise<{ stdout: string; stderr: string }>,
    options: OperationOptions,
    readOutputs: boolean,
  ): Promise<RunResult> {
    const log = new EventLog();
    let exitCode = 0;
    let stdout = "";
    let stderr = "";
    try {
      const result = await run({
        onEvent: options.onEvent
          ? (event: EngineEvent) => {
              log.onEvent(event);
              options.onEvent?.(event);
            }
          : log.onEvent,
        color: "never",
        ...(options.onOutput ? { onOutput: options.onOutput } : {}),
        ...(options.parallel ? { parallel: options.parallel } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      });
      stdout = result.stdout;
      stderr = result.stderr;
    } catch (err) {
      if (!(err instanceof CommandError)) throw err;
      // A failed CLI rejects inside the Automation API, which keeps the process result in `commandResult.err`.
      const result = (err as unknown as { commandResult?: CommandOutcome }).commandResult;
      const cause = result?.err as Partial<CommandOutcome> & { exitCode?: number };
      exitCode = cause?.exitCode || result?.code || 1;
      stdout = cause?.stdout ?? result?.stdout ?? "";
      stderr = cause?.stderr ?? result?.stderr ?? String(err);
    }
    const outputs = readOutputs ? await this.outputs() : {};
    return {
      exitCode,
      steps: log.steps(),
      outputs,
      errors: log.errors,
      warnings: log.warnings,
      infos: log.infos,
      stdout: stripColor(stdout),
      stderr: stripColor(stderr),
    };
  }

  private async outputs(): Promise<Record<string, unknown>> {
    const map = await this.stack.outputs();
    return Object.fromEntries(Object.entries(map).map(([key, output]) => [key, output.value]));
  }
}
