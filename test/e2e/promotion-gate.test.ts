/**
 * The promotion gate end to end under the real Pulumi CLI: 2,000 emulated devices, a 10% canary, devices that come
 * back after their reset (or never, for a seeded share), and the gate that decides whether stage 2 may start.
 */
import { Emulator } from "../../emulator";
import { RunResult } from "../../engine/stack";
import { planStages } from "../../provider/shared/selection";
import { deviceKey } from "../../provider/shared/device-key";
import { TEST_KEY_ID, TEST_SECRET } from "../provider/support";
import { threadEmulator } from "./emulator-thread";
import { testStack, TestStack } from "./engine";
import { cohortFleet } from "./programs/cohort";
import { GATED_STAGES, gatedCohortProgram } from "./programs/gated-cohort";

const N = 2000;
const fleet = cohortFleet(N);
const [canary, rest] = planStages(fleet, GATED_STAGES, 2, 500, 2).map((s) =>
  s.batches.flatMap((b) => b.devices.map(deviceKey)).sort(),
) as [string[], string[]];

let emu: Emulator;
let t: TestStack;
afterEach(async () => {
  await emu.stop();
  t.dispose();
});

/** Starts the emulator with the fleet, devices coming back within 1.5 s of their reset except `neverRatio` of them. */
async function start(neverRatio: number): Promise<void> {
  emu = await threadEmulator({ comeBack: { neverRatio, delayMs: { minMs: 0, maxMs: 1500 }, seed: 7 } });
  emu.addDevices(
    "a1Cohort",
    fleet.map((d) => ({ deviceName: d.deviceName })),
  );
  t = await testStack(gatedCohortProgram);
}

async function run(config: Record<string, string>, op: "up" | "preview" = "up"): Promise<RunResult> {
  await t.stack.setConfig(
    {
      "alicloud:region": "cn-shanghai",
      "iotReset:gatePollSeconds": "1",
      endpoint: emu.endpoint,
      devices: String(N),
      campaign: "c1",
      stage: "1",
      minOnlineRatio: "0.9",
      waitMinutes: "0.1",
      ...config,
    },
    { "alicloud:accessKey": TEST_KEY_ID, "alicloud:secretKey": TEST_SECRET },
  );
  return op === "up" ? t.stack.up() : t.stack.preview();
}

const resetKeys = () =>
  emu
    .requests({ action: "ResetThing", outcome: "success" })
    .map((r) => `${r.params.ProductKey}/${r.params.DeviceName}`);

/** The devices each BatchGetDeviceState call read, in order. */
const stateReads = () =>
  emu.requests({ action: "BatchGetDeviceState" }).map((r) =>
    Object.entries(r.params)
      .filter(([k]) => k.startsWith("DeviceName."))
      .map(([, name]) => `${r.params.ProductKey}/${name}`),
  );

/** The canary devices the seeded draw never brings back. */
const neverBack = () =>
  canary.filter((key) => emu.comeBackPlan({ productKey: "a1Cohort", deviceName: key.split("/")[1] as string }).never);

describe("promotion gate under the Pulumi CLI", () => {
  test("20% of the canary never come back: stage 2 fails before any stage-2 reset, with the exact counts; a lower bar lets it start", async () => {
    await start(0.2);
    const first = await run({});
    expect(first.errors).toEqual([]);
    expect(resetKeys().sort()).toEqual(canary);
    const lost = neverBack();
    const back = canary.length - lost.length;
    const needed = Math.ceil(0.9 * canary.length);
    expect(back).toBeLessThan(needed);

    // The preview says the gate will be checked, and reads nothing.
    emu.clearRequests();
    const preview = await run({ stage: "2" }, "preview");
    expect(preview.exitCode).toBe(0);
    expect(preview.infos).toContain(
      'iot-reset: promotion gate of stage 2 of cohort "fleet" (campaign "c1"): before any device of stage 2 is reset, ' +
        "the devices reset by earlier stages are read (BatchGetDeviceState); the stage starts once 90.0% of them came " +
        "back online, waiting up to 0.1 minute(s).",
    );
    expect(emu.requests()).toEqual([]);

    const gated = await run({ stage: "2" });
    expect(gated.exitCode).not.toBe(0);
    const named = lost.slice(0, 10).join(", ") + ` and ${lost.length - 10} more`;
    expect(gated.stderr + gated.stdout).toContain(
      `promotion gate of stage 2 of cohort "fleet" (campaign "c1") did not open: ${back} of ${canary.length} devices ` +
        `reset by earlier stages came back online within 0.1 minute(s) (${((back / canary.length) * 100).toFixed(1)}%); ` +
        `minOnlineRatio 0.9 needs ${needed}. No device of stage 2 was reset. Not back: ${named}.`,
    );
    expect(emu.requests({ action: "ResetThing" })).toEqual([]);
    // The first round reads every canary device once, 50 per call; each later round only those not back yet.
    const reads = stateReads();
    const firstRound = Math.ceil(canary.length / 50);
    expect(reads.slice(0, firstRound).flat().sort()).toEqual(canary);
    expect(reads.every((r) => r.length <= 50)).toBe(true);
    const later = reads.slice(firstRound);
    const perRound = Math.ceil(lost.length / 50);
    expect(later.length % perRound).toBe(0);
    expect(later.length / perRound).toBeGreaterThanOrEqual(2);
    for (let i = 0; i < later.length; i += perRound)
      expect(
        later
          .slice(i, i + perRound)
          .flat()
          .sort(),
      ).toEqual(lost);

    // The operator accepts the loss: at 0.75 the gate opens and stage 2 resets exactly its devices.
    emu.clearRequests();
    const accepted = await run({ stage: "2", minOnlineRatio: "0.75" });
    expect(accepted.errors).toEqual([]);
    expect(resetKeys().sort()).toEqual(rest);
    expect(accepted.outputs).toMatchObject({ gatePassed: true, gateChecked: canary.length, gateOnline: back });
    for (const d of fleet) expect(emu.resetCount(d)).toBe(1);

    // An open gate stays open: the next update reads nothing and resets nothing.
    emu.clearRequests();
    expect((await run({ stage: "2", minOnlineRatio: "0.75" })).exitCode).toBe(0);
    expect(emu.requests()).toEqual([]);
  }, 300_000);

  test("98% of the canary come back: the gate opens and stage 2 resets exactly its devices, after the gate read", async () => {
    await start(0.02);
    expect((await run({})).errors).toEqual([]);
    const back = canary.length - neverBack().length;
    expect(back).toBeGreaterThanOrEqual(Math.ceil(0.9 * canary.length));

    emu.clearRequests();
    const promoted = await run({ stage: "2" });
    expect(promoted.errors).toEqual([]);
    expect(resetKeys().sort()).toEqual(rest);
    expect(promoted.outputs).toMatchObject({ gatePassed: true, gateChecked: canary.length, gateOnline: back });
    // One round was enough: every canary device read once, and every stage-2 reset came after the last read.
    const reads = emu.requests({ action: "BatchGetDeviceState" });
    expect(stateReads().flat().sort()).toEqual(canary);
    const lastRead = Math.max(...reads.map((r) => r.time));
    const resets = emu.requests({ action: "ResetThing" });
    expect(Math.min(...resets.map((r) => r.time))).toBeGreaterThanOrEqual(lastRead);
  }, 180_000);
});
