/**
 * DeviceCohortReset end to end under the real Pulumi CLI: stage promotion, campaign changes, partial
 * failures and the shared call budget, with exact requests asserted at the emulator.
 */
import { Emulator } from "../../emulator";
import { RunResult } from "../../engine/stack";
import { BucketDevices, planCohort } from "../../provider/shared/selection";
import { deviceKey } from "../../provider/shared/device-key";
import { readPlan } from "../../provider/plan/read-plan";
import { TEST_KEY_ID, TEST_SECRET } from "../provider/support";
import { threadEmulator } from "./emulator-thread";
import { testStack, TestStack } from "./engine";
import { cohortFleet, cohortProgram } from "./programs/cohort";

const N = 120;
const fleet = cohortFleet(N);
const selectedAt = (stage: number) => new Set(planCohort(fleet, [10, 50, 100], stage, 20).selected.map(deviceKey));

let emu: Emulator;
let t: TestStack;
beforeEach(async () => {
  emu = await threadEmulator();
  emu.addDevices(
    "a1Cohort",
    fleet.map((d) => ({ deviceName: d.deviceName })),
  );
  t = await testStack(cohortProgram);
});
afterEach(async () => {
  await emu.stop();
  t.dispose();
});

async function configure(config: Record<string, string>): Promise<void> {
  await t.stack.setConfig(
    {
      "alicloud:region": "cn-shanghai",
      endpoint: emu.endpoint,
      devices: String(N),
      campaign: "c1",
      stage: "1",
      ...config,
    },
    { "alicloud:accessKey": TEST_KEY_ID, "alicloud:secretKey": TEST_SECRET },
  );
}

async function up(config: Record<string, string>): Promise<RunResult> {
  await configure(config);
  return t.stack.up();
}

/** Device keys of the successful ResetThing calls since the last clearRequests(). */
function resetKeys(): string[] {
  return emu
    .requests({ action: "ResetThing", outcome: "success" })
    .map((r) => `${r.params.ProductKey}/${r.params.DeviceName}`);
}

