/**
 * Resets applied by IoT Platform whose answers are lost, under the real Pulumi CLI: never resent silently,
 * named in the error and in state, and sent exactly once more only when the operator asks.
 */
import { Emulator } from "../../emulator";
import { deviceKey } from "../../provider/shared/device-key";
import { TEST_KEY_ID, TEST_SECRET } from "../provider/support";
import { threadEmulator } from "./emulator-thread";
import { testStack, TestStack } from "./engine";
import { cohortFleet, cohortProgram } from "./programs/cohort";
import { deviceProgram } from "./programs/device";

const secrets = { "alicloud:accessKey": TEST_KEY_ID, "alicloud:secretKey": TEST_SECRET };
const emulators: Emulator[] = [];
let t: TestStack | undefined;
afterEach(async () => {
  for (const emu of emulators.splice(0)) await emu.stop();
  t?.dispose();
  t = undefined;
});

/** A second emulator on the same port (the endpoint is part of every reset's identity), without faults. */
async function cleanEmulatorAt(port: number, devices: number): Promise<Emulator> {
  const emu = await threadEmulator({ port });
  emu.addDevices(
    "a1Cohort",
    cohortFleet(devices).map((d) => ({ deviceName: d.deviceName })),
  );
  emulators.push(emu);
  return emu;
}

test("5,000 devices, 2% applyThenDrop and 1% applyThenHang: none reset twice, every unknown named; kept unsent until the resend setting, then sent exactly once more and marked", async () => {
  const N = 5000;
  const fleet = cohortFleet(N);
  const faulty = await threadEmulator({
    faults: { seed: 11, applyThenDrop: 0.02, applyThenHang: 0.01, actions: ["ResetThing"] },
  });
  emulators.push(faulty);
  faulty.addDevices(
    "a1Cohort",
    fleet.map((d) => ({ deviceName: d.deviceName })),
  );
  t = await testStack(cohortProgram);
  const config = {
    "alicloud:region": "cn-shanghai",
    endpoint: faulty.endpoint,
    devices: String(N),
    campaign: "c1",
    stage: "3",
    batchSize: "500",
    // A hung answer is given up after 6 s, not the default 10 s; not much less, or an answer slowed down by a
    // loaded machine is given up too, and its outcome is unknown for real.
    "iotReset:readTimeoutMs": "6000",
  };
  await t.stack.setConfig(config, secrets);
  const first = await t.stack.up();
  expect(first.exitCode).not.toBe(0);
  const keysOf = (emu: Emulator, outcome?: "fault" | "success") =>
    emu
      .requests({ action: "ResetThing", ...(outcome ? { outcome } : {}) })
      .map((r) => `${r.params.ProductKey}/${r.params.DeviceName}`);
  const lost = keysOf(faulty, "fault");
  // Applied: answered, or applied and then the answer lost (a quota refusal applies nothing and is retried).
  const sentBefore = new Set([...keysOf(faulty, "success"), ...lost]);
  expect(lost.length).toBeGreaterThan(50);
  for (const d of fleet) expect(faulty.resetCount(d)).toBeLessThanOrEqual(1);
  const errors = first.errors.join("\n");
  for (const key of lost) expect(errors).toContain(`unknown outcome: ${key}: sent at `);
  const inState = new Set<string>();
  for (const r of await t.stack.resources())
    for (const key of Object.keys((r.outputs?.unknownOutcomes as object | undefined) ?? {})) inState.add(key);
  expect([...inState].sort()).toEqual([...lost].sort());

  // The same endpoint, now without faults: the unknown devices are not sent again by default.
  const port = faulty.port;
  await faulty.stop();
  emulators.splice(emulators.indexOf(faulty), 1);
  const clean = await cleanEmulatorAt(port, N);
  const second = await t.stack.up();
  expect(second.exitCode).not.toBe(0);
  // The engine starts no new step after the first failure, so a batch not started in the first run may send now;
  // none of what it sends is a device with an unknown outcome.
  const secondSent = keysOf(clean);
  expect(secondSent.filter((k) => inState.has(k))).toEqual([]);
  for (const k of keysOf(clean, "success")) sentBefore.add(k);

  // Asked to resend: each unknown device exactly once more, recorded as possibly reset twice.
  clean.clearRequests();
  await t.stack.mergeConfig({ "iotReset:resendUnknown": "all" });
  const third = await t.stack.up();
  expect(third.errors).toEqual([]);
  const neverSent = fleet.map(deviceKey).filter((k) => !sentBefore.has(k));
  expect(keysOf(clean, "success").sort()).toEqual([...lost, ...neverSent].sort());
  // Besides, only quota refusals, retried: a pause of the provider host can bunch paced calls in the server's window.
  const refused = clean.requests({ action: "ResetThing" }).filter((r) => r.outcome !== "success");
  expect(refused.filter((r) => r.outcome !== "throttled")).toEqual([]);
  const marked = new Set<string>();
  for (const r of await t.stack.resources()) {
    const results = (r.outputs?.results ?? {}) as Record<string, { mayBeResetTwice?: boolean }>;
    for (const [key, record] of Object.entries(results)) if (record.mayBeResetTwice) marked.add(key);
  }
  expect([...marked].sort()).toEqual([...lost].sort());
  // Across both emulators (the stopped one keeps its counts): the lost-answer devices twice (applied, then
  // resent on request), every other device once.
  for (const d of fleet) {
    const total = faulty.resetCount(d) + clean.resetCount(d);
    expect(total).toBe(lost.includes(deviceKey(d)) ? 2 : 1);
  }
}, 600_000);

test("a gateway whose answer is lost never gets a second topology job by default", async () => {
  const emu = await threadEmulator({ jobDurationMs: 200 });
  emulators.push(emu);
  t = await testStack(deviceProgram);
  await t.stack.setConfig(
    {
      "alicloud:region": "cn-shanghai",
      endpoint: emu.endpoint,
      productKey: "a1DemoProduct",
      deviceName: "gateway-01",
    },
    secrets,
  );
  emu.scriptFaults("ResetThing", "applyThenDrop", 1);
  const first = await t.stack.up();
  expect(first.exitCode).not.toBe(0);
  expect(first.errors.join("\n")).toContain("unknown outcome");
  expect(emu.jobs()).toHaveLength(1);
  for (let run = 0; run < 2; run++) {
    const again = await t.stack.up();
    expect(again.exitCode).not.toBe(0);
    expect(again.errors.join("\n")).toContain("a1DemoProduct/gateway-01");
  }
  expect(emu.requests({ action: "ResetThing" })).toHaveLength(1);
  expect(emu.jobs()).toHaveLength(1);
}, 300_000);
