/**
 * The Pulumi CLI that runs `npm start`, the end-to-end tests and the benchmark: the real engine, never an
 * imitation. A `pulumi` on PATH (v3.139 or later) is used when there is one; otherwise the version pinned in
 * `tools/pulumi-cli/go.mod` is built from its Go modules once, into a cache in the home folder that outlives
 * clones, and reused while the pin is unchanged.
 *
 *   IOT_RESET_PULUMI_CLI=build       always use the pinned build, even when `pulumi` is on PATH
 *   IOT_RESET_PULUMI_CLI=/path/bin/pulumi   use that binary
 *   IOT_RESET_CLI_CACHE=DIR          where the pinned build is kept (default ~/.cache/pulumi-alicloud-iot-reset)
 *
 * Run alone (`npm run pulumi-cli`) it builds or finds the CLI and prints its path.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

import { goBuild, goVersion, pinnedCacheDir } from "./go-build";
import { ROOT } from "./root";
const MODULE_DIR = path.join(ROOT, "tools", "pulumi-cli");
const CLI_PACKAGE = "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi";
/** `configure` with the stack config reached dynamic providers in 3.139. */
const MINIMUM_VERSION: readonly [number, number, number] = [3, 139, 0];

/**
 * The engine's dynamic-provider host: a shell script at the root of `@pulumi/pulumi` that the official CLI ships
 * beside its binary. The engine prefers a copy found on PATH, and warns ("using … from $PATH at …") on every
 * operation unless that copy is the one beside the binary it runs.
 */
export const PROVIDER_HOST_SCRIPT = "pulumi-resource-pulumi-nodejs";

/** A Pulumi CLI ready to run. */
export interface PulumiCli {
  /** The folder holding `bin/pulumi`, as the Automation API's `PulumiCommand.get({ root })` wants it. */
  readonly root: string;
  /** The binary itself. */
  readonly binary: string;
  /** Its version, e.g. `3.274.1`. */
  readonly version: string;
  /** Where it came from: the PATH, a variable, or the pinned build. */
  readonly source: "path" | "variable" | "pinned build";
}

/** The CLI cannot be found or built; the message says what is missing and what to do. */
export class PulumiCliError extends Error {
  override readonly name = "PulumiCliError";
}

/** The version pinned in the Go module, e.g. `3.274.1`. */
export function pinnedVersion(): string {
  const goMod = fs.readFileSync(path.join(MODULE_DIR, "go.mod"), "utf8");
  const match = /github\.com\/pulumi\/pulumi\/pkg\/v3 v(\d+\.\d+\.\d+)/.exec(goMod);
  if (!match?.[1]) throw new PulumiCliError(`${MODULE_DIR}/go.mod does not pin github.com/pulumi/pulumi/pkg/v3`);
  return match[1];
}

/** The cache folder of the pinned build: its name changes with go.mod or go.sum, so a new pin builds anew. */
function pinnedRoot(version: string): string {
  return pinnedCacheDir(`pulumi-v${version}`, MODULE_DIR);
}

/** The version a binary reports, or undefined when it does not run. */
function versionOf(binary: string): string | undefined {
  const probe = spawnSync(binary, ["version"], {
    encoding: "utf8",
    env: { ...process.env, PULUMI_SKIP_UPDATE_CHECK: "true" },
  });
  if (probe.status !== 0) return undefined;
  return /v?(\d+\.\d+\.\d+)/.exec(probe.stdout)?.[1];
}

function atLeastMinimum(version: string): boolean {
  const parts = version.split(".").map(Number);
  for (let i = 0; i < 3; i++) {
    const have = parts[i] ?? 0;
    const want = MINIMUM_VERSION[i] ?? 0;
    if (have !== want) return have > want;
  }
  return true;
}

