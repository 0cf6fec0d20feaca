/**
 * A real S3 server on 127.0.0.1 for the tests: SeaweedFS (Apache-2.0), the version pinned in
 * `tools/seaweedfs/go.mod`, built from its Go modules once into the cache that also holds the pinned Pulumi CLI
 * (`IOT_RESET_CLI_CACHE`, default ~/.cache/pulumi-alicloud-iot-reset), and reused while the pin is unchanged.
 * The journal's conditional writes and the Pulumi CLI's DIY S3 backend are tested against it, so what they rely on
 * is what a real S3 implementation does, not what an imitation was written to do.
 *
 * Run alone (`npm run seaweedfs`) it builds or finds the binary and prints its path.
 */
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import { CreateBucketCommand, ListBucketsCommand, S3Client } from "@aws-sdk/client-s3";

import { goBuild, pinnedCacheDir, requireGo } from "./go-build";
import { ROOT } from "./root";

const MODULE_DIR = path.join(ROOT, "tools", "seaweedfs");
const WEED_PACKAGE = "github.com/seaweedfs/seaweedfs/weed";
/** How long a server may take to answer S3 requests before `startS3Server` gives up. */
const START_TIMEOUT_MS = 60_000;
/** How long a stopped server may take to shut down gracefully before it is killed. */
const STOP_GRACE_MS = 10_000;

/** SeaweedFS cannot be built or started; the message says what is missing and what to do. */
export class SeaweedfsError extends Error {
  override readonly name = "SeaweedfsError";
}

/** The SeaweedFS binary ready to run. */
export interface Seaweedfs {
  /** The `weed` binary. */
  readonly binary: string;
  /** What `weed version` reports, e.g. `30GB 4.53 7506e5f91cd6`. */
  readonly version: string;
}

/** The Go module version SeaweedFS is pinned at in `tools/seaweedfs/go.mod`, e.g. `v0.0.0-20261109003541-7506e5f91cd6`. */
export function pinnedVersion(): string {
  const goMod = fs.readFileSync(path.join(MODULE_DIR, "go.mod"), "utf8");
  const match = /github\.com\/seaweedfs\/seaweedfs (v\S+)/.exec(goMod);
  if (!match?.[1]) throw new SeaweedfsError(`${MODULE_DIR}/go.mod does not pin github.com/seaweedfs/seaweedfs`);
  return match[1];
}

/** What a binary's `weed version` reports, or undefined when it does not run. */
function versionOf(binary: string): string | undefined {
  const probe = spawnSync(binary, ["version"], { encoding: "utf8" });
  if (probe.status !== 0) return undefined;
  // "version 30GB 4.53 7506e5f91cd6 linux amd64"
  return /version (.+?) (linux|darwin|windows|freebsd)/.exec(probe.stdout)?.[1]?.trim() ?? probe.stdout.trim();
}

/** Finds the pinned `weed` in the cache, or builds it there (once per pin, with progress lines). */
export async function ensureSeaweedfs(log: (line: string) => void = (line) => console.error(line)): Promise<Seaweedfs> {
  const pin = pinnedVersion();
  const root = pinnedCacheDir(`seaweedfs-${pin}`, MODULE_DIR);
  const binary = path.join(root, "bin", "weed");
  if (!fs.existsSync(binary)) {
    const go = requireGo(
      `SeaweedFS (${pin})`,
      ", the S3 server the tests run",
      (message) => new SeaweedfsError(message),
    );
    log(`Building SeaweedFS ${pin} from its Go modules (${go}); this happens once per pin`);
    log(`  and takes about 10 minutes on 2 cores the first time. Cache: ${root}`);
    // The commit is the pseudo-version's last part; `weed version` shows it as release builds do.
    const commit = pin.slice(pin.lastIndexOf("-") + 1);
    await goBuild(
      {
        moduleDir: MODULE_DIR,
        pkg: WEED_PACKAGE,
        what: "SeaweedFS",
        flags: ["-ldflags", `-s -w -X github.com/seaweedfs/seaweedfs/weed/util/version.COMMIT=${commit}`],
        binary,
        error: (message) => new SeaweedfsError(message),
      },
      log,
    );
  }
  const version = versionOf(binary);
  if (!version)
    throw new SeaweedfsError(`the cached SeaweedFS at ${binary} does not run; delete ${root} and run again`);
  return { binary, version };
}

/** What `startS3Server` needs. */
export interface S3ServerOptions {
  /** The folder that holds the server's data, its S3 identities and its log (`weed.log`); created when missing. */
  readonly dir: string;
  /** Receives progress lines (the build, when `weed` is not cached yet); default standard error. */
  readonly log?: (line: string) => void;
}

