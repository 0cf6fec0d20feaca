// A provider process killed in the middle of a batch leaves a journal with "sending" and "reset" lines; the next
// create, in a new process, sends only the devices never sent, records the journal's resets without sending, and
// reports the devices sent without a recorded answer as unknown outcomes. The killed process runs the compiled
// provider (build first with `npx tsc -p tsconfig.json`, as `npm test` does).
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import * as path from "node:path";
import { Emulator } from "../../emulator";
import * as batch from "../../provider/host/batch-reset";
import { PartialResetError } from "../../provider/shared/errors";
import { readJournal } from "../../provider/host/journal-file";
import { configFor, context, journalPath, programDir, TEST_STACK, slowEmulatorWith, testFleet } from "./support";

const LIB = path.join(__dirname, "..", "..", "lib", "provider", "host");
const N = 200;
const fleet = testFleet("a1Crash", N);
const keyOf = (d: { productKey: string; deviceName: string }) => `${d.productKey}/${d.deviceName}`;

/** The script of the process that gets killed: one batch create, as the host would run it. */
const CHILD = `
const { ProviderContext } = require(${JSON.stringify(path.join(LIB, "provider-context.js"))});
const batch = require(${JSON.stringify(path.join(LIB, "batch-reset.js"))});
const { config, dir, identity, inputs } = JSON.parse(process.env.CRASH_TEST_INPUT);
const ctx = new ProviderContext({}, dir);
ctx.configure((k) => config[k], identity);
batch.create(ctx, inputs).then(() => process.exit(0), () => process.exit(0));
`;

let emu: Emulator;
beforeAll(() => {
  if (!existsSync(path.join(LIB, "batch-reset.js")))
    throw new Error(`${LIB} is missing: run \`npx tsc -p tsconfig.json\` first`);
});
beforeEach(async () => {
  // Slow answers and a low rate, so that the kill finds resets in flight.
  emu = await slowEmulatorWith(fleet, 150);
});
afterEach(() => emu.stop());

test("after a kill, the next create sends only what was never sent and names what was sent without an answer", async () => {
  const config = configFor(emu, { "iotReset:resetQps": "60" });
  const inputs = { campaign: "rotation-9", devices: fleet, endpoint: emu.endpoint };
  const child = spawn(process.execPath, ["-e", CHILD], {
    env: {
      ...process.env,
      CRASH_TEST_INPUT: JSON.stringify({ config, dir: programDir(emu), identity: TEST_STACK, inputs }),
    },
    stdio: "ignore",
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on("exit", (_code, signal) => resolve(signal)));
  const deadline = Date.now() + 20_000;
  while (emu.totalResets() < 40 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  child.kill("SIGKILL");
  expect(await exited).toBe("SIGKILL");
  const firstRun = emu.requests({ action: "ResetThing" });
  expect(firstRun.length).toBeGreaterThanOrEqual(40);
  expect(firstRun.length).toBeLessThan(N);

  // What the killed process left: per device, its last line.
  const left = readJournal(journalPath(emu));
  const last = new Map<string, string>();
  for (const e of left.entries) last.set(e.device, e.ev);
  const journaledReset = [...last].filter(([, ev]) => ev === "reset").map(([k]) => k);
  const sendingOnly = [...last]
    .filter(([, ev]) => ev === "sending")
    .map(([k]) => k)
    .sort();
  expect(journaledReset.length).toBeGreaterThan(0);
  expect(sendingOnly.length).toBeGreaterThan(0);
  expect([...last.values()].every((ev) => ev === "reset" || ev === "sending")).toBe(true);
  const neverSent = fleet.map(keyOf).filter((k) => !last.has(k));

  // The next create, in a new process (a new context; the killed process's lock is taken over).
  await new Promise((r) => setTimeout(r, 300)); // in-flight answers reach the dead socket
  emu.clearRequests();
  const error = await batch.create(context(config), inputs).catch((e) => e);
  expect(error).toBeInstanceOf(PartialResetError);
  expect(
    emu
      .requests({ action: "ResetThing" })
      .map((r) => `${r.params.ProductKey}/${r.params.DeviceName}`)
      .sort(),
  ).toEqual(neverSent.sort());
  const { results, unknownOutcomes } = error.properties;
  expect(Object.keys(results).sort()).toEqual([...journaledReset, ...neverSent].sort());
  for (const key of journaledReset) {
    const line = left.entries.find((e) => e.device === key && e.ev === "reset") as { requestId: string };
    expect(results[key].requestId).toBe(line.requestId);
  }
  expect(Object.keys(unknownOutcomes).sort()).toEqual(sendingOnly);
  for (const key of sendingOnly) {
    expect(unknownOutcomes[key]).toEqual({
      sentAt: expect.any(String),
      attempt: 1,
      error: "the provider process stopped before the answer arrived (found in the reset journal)",
    });
    expect(error.message).toContain(`unknown outcome: ${key}: sent at ${unknownOutcomes[key].sentAt} (attempt 1)`);
  }
  expect(error.message.split("\n")[0]).toBe(
    `${N - sendingOnly.length} of ${N} devices of this batch reset and recorded; 0 left for the next update; ` +
      `${sendingOnly.length} with an unknown outcome, not sent again until you decide:`,
  );
  // No device was reset twice; every device sent after the kill was reset once.
  for (const d of fleet) expect(emu.resetCount(d)).toBeLessThanOrEqual(1);
  for (const key of [...journaledReset, ...neverSent]) {
    const [productKey, deviceName] = key.split("/") as [string, string];
    expect(emu.resetCount({ productKey, deviceName })).toBe(1);
  }
}, 60_000);
