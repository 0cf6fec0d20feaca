/**
 * `stage` under the real Pulumi CLI: a cohort with several stages and no `stage` fails before anything is sent,
 * with the message the operator needs; a cohort of one stage resets it, and its totals count what was reset.
 */
import * as path from "path";
import { Emulator } from "../../emulator";
import { TEST_KEY_ID, TEST_SECRET } from "../provider/support";
import { threadEmulator } from "./emulator-thread";
import { runInChild, testStack, TestStack } from "./engine";
import { cohortFleet, stagesProgram } from "./programs/cohort";

const N = 30;
const PROGRAM = { file: path.join(__dirname, "programs", "cohort.ts"), export: "stagesProgram" };
const secrets = { "alicloud:accessKey": TEST_KEY_ID, "alicloud:secretKey": TEST_SECRET };

let emu: Emulator;
let t: TestStack;
beforeEach(async () => {
  emu = await threadEmulator();
  emu.addDevices(
    "a1Cohort",
    cohortFleet(N).map((d) => ({ deviceName: d.deviceName })),
  );
  t = await testStack(stagesProgram);
});
afterEach(async () => {
  await emu.stop();
  t.dispose();
});

const config = (more: Record<string, string>) => ({
  "alicloud:region": "cn-shanghai",
  endpoint: emu.endpoint,
  devices: String(N),
  campaign: "c1",
  ...more,
});

test("stages [1, 10, 100] without `stage`: preview and up fail naming `stage` and `stages`, and nothing is sent", async () => {
  const refusal =
    'DeviceCohortReset "fleet": `stage` is required when `stages` has more than one entry ([1, 10, 100]): set ' +
    "`stage: 1` to reset the first stage (1% of the fleet), and raise it in later updates.";
  const preview = await runInChild(t, PROGRAM, "preview", config({ stages: "[1,10,100]" }), secrets);
  const up = await runInChild(t, PROGRAM, "up", config({ stages: "[1,10,100]" }), secrets);
  for (const result of [preview, up]) {
    expect(result.exitCode).not.toBe(0);
    // The runtime reports the exception (its first line, then the stack), then the message alone.
    expect(result.errors.map((e) => e.split("\n")[0])).toEqual([
      `Unhandled exception: InputError: ${refusal}`,
      refusal,
    ]);
    expect(result.steps.filter((s) => s.type.startsWith("pulumi-nodejs:dynamic/"))).toEqual([]);
  }
  expect(emu.requests()).toEqual([]);
}, 120_000);

test("one stage and no `stage`: up resets the whole fleet once, and the cohort's totals count it", async () => {
  await t.stack.setConfig(config({}), secrets);
  const first = await t.stack.up();
  expect(first.errors).toEqual([]);
  expect(first.outputs).toEqual({ selected: N, resetCount: N, unknownOutcomeCount: 0 });
  expect(emu.requests({ action: "ResetThing" })).toHaveLength(N);
  const second = await t.stack.up();
  expect(second.outputs).toEqual({ selected: N, resetCount: N, unknownOutcomeCount: 0 });
  expect(emu.requests({ action: "ResetThing" })).toHaveLength(N);
}, 180_000);
