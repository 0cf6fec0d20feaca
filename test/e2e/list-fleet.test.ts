/**
 * A cohort declared from a listing, under the real Pulumi CLI against the emulator: the snapshot of the product's
 * devices is the reviewed fleet file; the preview plans exactly its devices (read as `iot-reset-plan` reads it); a
 * device added to the product after the snapshot is reported, and `pulumi up` resets the reviewed devices only.
 * `iot-reset-plan` runs as CI runs it, on the preview's JSON.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { Emulator } from "../../emulator";
import { listFleet, snapshotFleet } from "../../provider";
import { readPlan } from "../../provider/plan/read-plan";
import { deviceKey } from "../../provider/shared/device-key";
import { configFor, TEST_KEY_ID, TEST_SECRET } from "../provider/support";
import { threadEmulator } from "./emulator-thread";
import { runInChild, testStack, TestStack } from "./engine";

const PLAN_TOOL = path.join(__dirname, "..", "..", "lib", "provider", "plan", "cli.js");
const planTool = (args: string[]) => spawnSync(process.execPath, [PLAN_TOOL, ...args], { encoding: "utf8" });

const PROGRAM = { file: path.join(__dirname, "programs", "listed-cohort.ts"), export: "listedCohortProgram" };
const N = 75;
const names = Array.from({ length: N }, (_, i) => `cam-${String(i).padStart(3, "0")}`);

let emu: Emulator;
let t: TestStack;
beforeEach(async () => {
  emu = await threadEmulator({ credentials: [{ accessKeyId: TEST_KEY_ID, accessKeySecret: TEST_SECRET }] });
  emu.addDevices(
    "a1Listed",
    names.map((deviceName) => ({ deviceName })),
  );
  t = await testStack(async () => undefined);
});
afterEach(async () => {
  await emu.stop();
  t.dispose();
});

test("the preview plans the snapshot's devices exactly; a device added after it is reported and not reset", async () => {
  // The snapshot, as an operator takes it and commits it with the pull request.
  const fleetFile = path.join(t.dir, "fleet.json");
  const config = configFor(emu);
  snapshotFleet(
    await listFleet({ productKey: "a1Listed", endpoint: emu.endpoint, config: (k) => config[k] }),
    fleetFile,
  );
  const reviewed = names.map((n) => `a1Listed/${n}`);
  expect(JSON.parse(fs.readFileSync(fleetFile, "utf8")).map(deviceKey)).toEqual(reviewed);

  // After the review, the product gains a device.
  emu.addDevices("a1Listed", [{ deviceName: "late-001" }]);
  emu.clearRequests();
  const stackConfig = {
    "alicloud:region": "cn-shanghai",
    endpoint: emu.endpoint,
    productKey: "a1Listed",
    fleetFile,
    campaign: "rotation-1",
  };
  const secrets = { "alicloud:accessKey": TEST_KEY_ID, "alicloud:secretKey": TEST_SECRET };
  const notice =
    `The listing differs from the reviewed fleet file ${fleetFile} (${N} device(s)). 1 device(s) are new since the ` +
    `snapshot and will not be reset: a1Listed/late-001. To reset them, write a new snapshot (snapshotFleet) and have ` +
    `the change reviewed.`;

  const preview = await runInChild(t, PROGRAM, "preview", stackConfig, secrets, { json: true });
  expect(preview.exitCode).toBe(0);
  const plan = readPlan(JSON.parse(preview.stdout));
  expect(plan.resets.flatMap((r) => r.devices).sort()).toEqual(reviewed);
  // The plan tool, as CI runs it on the preview: the reviewed devices, and a bound one under them refused.
  const planFile = path.join(t.dir, "preview.json");
  fs.writeFileSync(planFile, preview.stdout);
  const tool = planTool([planFile, "--json", "--max", String(N)]);
  expect(tool.status).toBe(0);
  const listed = JSON.parse(tool.stdout) as { count: number; resets: Array<{ devices: string[] }> };
  expect([listed.count, listed.resets.flatMap((r) => r.devices).sort()]).toEqual([N, reviewed]);
  expect(planTool([planFile, "--max", String(N - 1)]).status).toBe(1);
  expect(preview.warnings.filter((w) => w.includes("listing"))).toEqual([notice]);
  // The preview listed the product (two pages of 50, the second with the first's NextToken) and sent nothing else.
  expect(
    emu.requests().map((r) => [r.action, r.params["CurrentPage"], r.params["NextToken"] !== undefined, r.outcome]),
  ).toEqual([
    ["QueryDevice", "1", false, "success"],
    ["QueryDevice", "2", true, "success"],
  ]);

  emu.clearRequests();
  const up = await runInChild(t, PROGRAM, "up", stackConfig, secrets);
  expect(up.errors).toEqual([]);
  expect(up.outputs).toMatchObject({ listed: N + 1, reviewed: N, added: 1, resetCount: N });
  const resets = emu.requests({ action: "ResetThing" });
  expect(resets.map((r) => `${r.params["ProductKey"]}/${r.params["DeviceName"]}`).sort()).toEqual(reviewed);
  expect(resets.every((r) => r.outcome === "success")).toBe(true);
  expect(emu.resetCount({ productKey: "a1Listed", deviceName: "late-001" })).toBe(0);
  expect(up.warnings.filter((w) => w.includes("listing"))).toEqual([notice]);
}, 300_000);
