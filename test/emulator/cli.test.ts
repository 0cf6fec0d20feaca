// The `iot-emulator` CLI as a user runs it: the compiled lib/emulator/cli.js (build first with
// `npx tsc -p tsconfig.json`), one JSON line when ready, one SDK call, SIGTERM, exit 0.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync } from "node:fs";
import * as path from "node:path";
import { BatchGetDeviceStateRequest, ResetThingRequest } from "@alicloud/iot20180120";
import { parseCli } from "../../emulator/cli";
import { FAULT_KINDS, FAULTS } from "../../emulator/faults";
import { sdkClient } from "./helpers";

const CLI = path.join(__dirname, "..", "..", "lib", "emulator", "cli.js");

function run(args: string[]): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, [CLI, ...args], { stdio: "pipe" });
}

function firstLine(child: ChildProcessWithoutNullStreams): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`no line from the CLI within 10 s; got "${out}"`)), 10_000);
    child.stdout.on("data", (c: Buffer) => {
      out += c.toString("utf8");
      const nl = out.indexOf("\n");
      if (nl >= 0) {
        clearTimeout(timer);
        resolve(out.slice(0, nl));
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`CLI exited with ${code} before printing`));
    });
  });
}

function exitOf(child: ChildProcessWithoutNullStreams): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString("utf8")));
    child.on("exit", (code) => resolve({ code, stderr }));
  });
}

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npx tsc -p tsconfig.json\` first`);
});

