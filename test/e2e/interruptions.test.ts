/**
 * Exactly once through kills and interruptions, under the real Pulumi CLI: a `pulumi up` SIGKILLed at seeded
 * moments (then its lock removed and the update run again), and one Ctrl-C. Every device must end up reset
 * exactly once, and nothing may leave the provider host more than a second after its engine died.
 *
 * The fleet size and the number of kills default to what fits `npm test`; IOT_RESET_E2E_KILL_DEVICES and
 * IOT_RESET_E2E_KILLS raise them (e.g. 20,000 devices and 5 kills; CONTRIBUTING.md, "Larger runs").
 */
import * as fs from "fs";
import * as path from "path";
import { Emulator } from "../../emulator";
import { RunResult } from "../../engine/stack";
import { TEST_KEY_ID, TEST_SECRET } from "../provider/support";
import { threadEmulator } from "./emulator-thread";
import { testStack, TestStack } from "./engine";
import { alive, providerHosts, pulumiCli, waitFor } from "./processes";
import { cohortFleet, cohortProgram } from "./programs/cohort";

const DEVICES = Number(process.env.IOT_RESET_E2E_KILL_DEVICES ?? 3000);
const KILLS = Number(process.env.IOT_RESET_E2E_KILLS ?? 2);
const SEED = 20261127;

let emu: Emulator;
let t: TestStack;
beforeEach(async () => {
  emu = await threadEmulator({ latency: { fixedMs: 20, jitterMs: 10 } });
  emu.addDevices(
    "a1Cohort",
    cohortFleet(DEVICES).map((d) => ({ deviceName: d.deviceName })),
  );
  t = await testStack(cohortProgram);
  await t.stack.setConfig(
    {
      "alicloud:region": "cn-shanghai",
      endpoint: emu.endpoint,
      devices: String(DEVICES),
      campaign: "c1",
      stage: "3",
      batchSize: "500",
    },
    { "alicloud:accessKey": TEST_KEY_ID, "alicloud:secretKey": TEST_SECRET },
  );
});
afterEach(async () => {
  for (const host of providerHosts()) process.kill(host.pid, "SIGKILL");
  await emu.stop();
  t.dispose();
});

/** A small seeded generator (mulberry32), so the kill moments are the same on every run. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** The lock a killed CLI leaves under the backend; the next update refuses to start while it is there. */
function removeLocks(): number {
  const locks = path.join(t.dir, "backend", ".pulumi", "locks");
  if (!fs.existsSync(locks)) return 0;
  let removed = 0;
  for (const entry of fs.readdirSync(locks, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) {
      fs.rmSync(path.join(entry.parentPath, entry.name));
      removed++;
    }
  }
  return removed;
}

/** Resets applied so far: a counter, cheap enough to poll while the emulator serves 500 calls a second. */
const successes = () => emu.totalResets();

test(`a pulumi up SIGKILLed ${KILLS} times at seeded moments, then run to the end: ${DEVICES} devices each reset exactly once, nothing sent a second after a kill`, async () => {
  const random = seeded(SEED);
  for (let kill = 0; kill < KILLS; kill++) {
    const before = successes();
    // Somewhere in the middle of what is left, so every kill lands while resets are flowing.
    const target = before + Math.floor((DEVICES - before) * (0.2 + 0.5 * random()));
    let settled: RunResult | undefined;
    const running = t.stack.up().then((r) => (settled = r));
    await waitFor(() => successes() >= target || settled !== undefined, 300_000);
    // The update must still be running when the kill comes; if it ended, its errors say why.
    expect(settled?.errors ?? []).toEqual([]);
    expect(successes()).toBeGreaterThanOrEqual(target);
    const cli = pulumiCli();
    const hosts = providerHosts(cli?.pid);
    expect(cli).toBeDefined();
    expect(hosts).toHaveLength(1);
    process.kill(cli?.pid as number, "SIGKILL");
    const killedAt = Date.now();
    const result = await running;
    expect(result.exitCode).not.toBe(0);
    // The orphaned host stops sending and exits by itself.
    expect(await waitFor(() => hosts.every((h) => !alive(h.pid)), 15_000)).toBe(true);
    const late = emu.requests({ action: "ResetThing" }).filter((r) => r.time > killedAt + 1000);
    expect(late).toEqual([]);
    expect(removeLocks()).toBeGreaterThan(0);
  }
  const last = await t.stack.up();
  expect(last.errors).toEqual([]);
  expect(last.exitCode).toBe(0);
  const fleet = cohortFleet(DEVICES);
  const counts = new Map<number, number>();
  for (const d of fleet) {
    const n = emu.resetCount(d);
    counts.set(n, (counts.get(n) ?? 0) + 1);
  }
  expect(Object.fromEntries(counts)).toEqual({ 1: DEVICES });
  const again = await t.stack.up();
  expect(again.exitCode).toBe(0);
  // Every request but the quota refusals (retried; they reset nothing) reset a device.
  expect(emu.requests({ action: "ResetThing" }).filter((r) => r.outcome !== "throttled").length).toBe(successes());
}, 900_000);

/**
 * The devices of every ResetThing request the emulator executed, in order, once per request: quota refusals are left
 * out (the pacer fills the server's window to its 2% headroom, so a stall can get a few refused; they reset nothing
 * and are retried).
 */
function executedResets(): string[] {
  return emu
    .requests({ action: "ResetThing" })
    .filter((r) => r.outcome !== "throttled")
    .map((r) => `${r.params.ProductKey}/${r.params.DeviceName}`);
}

test("one Ctrl-C mid-update: the steps under way finish and are recorded, the CLI exits non-zero, and the next update sends exactly the devices not yet sent", async () => {
  // Batches of 100: more than the CLI runs at once (--parallel 4 × CPUs), so some are not started at the Ctrl-C.
  await t.stack.mergeConfig({ batchSize: "100" });
  const running = t.stack.up();
  expect(await waitFor(() => successes() >= DEVICES / 3, 120_000)).toBe(true);
  const cli = pulumiCli();
  const hosts = providerHosts(cli?.pid);
  expect(hosts).toHaveLength(1);
  // A terminal's Ctrl-C reaches the CLI; the engine starts its provider host in a process group of its own.
  process.kill(cli?.pid as number, "SIGINT");
  const interrupted = await running;
  expect(interrupted.exitCode).not.toBe(0);
  // Read what was sent only once the provider host is gone: a call it sent while the CLI exited would land after a
  // read made earlier, then be cleared from the log unseen, and the next update would rightly not send it again.
  expect(await waitFor(() => hosts.every((h) => !alive(h.pid)), 15_000)).toBe(true);
  const sentBefore = new Set(executedResets());
  expect(sentBefore.size).toBeLessThan(DEVICES);
  emu.clearRequests();
  const next = await t.stack.up();
  expect(next.errors).toEqual([]);
  const sentNow = executedResets();
  const notYetSent = cohortFleet(DEVICES)
    .map((d) => `${d.productKey}/${d.deviceName}`)
    .filter((k) => !sentBefore.has(k));
  expect(sentNow.sort()).toEqual(notYetSent.sort());
  for (const d of cohortFleet(DEVICES)) expect(emu.resetCount(d)).toBe(1);
}, 600_000);