function onPath(): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    const candidate = path.join(dir, "pulumi");
    if (dir && fs.existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** Builds the pinned CLI into `root/bin/pulumi`, with progress lines; throws a PulumiCliError saying why not. */
async function buildPinned(root: string, version: string, log: (line: string) => void): Promise<void> {
  const go = goVersion();
  if (!go)
    throw new PulumiCliError(
      `no Pulumi CLI on PATH and no Go toolchain to build the pinned one (v${version}): install Go 1.24 or later ` +
        `(https://go.dev/dl), or Pulumi v${MINIMUM_VERSION.join(".")}+ (https://www.pulumi.com/docs/install/), then run again`,
    );
  log(`Building the Pulumi CLI v${version} from its Go modules (${go}); this happens once per pin`);
  log(`  and takes about 13 minutes on 2 cores the first time (4 of downloads, 9 of compiling). Cache: ${root}`);
  await goBuild(
    {
      moduleDir: MODULE_DIR,
      pkg: CLI_PACKAGE,
      what: "the Pulumi CLI",
      flags: [
        "-tags",
        "osusergo,grpcnotrace",
        "-ldflags",
        `-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v${version}`,
      ],
      binary: path.join(root, "bin", "pulumi"),
      error: (message) => new PulumiCliError(message),
    },
    log,
  );
}

/**
 * Puts the dynamic-provider host script beside the pinned binary, as the official CLI ships it, so the engine
 * takes it without a warning. The script resolves `@pulumi/pulumi` from the program's folder and NODE_PATH, not
 * from where it lies, so one copy serves every clone that shares the cache.
 */
function placeProviderHost(binDir: string): void {
  const script = fs.readFileSync(path.join(ROOT, "node_modules", "@pulumi", "pulumi", PROVIDER_HOST_SCRIPT));
  const target = path.join(binDir, PROVIDER_HOST_SCRIPT);
  if (fs.existsSync(target) && fs.readFileSync(target).equals(script)) return;
  // Written aside and renamed, so a concurrent run never starts a half-written script.
  const partial = `${target}.partial-${process.pid}`;
  fs.writeFileSync(partial, script, { mode: 0o755 });
  fs.renameSync(partial, target);
}

/**
 * Finds or builds the CLI. Order: `IOT_RESET_PULUMI_CLI` (a path, or `build`), then `pulumi` on PATH when it is
 * v3.139 or later, then the pinned build (built now when it is not cached yet).
 */
export async function ensurePulumiCli(log: (line: string) => void = (line) => console.error(line)): Promise<PulumiCli> {
  const chosen = process.env.IOT_RESET_PULUMI_CLI;
  if (chosen && chosen !== "build") {
    const version = versionOf(chosen);
    if (!version) throw new PulumiCliError(`IOT_RESET_PULUMI_CLI=${chosen} does not run as a Pulumi CLI`);
    return { root: path.dirname(path.dirname(chosen)), binary: chosen, version, source: "variable" };
  }
  if (chosen !== "build") {
    const found = onPath();
    const version = found ? versionOf(found) : undefined;
    if (found && version && atLeastMinimum(version))
      return { root: path.dirname(path.dirname(found)), binary: found, version, source: "path" };
    if (found && version)
      log(`pulumi v${version} on PATH is older than v${MINIMUM_VERSION.join(".")}; using the pinned build instead`);
  }
  const version = pinnedVersion();
  const root = pinnedRoot(version);
  const binary = path.join(root, "bin", "pulumi");
  if (!fs.existsSync(binary)) await buildPinned(root, version, log);
  placeProviderHost(path.dirname(binary));
  const built = versionOf(binary);
  if (built !== version)
    throw new PulumiCliError(
      `the cached Pulumi CLI at ${binary} reports ${built ?? "nothing"}, not v${version}; delete ${root} and run again`,
    );
  return { root, binary, version, source: "pinned build" };
}

if (require.main === module) {
  ensurePulumiCli().then(
    (cli) => console.log(`Pulumi CLI v${cli.version} (${cli.source}): ${cli.binary}`),
    (err: Error) => {
      console.error(err.message);
      process.exitCode = 1;
    },
  );
}