test("--json --port 0 prints one JSON line, serves the SDK, and exits 0 on SIGTERM", async () => {
  const child = run(["--json", "--port", "0"]);
  const exited = exitOf(child);
  const line = await firstLine(child);
  const info = JSON.parse(line) as { endpoint: string; accessKeyId: string; accessKeySecret: string };
  expect(Object.keys(info)).toEqual(["endpoint", "accessKeyId", "accessKeySecret"]);
  expect(info.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  expect(info.accessKeyId).toBe("LTAIEmulatorTestKey01");
  expect(info.accessKeySecret).toMatch(/^[A-Za-z0-9]{30}$/);
  const res = await sdkClient({ endpoint: info.endpoint, credentials: info }).resetThing(
    new ResetThingRequest({ productKey: "a1DemoProduct", deviceName: "sensor-001" }),
  );
  expect(res.body?.success).toBe(true);
  child.kill("SIGTERM");
  expect((await exited).code).toBe(0);
});

test("a bad flag is refused with exit 2 and a message naming it", async () => {
  const { code, stderr } = await exitOf(run(["--port", "99999"]));
  expect(code).toBe(2);
  expect(stderr.split("\n")[0]).toBe('iot-emulator: `--port` must be an integer from 0 to 65535, got "99999"');
  const rate = await exitOf(run(["--drop-rate", "2"]));
  expect(rate.code).toBe(2);
  expect(rate.stderr.split("\n")[0]).toBe('iot-emulator: `--drop-rate` must be a number from 0 to 1, got "2"');
  const unknown = await exitOf(run(["--frobnicate"]));
  expect(unknown.code).toBe(2);
  expect(unknown.stderr.split("\n")[0]).toContain("--frobnicate");
});

test("a fleet file that does not exist is exit 1 naming the file", async () => {
  const { code, stderr } = await exitOf(run(["--port", "0", "--fleet", "/nonexistent/fleet.json"]));
  expect(code).toBe(1);
  expect(stderr).toContain("fleet file /nonexistent/fleet.json cannot be read");
});

test("every fault kind has a rate flag; the apply-then faults parse like the others", () => {
  const { options } = parseCli(["--seed", "5", "--apply-then-drop-rate", "0.02", "--apply-then-hang-rate", "0.01"]);
  expect(options.faults).toEqual({ seed: 5, applyThenDrop: 0.02, applyThenHang: 0.01 });
  expect(() => parseCli(["--apply-then-hang-rate", "0.6", "--drop-rate", "0.5"])).toThrow(
    "the fault rates (`--*-rate`) must add up to at most 1, got 1.1",
  );
});

test("--help lists one rate flag per fault kind, in the table's order with its help line, each setting that rate", () => {
  const help = spawnSync(process.execPath, [CLI, "--help"], { encoding: "utf8" }).stdout;
  const listed = [...help.matchAll(/^ {2}(--[a-z-]+-rate) R +(.+)$/gm)].map(([, flag, text]) => ({ flag, text }));
  expect(listed.map((l) => l.text)).toEqual(FAULT_KINDS.map((kind) => FAULTS[kind].help));
  expect(listed.map((l) => parseCli([l.flag as string, "0.25"]).options.faults)).toEqual(
    FAULT_KINDS.map((kind) => ({ [kind]: 0.25 })),
  );
});

test("the come-back flags parse into the comeBack option, per product too", () => {
  const { options } = parseCli([
    "--never-return-ratio",
    "0.2",
    "--return-delay-ms",
    "1000..5000",
    "--come-back-seed",
    "42",
    "--product-come-back",
    "a1Cams:0.5:",
    "--product-come-back",
    "a1Meters::60000",
  ]);
  expect(options.comeBack).toEqual({
    seed: 42,
    neverRatio: 0.2,
    delayMs: { minMs: 1000, maxMs: 5000 },
    byProduct: { a1Cams: { neverRatio: 0.5 }, a1Meters: { delayMs: { minMs: 60000, maxMs: 60000 } } },
  });
  expect(parseCli([]).options.comeBack).toBeUndefined();
  expect(() => parseCli(["--return-delay-ms", "5000..1000"])).toThrow(
    '`--return-delay-ms` must be MIN..MAX or N, whole ms with MIN <= MAX, got "5000..1000"',
  );
  expect(() => parseCli(["--product-come-back", "a1Cams=0.5"])).toThrow(
    '`--product-come-back` must look like PRODUCTKEY:RATIO:MIN..MAX (e.g. a1Cams:0.2:1000..5000), got "a1Cams=0.5"',
  );
  expect(() => parseCli(["--never-return-ratio", "1.5"])).toThrow(
    '`--never-return-ratio` must be a number from 0 to 1, got "1.5"',
  );
});

test("a CLI started with --return-delay-ms keeps a reset device OFFLINE, as BatchGetDeviceState reports", async () => {
  const child = run(["--json", "--port", "0", "--return-delay-ms", "600000"]);
  const exited = exitOf(child);
  try {
    const info = JSON.parse(await firstLine(child)) as {
      endpoint: string;
      accessKeyId: string;
      accessKeySecret: string;
    };
    const client = sdkClient({ endpoint: info.endpoint, credentials: info });
    const ref = { productKey: "a1DemoProduct", deviceName: "sensor-002" };
    await client.resetThing(new ResetThingRequest(ref));
    const res = await client.batchGetDeviceState(
      new BatchGetDeviceStateRequest({ productKey: ref.productKey, deviceName: [ref.deviceName, "sensor-003"] }),
    );
    expect(res.body?.deviceStatusList?.deviceStatus?.map((d) => d.status)).toEqual(["OFFLINE", "ONLINE"]);
  } finally {
    child.kill("SIGTERM");
  }
  expect((await exited).code).toBe(0);
});

test("--verbose prints one line per request on stderr: method, action, signature kind, status, Code, RequestId", async () => {
  const child = run(["--json", "--port", "0", "--verbose"]);
  const exited = exitOf(child);
  const info = JSON.parse(await firstLine(child)) as { endpoint: string; accessKeyId: string; accessKeySecret: string };
  await sdkClient({ endpoint: info.endpoint, credentials: info }, { signatureAlgorithm: "v2" }).resetThing(
    new ResetThingRequest({ productKey: "a1DemoProduct", deviceName: "sensor-001" }),
  );
  await sdkClient({ endpoint: info.endpoint, credentials: info }, { accessKeySecret: "wrong" })
    .resetThing(new ResetThingRequest({ productKey: "a1DemoProduct", deviceName: "sensor-001" }))
    .catch(() => undefined);
  child.kill("SIGTERM");
  const { code, stderr } = await exited;
  expect(code).toBe(0);
  const lines = stderr.trim().split("\n");
  const requestLine =
    /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (\S+) (\S+) (\S+) -> (\d+) (\S+) RequestId=[0-9A-F-]{36}$/;
  expect(lines.map((l) => requestLine.exec(l)?.slice(1))).toEqual([
    ["POST", "ResetThing", "HMAC-SHA1", "200", "success"],
    ["POST", "ResetThing", "-", "400", "SignatureDoesNotMatch"],
  ]);
  expect(stderr).not.toContain(info.accessKeySecret);
});