/** A running SeaweedFS whose S3 API answers on 127.0.0.1 and checks every request's signature. */
export interface S3Server {
  /** The S3 endpoint, e.g. `http://127.0.0.1:41234`; buckets are addressed by path, not by host name. */
  readonly endpoint: string;
  /** The region clients sign for: `us-east-1`. */
  readonly region: string;
  /** The access key of the server's one identity (it may do anything). */
  readonly accessKeyId: string;
  /** That identity's secret key; a request signed with any other is refused. */
  readonly secretAccessKey: string;
  /** The server's log, whose tail an error about it quotes. */
  readonly logFile: string;
  /** An S3 client of this server, with its credentials. */
  client(): S3Client;
  /**
   * The environment a process needs to reach the server with the AWS SDK's default credential chain: the keys,
   * the region, and `AWS_EC2_METADATA_DISABLED` so the chain never asks the EC2 metadata service.
   */
  env(): Record<string, string>;
  /**
   * The Pulumi DIY backend URL of a bucket on this server, e.g.
   * `s3://state?endpoint=http://127.0.0.1:41234&region=us-east-1&use_path_style=true&response_checksum_validation=when_required`;
   * its credentials come from `env()`. The endpoint keeps its `http://` (without one the AWS SDK takes HTTPS),
   * `use_path_style` keeps the bucket out of the host name, and without `response_checksum_validation` the CLI
   * warns on every read that SeaweedFS sends no checksum.
   */
  backendUrl(bucket: string): string;
  /** Creates a bucket. */
  createBucket(name: string): Promise<void>;
  /** Ends the server and every process it started; resolves once they are gone. */
  stop(): Promise<void>;
}

/** The fixed local identity of every test server: the keys only ever reach 127.0.0.1. */
const ACCESS_KEY_ID = "iot-reset-test";
const SECRET_ACCESS_KEY = "iot-reset-test-secret-key";
const REGION = "us-east-1";

/**
 * Ends `weed` when the process that started it ends, however it ends (a killed test worker included): a shell
 * starts weed, and a reader of the shell's stdin, a pipe from this process, kills weed when the pipe closes.
 * Background jobs of a non-interactive shell read /dev/null, hence the copy of stdin on fd 3.
 */
const WATCHDOG = `exec 3<&0
"$@" </dev/null &
weed=$!
(read -r _ <&3; kill -TERM "$weed" 2>/dev/null) &
wait "$weed"`;

