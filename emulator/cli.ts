#!/usr/bin/env node
/**
 * `iot-emulator`: runs the IoT Platform emulator as a process. See emulator/README.md for every flag.
 * Exit codes: 0 after SIGINT/SIGTERM, 1 when the server cannot start, 2 for a bad flag.
 */
import { parseArgs } from "node:util";
import type { ComeBackOptions, ComeBackRule, DelayRange } from "./comeback";
import { FAULT_KINDS, FAULTS, type FaultKind } from "./faults";
import { startEmulator, type EmulatorOptions, type RecordedRequest } from "./index";

/** The default port: fixed, so a developer's endpoint stays the same across restarts (0 picks a free one). */
export const DEFAULT_PORT = 8127;

/** A fault kind's rate flag: the kind in kebab case, then `-rate` (`serverError`: `server-error-rate`). */
function rateFlag(kind: FaultKind): string {
  return `${kind.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}-rate`;
}

/** The help of the rate flags, one line per fault kind, its text in the column of the other flags' help. */
const RATE_FLAGS_HELP = FAULT_KINDS.map(
  (kind) => `  ${`--${rateFlag(kind)} R`.padEnd(24)} ${FAULTS[kind].help}\n`,
).join("");

const USAGE = `Usage: iot-emulator [options]

Serves Alibaba Cloud IoT Platform OpenAPI 2018-01-20 (ResetThing, QueryJob, QueryJobStatistics,
QueryDeviceDetail, BatchGetDeviceState, BatchQueryDeviceDetail, RegisterDevice, QueryDevice,
QueryDeviceByStatus, QueryDeviceListByDeviceGroup) on 127.0.0.1 for tests and demos.

  --port N                 port to listen on (default ${DEFAULT_PORT}; 0 picks a free port)
  --host ADDR              interface to bind (default 127.0.0.1). DANGEROUS: any other address exposes
                           the emulator, its test credentials and its state to the network
  --fleet FILE             fleet JSON file (default: the bundled demo fleet)
  --json                   print one JSON line {"endpoint","accessKeyId","accessKeySecret"} when ready
  --verbose                print each request on stderr as it is answered: time, method, action,
                           signature kind, HTTP status, Code (or outcome), RequestId
  --access-key-id ID       AccessKey ID to accept (default LTAIEmulatorTestKey01)
  --access-key-secret S    AccessKey secret to accept (default: random per start)
  --qps ACTION=N           QPS quota per account for an action, repeatable (e.g. --qps ResetThing=500)
  --latency-ms N           fixed latency added to every answer
  --jitter-ms N            extra random latency 0..N ms
  --seed N                 seed of the fault and latency generators (default 1)
${RATE_FLAGS_HELP}  --fault-actions A,B      apply random faults only to these actions (default all)
  --job-duration-ms N      how long a gateway topology job stays IN_PROGRESS (default 3000)

Devices come back after a reset: a device ResetThing takes OFFLINE is ONLINE again after a uniform
delay drawn from the seed and its IotId, or never for a drawn share (see emulator/README.md):
  --never-return-ratio R   share 0..1 of reset devices that never come back (default 0)
  --return-delay-ms A..B   delay range in ms until a device is ONLINE again, or one value N
                           (default 2000..10000)
  --come-back-seed N       seed of the come-back draw (default 1)
  --product-come-back PK:R:A..B
                           a rule for one ProductKey, repeatable; leave R or A..B empty to keep
                           the fleet default, e.g. a1Cams:0.2: or a1Meters::60000..120000
  --help                   show this help
`;

/** A flag the CLI cannot use; the message names it. */
class UsageError extends Error {}

function num(
  flag: string,
  value: string | undefined,
  opts: { min?: number; max?: number; integer?: boolean } = {},
): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  const min = opts.min ?? 0;
  if (
    value.trim() === "" ||
    !Number.isFinite(n) ||
    n < min ||
    (opts.max !== undefined && n > opts.max) ||
    (opts.integer && !Number.isInteger(n))
  ) {
    const range = opts.max !== undefined ? `from ${min} to ${opts.max}` : `>= ${min}`;
    throw new UsageError(`\`--${flag}\` must be ${opts.integer ? "an integer" : "a number"} ${range}, got "${value}"`);
  }
  return n;
}

