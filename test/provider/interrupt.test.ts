// SIGINT to the provider host: the engine sends one when it closes the host at the end of every operation (and kills
// it 5 s later), and a supervisor may send one mid-update. The host stops sending at once, lets the operations under
// way end with what was sent recorded, and exits as soon as none is left. The host runs compiled (build first with
// `npx tsc -p tsconfig.json`, as `npm test` does).
import { ChildProcess, spawn } from "node:child_process";
import * as path from "node:path";
import { Emulator } from "../../emulator";
import { configFor, programDir, slowEmulatorWith, TEST_STACK, testFleet } from "./support";

const HOST = path.join(__dirname, "..", "..", "lib", "provider", "host", "index.js");
const N = 100;
const fleet = testFleet("a1Intr", N);

/**
 * The host module in a process of its own, as the dynamic-provider host loads it; with `inputs`, one batch create
 * whose outcome it prints as a JSON line. It prints `ready` once loaded.
 */
const CHILD = `
const host = require(${JSON.stringify(HOST)});
const { config, identity, inputs } = JSON.parse(process.env.INTERRUPT_TEST_INPUT);
host.batchReset
  .configure({ config: { get: (k) => config[k] }, ...identity })
  .then(() => {
    process.stdout.write("ready\\n");
    if (!inputs) return setInterval(() => undefined, 1000);
    return host.batchReset.create(inputs).then(
      (r) => process.stdout.write(JSON.stringify({ recorded: Object.keys(r.outs.results).length }) + "\\n"),
      (e) => process.stdout.write(JSON.stringify({ error: e.name, recorded: Object.keys(e.properties?.results ?? {}).length }) + "\\n"),
    );
  });
`;

interface Host {
  readonly child: ChildProcess;
  readonly lines: string[];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startHost(emu: Emulator, inputs?: unknown): Host {
  const config = configFor(emu, { "iotReset:resetQps": "20" });
  const child = spawn(process.execPath, ["-e", CHILD], {
    cwd: programDir(emu),
    env: { ...process.env, INTERRUPT_TEST_INPUT: JSON.stringify({ config, identity: TEST_STACK, inputs }) },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines: string[] = [];
  let partial = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    const parts = (partial + chunk.toString()).split("\n");
    partial = parts.pop() ?? "";
    lines.push(...parts);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal })),
  );
  return { child, lines, exited };
}

async function until(condition: () => boolean, boundMs: number): Promise<void> {
  const deadline = Date.now() + boundMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`not reached within ${boundMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

let emu: Emulator;
beforeEach(async () => {
  emu = await slowEmulatorWith(fleet, 100);
});
afterEach(() => emu.stop());

test("an idle host exits on the first SIGINT, with code 0", async () => {
  const host = startHost(emu);
  try {
    await until(() => host.lines.includes("ready"), 30_000);
    host.child.kill("SIGINT");
    expect(await host.exited).toEqual({ code: 0, signal: null });
  } finally {
    host.child.kill("SIGKILL");
  }
});

test("SIGINT mid-create: nothing more is sent, the create ends with every reset recorded, then the host exits", async () => {
  const host = startHost(emu, { campaign: "c1", devices: fleet, endpoint: emu.endpoint });
  try {
    await until(() => emu.totalResets() >= 10, 30_000);
    host.child.kill("SIGINT");
    expect(await host.exited).toEqual({ code: 0, signal: null });
    const sent = emu.requests({ action: "ResetThing" });
    expect(sent.length).toBeLessThan(N);
    const outcome = JSON.parse(host.lines.find((l) => l.startsWith("{")) as string) as {
      error: string;
      recorded: number;
    };
    expect(outcome).toEqual({ error: "PartialResetError", recorded: emu.totalResets() });
    expect(sent.filter((r) => r.outcome === "success")).toHaveLength(emu.totalResets());
  } finally {
    host.child.kill("SIGKILL");
  }
});