/** Ports free on 127.0.0.1 now, all different: each is held until all are found, then released for weed to take. */
async function freePorts(count: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = net.createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", resolve);
      });
    }
    return servers.map((server) => (server.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}

/** The last lines of a log file, for an error message. */
function tail(file: string, lines = 30): string {
  try {
    return fs.readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

/** The `weed mini` arguments of a server on these ports; every listener is on 127.0.0.1, every extra is off. */
function miniArgs(dir: string, config: string, ports: readonly number[]): string[] {
  const [master, masterGrpc, volume, volumeGrpc, filer, filerGrpc, s3, s3Grpc, webdav, admin, adminGrpc] = ports;
  return [
    "mini",
    `-dir=${path.join(dir, "data")}`,
    "-ip=127.0.0.1",
    "-ip.bind=127.0.0.1",
    `-master.port=${master}`,
    `-master.port.grpc=${masterGrpc}`,
    `-volume.port=${volume}`,
    `-volume.port.grpc=${volumeGrpc}`,
    `-filer.port=${filer}`,
    `-filer.port.grpc=${filerGrpc}`,
    `-s3.port=${s3}`,
    `-s3.port.grpc=${s3Grpc}`,
    `-webdav.port=${webdav}`,
    `-admin.port=${admin}`,
    `-admin.port.grpc=${adminGrpc}`,
    // Fixed ports, shared by every server on the machine; none of them is wanted.
    "-admin.port.legacy=0",
    "-s3.port.iceberg=0",
    "-s3.port.lance=0",
    "-webdav=false",
    "-admin.ui=false",
    // Nothing leaves the machine.
    "-master.telemetry=false",
    // Small, sparse volumes: a test writes kilobytes, and several servers may run on one small machine.
    "-master.volumeSizeLimitMB=64",
    "-master.volumePreallocate=false",
    // No master to tell of a stop: the volume server need not wait for one before it ends.
    "-volume.preStopSeconds=0",
    `-s3.config=${config}`,
    // In the server's folder rather than /tmp, so they go with it, unless its path is too long for a socket's.
    ...(path.join(dir, "filer.sock").length < 100
      ? [`-filer.localSocket=${path.join(dir, "filer.sock")}`, `-s3.localSocket=${path.join(dir, "s3.sock")}`]
      : []),
  ];
}

/** Resolves once a signed ListBuckets succeeds; rejects when weed exits first or the time is up. */
async function untilAnswering(client: S3Client, child: ChildProcess, logFile: string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let last: unknown;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new SeaweedfsError(
        `SeaweedFS exited (${child.exitCode ?? child.signalCode}) before its S3 API answered; its log ${logFile} ends:\n${tail(logFile)}`,
      );
    try {
      await client.send(new ListBucketsCommand({}));
      return;
    } catch (err) {
      last = err;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new SeaweedfsError(
    `SeaweedFS did not answer S3 requests within ${START_TIMEOUT_MS / 1000} s (last: ${String(last)}); ` +
      `its log ${logFile} ends:\n${tail(logFile)}`,
  );
}

/** Sends a signal to the watchdog shell's process group (the shell, weed and the reader); false when it is gone. */
function signalGroup(child: ChildProcess, signal: NodeJS.Signals | 0): boolean {
  if (child.pid === undefined) return false;
  try {
    process.kill(-child.pid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * Ends the process group: SIGTERM, which weed answers with a graceful shutdown, then SIGKILL after the grace
 * period. Resolves once no process of the group is left (the shell ends at once; weed is what takes time).
 */
async function endGroup(child: ChildProcess): Promise<void> {
  const deadline = Date.now() + STOP_GRACE_MS;
  signalGroup(child, "SIGTERM");
  while (signalGroup(child, 0)) {
    if (Date.now() > deadline) signalGroup(child, "SIGKILL");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Starts one `weed mini` on fresh ports; rejects when it does not answer. */
async function startOnce(weed: Seaweedfs, dir: string, attempt: number): Promise<S3Server> {
  const config = path.join(dir, "s3.json");
  // With an identity configured, SeaweedFS refuses anonymous and wrongly signed requests.
  const identities = {
    identities: [
      {
        name: "iot-reset-test",
        credentials: [{ accessKey: ACCESS_KEY_ID, secretKey: SECRET_ACCESS_KEY }],
        actions: ["Admin", "Read", "Write", "List", "Tagging"],
      },
    ],
  };
  fs.writeFileSync(config, JSON.stringify(identities, null, 2));
  const ports = await freePorts(11);
  const [, masterGrpc, , volumeGrpc, , filerGrpc, s3Port, s3Grpc, , , adminGrpc] = ports;
  const grpcSockets = Object.entries({
    master: masterGrpc,
    volume: volumeGrpc,
    filer: filerGrpc,
    s3: s3Grpc,
    admin: adminGrpc,
  });
  const logFile = path.join(dir, attempt ? `weed-${attempt}.log` : "weed.log");
  const out = fs.openSync(logFile, "a");
  const child = spawn("sh", ["-c", WATCHDOG, "weed-watchdog", weed.binary, ...miniArgs(dir, config, ports)], {
    cwd: dir,
    // A process group of its own, so `stop` ends weed and the watchdog together.
    detached: true,
    stdio: ["pipe", out, out],
    // Only what weed needs: AWS_* keys in the environment would add an identity, WEED_* would change its settings,
    // and a filer.toml in the home folder would move its metadata.
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir, TMPDIR: dir },
  });
  fs.closeSync(out);
  const killOnExit = () => signalGroup(child, "SIGKILL");
  process.once("exit", killOnExit);
  const endpoint = `http://127.0.0.1:${s3Port}`;
  const client = () =>
    new S3Client({
      endpoint,
      region: REGION,
      forcePathStyle: true,
      credentials: { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET_ACCESS_KEY },
    });
  const probe = client();
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      await endGroup(child);
      child.stdin?.destroy();
      process.removeListener("exit", killOnExit);
      probe.destroy();
      // weed puts its gRPC sockets in /tmp whatever its settings, and leaves them behind.
      for (const [service, port] of grpcSockets)
        fs.rmSync(`/tmp/seaweedfs-${service}-grpc-${port}.sock`, { force: true });
    })());
  try {
    await untilAnswering(probe, child, logFile);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    endpoint,
    region: REGION,
    accessKeyId: ACCESS_KEY_ID,
    secretAccessKey: SECRET_ACCESS_KEY,
    logFile,
    client,
    env: () => ({
      AWS_ACCESS_KEY_ID: ACCESS_KEY_ID,
      AWS_SECRET_ACCESS_KEY: SECRET_ACCESS_KEY,
      AWS_REGION: REGION,
      AWS_EC2_METADATA_DISABLED: "true",
    }),
    backendUrl: (bucket) =>
      `s3://${bucket}?endpoint=${endpoint}&region=${REGION}&use_path_style=true&response_checksum_validation=when_required`,
    createBucket: async (name) => {
      await probe.send(new CreateBucketCommand({ Bucket: name }));
    },
    stop,
  };
}

/**
 * Starts SeaweedFS (`weed mini`: master, volume server, filer and S3 in one process) with its data in
 * `options.dir`, every port free and on 127.0.0.1, and resolves once its S3 API answers signed requests. The
 * caller must `stop()` it; it is killed anyway when this process exits.
 */
export async function startS3Server(options: S3ServerOptions): Promise<S3Server> {
  const weed = await ensureSeaweedfs(options.log);
  fs.mkdirSync(options.dir, { recursive: true });
  // Another process may take one of the ports between their choice and weed's bind; weed then exits at once,
  // and fresh ports are tried.
  for (let attempt = 0; ; attempt++) {
    try {
      return await startOnce(weed, options.dir, attempt);
    } catch (err) {
      const taken = err instanceof SeaweedfsError && /is not available|address already in use/.test(err.message);
      if (!taken || attempt >= 2) throw err;
    }
  }
}

if (require.main === module) {
  ensureSeaweedfs().then(
    (weed) => console.log(`SeaweedFS ${weed.version}: ${weed.binary}`),
    (err: Error) => {
      console.error(err.message);
      process.exitCode = 1;
    },
  );
}