/** Turns argv into emulator options; throws UsageError naming the bad flag. */
export function parseCli(argv: string[]): { options: EmulatorOptions; json: boolean; verbose: boolean; help: boolean } {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        port: { type: "string" },
        host: { type: "string" },
        fleet: { type: "string" },
        json: { type: "boolean" },
        verbose: { type: "boolean" },
        "access-key-id": { type: "string" },
        "access-key-secret": { type: "string" },
        qps: { type: "string", multiple: true },
        "latency-ms": { type: "string" },
        "jitter-ms": { type: "string" },
        seed: { type: "string" },
        ...Object.fromEntries(FAULT_KINDS.map((kind) => [rateFlag(kind), { type: "string" as const }])),
        "fault-actions": { type: "string" },
        "job-duration-ms": { type: "string" },
        "never-return-ratio": { type: "string" },
        "return-delay-ms": { type: "string" },
        "come-back-seed": { type: "string" },
        "product-come-back": { type: "string", multiple: true },
        help: { type: "boolean" },
      },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const quotas: Record<string, number> = {};
  for (const entry of values.qps ?? []) {
    const m = /^([A-Za-z]+)=(.+)$/.exec(entry);
    if (!m || m[1] === undefined)
      throw new UsageError(`\`--qps\` must look like ACTION=N (e.g. ResetThing=500), got "${entry}"`);
    quotas[m[1]] = num("qps", m[2], { min: 0 }) as number;
  }
  const rate = (flag: string) =>
    num(flag, values[flag as keyof typeof values] as string | undefined, { min: 0, max: 1 });
  const faults: NonNullable<EmulatorOptions["faults"]> = {};
  const seed = num("seed", values.seed, { integer: true });
  if (seed !== undefined) faults.seed = seed;
  let sum = 0;
  for (const kind of FAULT_KINDS) {
    const r = rate(rateFlag(kind));
    if (r !== undefined) {
      faults[kind] = r;
      sum += r;
    }
  }
  if (sum > 1) throw new UsageError(`the fault rates (\`--*-rate\`) must add up to at most 1, got ${sum}`);
  if (values["fault-actions"] !== undefined)
    faults.actions = values["fault-actions"]
      .split(",")
      .map((a) => a.trim())
      .filter(Boolean);

  const options: EmulatorOptions = {
    port: num("port", values.port, { min: 0, max: 65535, integer: true }) ?? DEFAULT_PORT,
    host: values.host ?? "127.0.0.1",
    quotas,
    faults,
  };
  if (values.fleet !== undefined) options.fleet = values.fleet;
  const fixedMs = num("latency-ms", values["latency-ms"]);
  const jitterMs = num("jitter-ms", values["jitter-ms"]);
  if (fixedMs !== undefined || jitterMs !== undefined)
    options.latency = { fixedMs: fixedMs ?? 0, jitterMs: jitterMs ?? 0 };
  const jobDurationMs = num("job-duration-ms", values["job-duration-ms"]);
  if (jobDurationMs !== undefined) options.jobDurationMs = jobDurationMs;
  const comeBack = parseComeBack(values);
  if (comeBack !== undefined) options.comeBack = comeBack;
  const id = values["access-key-id"];
  const secret = values["access-key-secret"];
  if (secret !== undefined && secret === "") throw new UsageError("`--access-key-secret` must not be empty");
  if (id !== undefined || secret !== undefined) {
    options.credentials = [
      {
        accessKeyId: id ?? "LTAIEmulatorTestKey01",
        accessKeySecret: secret ?? randomSecretForCli(),
      },
    ];
  }
  return { options, json: values.json ?? false, verbose: values.verbose ?? false, help: values.help ?? false };
}

/** A delay range flag: `A..B` (both ends included) or a single `N`. */
function delayRange(flag: string, text: string): DelayRange {
  const m = /^(\d+)(?:\.\.(\d+))?$/.exec(text.trim());
  const minMs = Number(m?.[1]);
  const maxMs = m?.[2] !== undefined ? Number(m[2]) : minMs;
  if (!m || !Number.isSafeInteger(minMs) || !Number.isSafeInteger(maxMs) || maxMs < minMs)
    throw new UsageError(`\`--${flag}\` must be MIN..MAX or N, whole ms with MIN <= MAX, got "${text}"`);
  return { minMs, maxMs };
}