describe("DeviceCohortReset under the Pulumi CLI", () => {
  test("stage 1 resets its devices; a re-run resets none; promoting to stage 2 resets exactly the newly selected", async () => {
    const first = await up({});
    expect(first.errors).toEqual([]);
    expect(first.outputs.selected).toBe(selectedAt(1).size);
    // The default layout grows one batch at a time: nothing to warn about when `batchCount` is left out.
    expect(first.warnings).toEqual([]);
    const batches = first.steps.filter((s) => s.type.endsWith(":DeviceBatchReset")).map((s) => s.name);
    expect(batches.sort()).toEqual(["fleet-b0", "fleet-b1", "fleet-b2", "fleet-b3", "fleet-b4", "fleet-b5"]);
    expect(new Set(resetKeys())).toEqual(selectedAt(1));
    expect(resetKeys()).toHaveLength(selectedAt(1).size);

    emu.clearRequests();
    const again = await up({});
    expect(again.exitCode).toBe(0);
    expect(emu.requests()).toHaveLength(0);

    const promoted = await up({ stage: "2" });
    expect(promoted.exitCode).toBe(0);
    const added = [...selectedAt(2)].filter((k) => !selectedAt(1).has(k));
    expect(added.length).toBeGreaterThan(0);
    expect(resetKeys().sort()).toEqual(added.sort());
    for (const d of fleet) expect(emu.resetCount(d)).toBe(selectedAt(2).has(deviceKey(d)) ? 1 : 0);

    // A rollback to stage 1 and a promotion again: the records stayed in their batches, nothing is resent.
    emu.clearRequests();
    expect((await up({ stage: "1" })).exitCode).toBe(0);
    expect((await up({ stage: "2" })).exitCode).toBe(0);
    expect(emu.requests()).toHaveLength(0);
  });

  test("a fleet that grows past a batch: one batch splits, its moved devices come from the journal, only the new one is sent", async () => {
    expect((await up({ stage: "3" })).exitCode).toBe(0);
    expect(emu.requests({ action: "ResetThing" })).toHaveLength(N);
    emu.addDevices("a1Cohort", [{ deviceName: "dev-00120" }]);
    // 120 devices at batchSize 20 make 6 batches, 121 make 7: batch 2 splits into 2 and the new 6.
    const before = planCohort(fleet, [10, 50, 100], 3, 20);
    const after = planCohort(cohortFleet(N + 1), [10, 50, 100], 3, 20);
    expect([before.buckets, after.buckets]).toEqual([6, 7]);
    // The plan of the change, with the unchanged batches (`--show-sames`): the devices that move to fleet-b6 are
    // known as reset in fleet-b2. The journal is a file here, so they are counted, and said to have moved.
    await configure({ stage: "3", devices: String(N + 1) });
    const preview = await t.stack.preview({ json: true, showSames: true });
    expect(preview.exitCode).toBe(0);
    const plan = readPlan(JSON.parse(preview.stdout));
    const newBatch = (after.batches[6] as BucketDevices).devices.map(deviceKey);
    const toNew = newBatch.filter((k) => k !== "a1Cohort/dev-00120");
    expect(plan.journal).toBe("file");
    const created = plan.resets.find((r) => r.urn.endsWith("::fleet-b6"));
    const { urn, byStage, ...rest } = created ?? { urn: "", byStage: [] };
    expect(rest).toEqual({
      op: "create",
      devices: newBatch,
      stages: [10, 50, 100],
      movedCounted: toNew.length,
      movedFrom: ["fleet-b2"],
    });
    expect(byStage?.reduce((a, b) => a + b, 0)).toBe(newBatch.length);
    expect(plan.resets.filter((r) => r.urn !== urn).flatMap((r) => r.devices)).toEqual(
      newBatch.includes("a1Cohort/dev-00120") ? [] : ["a1Cohort/dev-00120"],
    );
    // With the journal in a bucket (a preview opens no journal, so no server is needed) they are not counted: the
    // plan's resets are the added device alone, as the update below sends.
    // (`up` below sets the whole config again, without it.)
    await t.stack.mergeConfig({ "iotReset:journal": "s3://journal/stacks?region=us-east-1" });
    const inBucket = readPlan(JSON.parse((await t.stack.preview({ json: true, showSames: true })).stdout));
    expect(inBucket.journal).toBe("bucket");
    expect(inBucket.resets.flatMap((r) => r.devices)).toEqual(["a1Cohort/dev-00120"]);
    expect(inBucket.resets.flatMap((r) => r.moved ?? []).sort()).toEqual([...toNew].sort());
    emu.clearRequests();
    const grown = await up({ stage: "3", devices: String(N + 1) });
    expect(grown.exitCode).toBe(0);
    // The split batch only lost devices (they keep their record there): it stays as it is. The new device's batch
    // updates, unless the device landed in the new batch.
    const landed = after.batches.find((b) => b.devices.some((d) => deviceKey(d) === "a1Cohort/dev-00120"));
    const ops = grown.steps.filter((s) => s.type.endsWith(":DeviceBatchReset") && s.op !== "same");
    expect(ops.map((s) => `${s.op} ${s.name}`).sort()).toEqual(
      ["create fleet-b6", ...(landed?.bucket === 6 ? [] : [`update fleet-b${landed?.bucket}`])].sort(),
    );
    expect(resetKeys()).toEqual(["a1Cohort/dev-00120"]);
    const moved = (after.batches[6] as BucketDevices).devices.filter((d) => deviceKey(d) !== "a1Cohort/dev-00120");
    expect(moved.length).toBeGreaterThan(0);
    expect(grown.infos.join("\n")).toContain(`${moved.length} device(s) were already reset in this campaign`);
    for (const d of cohortFleet(N + 1)) expect(emu.resetCount(d)).toBe(1);
  });

  test("a campaign change resets every selected device again, exactly once", async () => {
    await up({ stage: "2" });
    emu.clearRequests();
    const result = await up({ stage: "2", campaign: "c2" });
    expect(result.exitCode).toBe(0);
    const replaced = result.steps.filter((s) => s.op === "replace");
    expect(replaced.length).toBeGreaterThan(0);
    expect(replaced.every((s) => s.replaces?.includes("campaign"))).toBe(true);
    // The old batch leaves state before the new one is created, so the checkpoint never holds both campaigns.
    for (const s of replaced)
      expect(s.ops.indexOf("delete-replaced")).toBeLessThan(s.ops.indexOf("create-replacement"));
    for (const s of replaced) expect(s.ops.indexOf("delete-replaced")).toBeGreaterThanOrEqual(0);
    expect(resetKeys().sort()).toEqual([...selectedAt(2)].sort());
    for (const d of fleet) expect(emu.resetCount(d)).toBe(selectedAt(2).has(deviceKey(d)) ? 2 : 0);
  });

  test("failing devices, then a clean run: every device is reset exactly once", async () => {
    const selected = [...selectedAt(3)];
    const failing = fleet.filter((d) => [selected[0], selected[5], selected[9]].includes(deviceKey(d)));
    for (const d of failing) emu.failDevice(d, "iot.device.NotExistedDevice");
    const first = await up({ stage: "3" });
    expect(first.exitCode).toBe(1);
    for (const d of failing) {
      expect(first.errors.join("\n")).toContain(
        `ResetThing failed for device "${deviceKey(d)}": iot.device.NotExistedDevice: The specified device does not exist.`,
      );
    }
    expect(resetKeys()).toHaveLength(N - 3);
    for (const d of failing) emu.healDevice(d);
    emu.clearRequests();
    const second = await up({ stage: "3" });
    expect(second.errors).toEqual([]);
    expect(resetKeys().sort()).toEqual(failing.map(deviceKey).sort());
    for (const d of fleet) expect(emu.resetCount(d)).toBe(1);
    emu.clearRequests();
    await up({ stage: "3" });
    expect(emu.requests()).toHaveLength(0);
  });

  test("all batches share one budget: no one-second window at the emulator sees more calls than it", async () => {
    // 20 calls a second leaves 50 ms between calls, more than a loaded machine's scheduling hiccups.
    emu.setQuota("ResetThing", 20);
    const result = await up({ stage: "3", "iotReset:resetQps": "20" });
    expect(result.errors).toEqual([]);
    const times = emu
      .requests({ action: "ResetThing" })
      .map((r) => r.time)
      .sort((a, b) => a - b);
    expect(times).toHaveLength(N);
    let most = 0;
    for (let i = 0, j = 0; i < times.length; i++) {
      while ((times[i] as number) - (times[j] as number) >= 1000) j++;
      most = Math.max(most, i - j + 1);
    }
    expect(most).toBeLessThanOrEqual(20);
    expect(emu.requests({ outcome: "throttled" })).toHaveLength(0);
  });
});
