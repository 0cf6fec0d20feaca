/** Shared set-up for provider tests: an emulator on port 0 and a provider context configured for it. */
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import Credential, { Config as CredentialConfig } from "@alicloud/credentials";
import { Emulator, startEmulator, EmulatorOptions } from "../../emulator";
import { IotApi, SendGate } from "../../provider/host/iot-api";
import { Pacers } from "../../provider/host/pacer";
import { ProviderContext } from "../../provider/host/provider-context";
import { ProviderSettings, readSettings } from "../../provider/host/settings";

export const TEST_SECRET = "TestSecret-7f3a9c1e5b2d4086";
export const TEST_KEY_ID = "LTAIProviderTest0001";
/** The project and stack the test provider contexts run for (what the serialized provider passes on). */
export const TEST_STACK = { project: "iot-reset-test", stack: "test" };

/**
 * The provider's client for an `http://` endpoint with the test key, built directly rather than through a provider
 * context, for tests that replace its settings, its stop switch or its pacers.
 */
export function directApi(
  endpoint: string,
  parts: { settings?: Partial<ProviderSettings>; gate?: SendGate; pacers?: Pacers } = {},
): IotApi {
  return new IotApi(
    { region: "cn-shanghai", endpoint: endpoint.replace("http://", ""), protocol: "http" },
    new Credential(
      new CredentialConfig({ type: "access_key", accessKeyId: TEST_KEY_ID, accessKeySecret: TEST_SECRET }),
    ),
    { ...readSettings(() => undefined), ...parts.settings },
    parts.gate ?? new SendGate(),
    parts.pacers ?? new Pacers(),
  );
}

/** Starts an emulator with known test credentials. */
export function emulator(options: EmulatorOptions = {}): Promise<Emulator> {
  return startEmulator({ credentials: [{ accessKeyId: TEST_KEY_ID, accessKeySecret: TEST_SECRET }], ...options });
}

/** `count` devices of one product, named `dev-0000`, `dev-0001`, … */
export function testFleet(productKey: string, count: number): Array<{ productKey: string; deviceName: string }> {
  return Array.from({ length: count }, (_, i) => ({ productKey, deviceName: `dev-${String(i).padStart(4, "0")}` }));
}

/** An emulator whose answers take `latencyMs`, holding the devices of `fleet` (one product). */
export async function slowEmulatorWith(
  fleet: ReadonlyArray<{ productKey: string; deviceName: string }>,
  latencyMs: number,
): Promise<Emulator> {
  const emu = await emulator({ latency: { fixedMs: latencyMs } });
  emu.addDevices(
    fleet[0]?.productKey ?? "",
    fleet.map(({ deviceName }) => ({ deviceName })),
  );
  return emu;
}

/** A scratch program directory per emulator, so that each test has its own reset journal. */
const programDirs = new WeakMap<Emulator, string>();

/** The program directory of a test: the default journal is `.iot-reset/journal-iot-reset-test-test.jsonl` in it. */
export function programDir(emu: Emulator): string {
  let dir = programDirs.get(emu);
  if (!dir) {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "iot-reset-provider-"));
    programDirs.set(emu, dir);
  }
  return dir;
}

/** The default journal path of a test's program directory. */
export function journalPath(emu: Emulator): string {
  return path.join(programDir(emu), ".iot-reset", "journal-iot-reset-test-test.jsonl");
}

/**
 * A provider context as the host builds it, with stack config and the program's project and stack; no environment
 * credentials or region. Each call is a new provider process: its own settings, pacers and update guard.
 */
export function context(config: Record<string, string>, dir?: string): ProviderContext {
  const ctx = new ProviderContext({}, dir ?? config["test:programDir"] ?? os.tmpdir());
  ctx.configure((key) => config[key], TEST_STACK);
  return ctx;
}

/** Stack config that points at an emulator, with fast retries and polls for tests. */
export function configFor(emu: Emulator, extra: Record<string, string> = {}): Record<string, string> {
  return {
    "alicloud:region": "cn-shanghai",
    "alicloud:accessKey": TEST_KEY_ID,
    "alicloud:secretKey": TEST_SECRET,
    "iotReset:readTimeoutMs": "5000",
    "iotReset:jobPollSeconds": "0.05",
    // Not a setting the provider reads: where context() puts this test's program directory.
    "test:programDir": programDir(emu),
    ...extra,
  };
}

/** The parameters the emulator received for each call of an action, in order. */
export function sent(emu: Emulator, action = "ResetThing"): Array<Record<string, string>> {
  return emu.requests({ action }).map((r) => r.params);
}

/** A loopback server a test controls: what it answers, and what reached it. */
export interface FakeServer {
  /** `http://127.0.0.1:<port>`. */
  readonly endpoint: string;
  /** Requests read so far. */
  count(): number;
  /** Connections accepted so far. */
  connections(): number;
  /** Connections open now. */
  open(): number;
  /** Closes every connection and the server. */
  close(): Promise<void>;
}

/** A loopback server on port 0 that reads each request, counts it, then does `answer` with it. */
export async function fakeServer(
  answer: (req: http.IncomingMessage, res: http.ServerResponse) => void,
): Promise<FakeServer> {
  let n = 0;
  let connections = 0;
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      n++;
      answer(req, res);
    });
  });
  server.on("connection", (s) => {
    connections++;
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  // Idle connections are kept a minute, as the emulator does: a test sees the client close them, not this server.
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    count: () => n,
    connections: () => connections,
    open: () => sockets.size,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