/** The come-back flags as options; undefined when none is given. */
function parseComeBack(values: Record<string, string | boolean | string[] | undefined>): ComeBackOptions | undefined {
  const str = (k: string) => values[k] as string | undefined;
  const seed = num("come-back-seed", str("come-back-seed"), { integer: true });
  const neverRatio = num("never-return-ratio", str("never-return-ratio"), { min: 0, max: 1 });
  const delay = str("return-delay-ms");
  const byProduct: Record<string, ComeBackRule> = {};
  for (const entry of (values["product-come-back"] as string[] | undefined) ?? []) {
    const m = /^([A-Za-z0-9_-]+):([^:]*):([^:]*)$/.exec(entry);
    if (!m || m[1] === undefined)
      throw new UsageError(
        `\`--product-come-back\` must look like PRODUCTKEY:RATIO:MIN..MAX (e.g. a1Cams:0.2:1000..5000), got "${entry}"`,
      );
    const ratio = m[2] ? num("product-come-back", m[2], { min: 0, max: 1 }) : undefined;
    byProduct[m[1]] = {
      ...(ratio !== undefined ? { neverRatio: ratio } : {}),
      ...(m[3] ? { delayMs: delayRange("product-come-back", m[3]) } : {}),
    };
  }
  if (seed === undefined && neverRatio === undefined && delay === undefined && Object.keys(byProduct).length === 0)
    return undefined;
  return {
    ...(seed !== undefined ? { seed } : {}),
    ...(neverRatio !== undefined ? { neverRatio } : {}),
    ...(delay !== undefined ? { delayMs: delayRange("return-delay-ms", delay) } : {}),
    ...(Object.keys(byProduct).length > 0 ? { byProduct } : {}),
  };
}

/**
 * One request of the log as `--verbose` prints it, e.g.
 * `2026-12-07T07:30:00.000Z POST QueryDevice HMAC-SHA1 -> 200 success RequestId=…`; a refused call shows `-` for
 * the signature kind (never verified) and its Code. Parameters are left out: they can be many, and the log has them.
 */
export function formatRequestLine(r: RecordedRequest): string {
  const action = r.action === "" ? "(no action)" : r.action;
  return `${new Date(r.time).toISOString()} ${r.method} ${action} ${r.signature ?? "-"} -> ${r.httpStatus} ${r.code ?? r.outcome} RequestId=${r.requestId}`;
}

function randomSecretForCli(): string {
  // Same shape as the library's default secret; the library generates one only when no credentials are given.
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  return Array.from({ length: 30 }, () => alphabet[Math.floor(Math.random() * alphabet.length)]).join("");
}

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseCli(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`iot-emulator: ${err.message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (parsed.help) {
    process.stdout.write(USAGE);
    return;
  }
  let emulator;
  try {
    emulator = await startEmulator({
      ...parsed.options,
      onWarning: (message) => process.stderr.write(`iot-emulator: WARNING: ${message}\n`),
      // On stderr, so that stdout keeps the one JSON line of --json.
      ...(parsed.verbose
        ? { onRequest: (r: RecordedRequest) => process.stderr.write(`${formatRequestLine(r)}\n`) }
        : {}),
    });
  } catch (err) {
    process.stderr.write(`iot-emulator: cannot start: ${(err as Error).message}\n`);
    process.exit(1);
  }
  const { accessKeyId, accessKeySecret } = emulator.credentials;
  if (parsed.json) {
    process.stdout.write(`${JSON.stringify({ endpoint: emulator.endpoint, accessKeyId, accessKeySecret })}\n`);
  } else {
    process.stdout.write(
      [
        `IoT Platform emulator listening on ${emulator.endpoint}`,
        `  SDK endpoint:      ${emulator.endpoint.replace(/^http:\/\//, "")} (protocol "http")`,
        `  AccessKey ID:      ${accessKeyId}`,
        `  AccessKey secret:  ${accessKeySecret}`,
        `Press Ctrl+C to stop.`,
        "",
      ].join("\n"),
    );
  }
  let stopping = false;
  const shutdown = (): void => {
    if (stopping) return;
    stopping = true;
    emulator.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on("SIGINT", shutdown);
  process.on("SIGTERM", shutdown);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`iot-emulator: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
