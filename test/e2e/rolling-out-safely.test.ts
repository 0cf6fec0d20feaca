/**
 * The README's complete rollout program, `examples/rolling-out-safely`, under the real Pulumi CLI against the
 * emulator: the plan names the gates and the controls, stage 1 resets the canary, and promoting to the last stage
 * passes both gates and resets every other camera once.
 */
import * as path from "path";
import { Emulator } from "../../emulator";
import type { RunResult } from "../../engine/stack";
import { loadFleet } from "../../provider/program/fleet-file";
import { readPlan } from "../../provider/plan/read-plan";
import { planStages } from "../../provider/shared/selection";
import { deviceKey } from "../../provider/shared/device-key";
import { TEST_KEY_ID, TEST_SECRET } from "../provider/support";
import { threadEmulator } from "./emulator-thread";
import { runInChild, testStack, TestStack } from "./engine";

const EXAMPLE = path.resolve(__dirname, "..", "..", "examples", "rolling-out-safely");
const fleet = loadFleet(path.join(EXAMPLE, "fleet.csv"));
const [canary, quarter, rest] = planStages(fleet, [2, 25, 100], 3, 500, 4).map((s) =>
  s.batches.flatMap((b) => b.devices.map(deviceKey)).sort(),
) as [string[], string[], string[]];

let emu: Emulator;
let t: TestStack;
beforeEach(async () => {
  emu = await threadEmulator({ comeBack: { neverRatio: 0, delayMs: { minMs: 0, maxMs: 1000 }, seed: 3 } });
  emu.addDevices(
    "a1RollDemo",
    fleet.map((d) => ({ deviceName: (d as { deviceName: string }).deviceName })),
  );
  // The example runs as written, in a process of its own: jest's module registry would not run it afresh.
  t = await testStack(async () => undefined);
});
afterEach(async () => {
  await emu.stop();
  t.dispose();
});

const PROJECT = "iot-reset-rolling-out-safely";

async function run(operation: "up" | "preview", stage: number, json = false): Promise<RunResult> {
  return runInChild(
    t,
    { file: path.join(EXAMPLE, "index.ts") },
    operation,
    {
      "alicloud:region": "cn-shanghai",
      "iotReset:gatePollSeconds": "1",
      endpoint: emu.endpoint,
      stage: String(stage),
      gateWaitMinutes: "1",
      // The example's freeze and night window, opened for the test.
      notBefore: "2026-01-01T00:00:00Z",
      maintenanceWindows: JSON.stringify([{ start: "00:00", durationMinutes: 1440 }]),
    },
    { "alicloud:accessKey": TEST_KEY_ID, "alicloud:secretKey": TEST_SECRET },
    { project: PROJECT, json },
  );
}

const resetKeys = () =>
  emu
    .requests({ action: "ResetThing", outcome: "success" })
    .map((r) => `${r.params.ProductKey}/${r.params.DeviceName}`);

test("the canary first; the promotion to all plans both gates, passes them, and resets every other camera once", async () => {
  const first = await run("up", 1);
  expect(first.errors).toEqual([]);
  expect(resetKeys().sort()).toEqual(canary);

  emu.clearRequests();
  const preview = await run("preview", 3, true);
  expect(preview.exitCode).toBe(0);
  expect(emu.requests()).toEqual([]);
  const plan = readPlan(JSON.parse(preview.stdout));
  expect(plan.gates).toEqual([
    {
      urn: expect.stringMatching(/::cameras-gate-s2$/),
      cohort: "cameras",
      stage: 2,
      minOnlineRatio: 0.95,
      waitMinutes: 1,
      devices: canary.length,
    },
    // Stage 2's records are made by this update, so the third gate's devices are known only then.
    {
      urn: expect.stringMatching(/::cameras-gate-s3$/),
      cohort: "cameras",
      stage: 3,
      minOnlineRatio: 0.95,
      waitMinutes: 1,
    },
  ]);
  expect(plan.resets.flatMap((r) => r.devices).sort()).toEqual([...quarter, ...rest].sort());

  const promoted = await run("up", 3);
  expect(promoted.errors).toEqual([]);
  expect(resetKeys().sort()).toEqual([...quarter, ...rest].sort());
  // The canary was back long before; the third gate opens as soon as 95% of the stages before it are back.
  const earlier = canary.length + quarter.length;
  const [second, third] = promoted.outputs.gates as Array<{ passed: boolean; checked: number; online: number }>;
  expect(second).toEqual({ passed: true, checked: canary.length, online: canary.length });
  expect(third).toMatchObject({ passed: true, checked: earlier });
  expect(third?.online).toBeGreaterThanOrEqual(Math.ceil(0.95 * earlier));
  expect(third?.online).toBeLessThanOrEqual(earlier);
  expect(promoted.outputs.camerasReset).toBe(fleet.length);
  for (const d of fleet) expect(emu.resetCount(d)).toBe(1);
  // Each gate read before its stage's first reset: stage 2's devices only after the canary's state was read.
  const reads = emu.requests({ action: "BatchGetDeviceState" });
  const firstStage2 = Math.min(
    ...emu
      .requests({ action: "ResetThing" })
      .filter((r) => quarter.includes(`${r.params.ProductKey}/${r.params.DeviceName}`))
      .map((r) => r.time),
  );
  expect(reads[0]?.time).toBeLessThanOrEqual(firstStage2);
}, 240_000);
