/**
 * Builds a program pinned by a Go module under `tools/` (the Pulumi CLI, SeaweedFS) into a cache in the home
 * folder that outlives clones: the modules are fetched, then compiled, with a progress line every 30 s, and the
 * binary is renamed into place only when whole.
 */
import { spawn, spawnSync } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

/** One pinned program to build. */
export interface GoBuild {
  /** The folder of the Go module that pins it (its `go.mod` and `go.sum`). */
  readonly moduleDir: string;
  /** The package of its `main`, e.g. `github.com/seaweedfs/seaweedfs/weed`. */
  readonly pkg: string;
  /** What it is, for messages, e.g. `the Pulumi CLI`. */
  readonly what: string;
  /** Flags of `go build` before `-o` (tags, ldflags); default none. */
  readonly flags?: readonly string[];
  /** The path of the finished binary. */
  readonly binary: string;
  /** Makes the error a failed step throws, from its message. */
  readonly error: (message: string) => Error;
}

/**
 * The cache folder of a pinned build, `<cache>/<name>-<digest>`: the digest of `go.mod` and `go.sum` changes
 * with the pin, so a new pin builds anew. The cache is `IOT_RESET_CLI_CACHE`, default
 * `~/.cache/pulumi-alicloud-iot-reset`.
 */
export function pinnedCacheDir(name: string, moduleDir: string): string {
  const digest = createHash("sha256");
  for (const file of ["go.mod", "go.sum"]) digest.update(fs.readFileSync(path.join(moduleDir, file)));
  const base = process.env.IOT_RESET_CLI_CACHE ?? path.join(os.homedir(), ".cache", "pulumi-alicloud-iot-reset");
  return path.join(base, `${name}-${digest.digest("hex").slice(0, 12)}`);
}

/** What `go version` prints, or undefined when there is no Go toolchain on PATH. */
export function goVersion(): string | undefined {
  const go = spawnSync("go", ["version"], { encoding: "utf8" });
  return go.status === 0 ? go.stdout.trim() : undefined;
}

/**
 * The Go toolchain's version, or the error `error` makes naming what could not be built and why it is needed, e.g.
 * `no Go toolchain to build actionlint (v1.7.12), which …: install Go 1.26 or later (https://go.dev/dl), then run again`.
 */
export function requireGo(what: string, why: string, error: (message: string) => Error): string {
  const go = goVersion();
  if (!go)
    throw error(`no Go toolchain to build ${what}${why}: install Go 1.26 or later (https://go.dev/dl), then run again`);
  return go;
}

/** Runs one `go` step in the module's folder with a progress line every 30 s; rejects with the output's tail. */
function goStep(build: GoBuild, label: string, args: string[], log: (line: string) => void): Promise<void> {
  const started = Date.now();
  const seconds = () => Math.round((Date.now() - started) / 1000);
  log(`  ${label} …`);
  return new Promise((resolve, reject) => {
    const child = spawn("go", args, { cwd: build.moduleDir, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-20_000);
    };
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    const heartbeat = setInterval(() => log(`  ${label}: ${seconds()} s so far`), 30_000);
    const fail = (why: string) => {
      const tail = output.trim().split("\n").slice(-15).join("\n");
      const proxy = /proxy|dial tcp|i\/o timeout|no such host|TLS handshake/i.test(tail)
        ? ` The Go module proxy (${process.env.GOPROXY || "proxy.golang.org"}) could not be reached; check GOPROXY and the network.`
        : "";
      reject(build.error(`building ${build.what} failed at "go ${args.join(" ")}" (${why}).${proxy}\n${tail}`));
    };
    child.on("error", (err) => {
      clearInterval(heartbeat);
      fail(err.message);
    });
    child.on("close", (code, signal) => {
      clearInterval(heartbeat);
      if (code === 0) {
        log(`  ${label}: done in ${seconds()} s`);
        resolve();
      } else fail(signal ? `killed by ${signal}` : `exit ${code}`);
    });
  });
}

/** Fetches the modules the package needs, compiles it, and renames the binary into place; throws `build.error`s. */
export async function goBuild(build: GoBuild, log: (line: string) => void): Promise<void> {
  // `go list -deps` fetches exactly the modules the package needs, so downloading gets its own line.
  await goStep(build, "downloading modules", ["list", "-deps", "-f", "{{.ImportPath}}", build.pkg], log);
  const partial = `${build.binary}.partial-${process.pid}`;
  fs.mkdirSync(path.dirname(partial), { recursive: true });
  await goStep(build, "compiling", ["build", ...(build.flags ?? []), "-o", partial, build.pkg], log);
  // Renamed into place only when whole, so an interrupted build is never taken for a finished one.
  fs.renameSync(partial, build.binary);
}
