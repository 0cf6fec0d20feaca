#!/usr/bin/env node
/**
 * `node lib/runner/cli.js <programDir> --stack dev [...]`: the offline runner's command line. See
 * {@link USAGE}.
 */
import { run, RunOptions } from "./engine";

/** The usage text printed by `--help` and on bad arguments. */
export const USAGE = `usage: node lib/runner/cli.js <programDir> --stack <name> [--state FILE] [--preview] [--destroy]
       [--parallel N] [--config key=value ...] [--config-secret key=value ...] [--plan-json FILE] [--yes]

Offline runner, for development: runs a Pulumi program with the real Pulumi runtime and
dynamic-provider host, without the Pulumi CLI. With the CLI installed, use \`pulumi up\`.`;

/** Thrown for command-line mistakes; the message says which argument and why. */
export class UsageError extends Error {}

function keyValue(flag: string, arg: string | undefined): [string, string] {
  const i = arg?.indexOf("=") ?? -1;
  if (arg === undefined || i <= 0) throw new UsageError(`\`${flag}\` expects key=value, got ${arg ?? "nothing"}`);
  return [arg.slice(0, i), arg.slice(i + 1)];
}

/** Parses the command line (without `node` and the script) into run options. */
export function parseArgs(argv: readonly string[]): RunOptions {
  let programDir: string | undefined;
  let stack: string | undefined;
  let statePath: string | undefined;
  let planJsonPath: string | undefined;
  let parallel: number | undefined;
  let preview = false;
  let destroy = false;
  const config: Record<string, string> = {};
  const secretConfig: Record<string, string> = {};
  const value = (i: number, flag: string): string => {
    const v = argv[i];
    if (v === undefined || v.startsWith("--")) throw new UsageError(`\`${flag}\` expects a value`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    switch (arg) {
      case "--stack":
        stack = value(++i, arg);
        break;
      case "--state":
        statePath = value(++i, arg);
        break;
      case "--plan-json":
        planJsonPath = value(++i, arg);
        break;
      case "--parallel": {
        const n = Number(value(++i, arg));
        if (!Number.isInteger(n) || n < 1)
          throw new UsageError(`\`--parallel\` must be a positive integer, got ${argv[i]}`);
        parallel = n;
        break;
      }
      case "--preview":
        preview = true;
        break;
      case "--destroy":
        destroy = true;
        break;
      case "--yes":
        // The runner never prompts; accepted so that `pulumi up --yes` command lines carry over.
        break;
      case "--config":
      case "--config-secret": {
        const target = arg === "--config" ? config : secretConfig;
        const [k, v] = keyValue(arg, argv[++i]);
        target[k] = v;
        // Several pairs may follow one flag, as with `pulumi config set-all`.
        while (i + 1 < argv.length && !argv[i + 1]!.startsWith("--") && argv[i + 1]!.includes("=")) {
          const [k2, v2] = keyValue(arg, argv[++i]);
          target[k2] = v2;
        }
        break;
      }
      default:
        if (arg.startsWith("--")) throw new UsageError(`unknown option \`${arg}\``);
        if (programDir !== undefined)
          throw new UsageError(`one program directory expected, got ${programDir} and ${arg}`);
        programDir = arg;
    }
  }
  if (programDir === undefined) throw new UsageError("the program directory is missing");
  if (stack === undefined) throw new UsageError("`--stack` is required");
  return {
    programDir,
    stack,
    preview,
    destroy,
    config,
    secretConfig,
    ...(statePath !== undefined ? { statePath } : {}),
    ...(planJsonPath !== undefined ? { planJsonPath } : {}),
    ...(parallel !== undefined ? { parallel } : {}),
  };
}

/** Runs the command line and returns the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(USAGE);
    return 0;
  }
  let options: RunOptions;
  try {
    options = parseArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`error: ${e.message}\n${USAGE}`);
    return 2;
  }
  const result = await run({
    ...options,
    onOutput: (line) => console.log(line),
  });
  return result.exitCode;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      console.error(`error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      process.exitCode = 1;
    },
  );
}
