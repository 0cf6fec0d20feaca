import { Emulator } from "../../emulator";
import * as batch from "../../provider/host/batch-reset";
import { PartialResetError } from "../../provider/shared/errors";
import { configFor, context, emulator, sent } from "./support";

let emu: Emulator;
beforeEach(async () => {
  emu = await emulator();
  emu.addDevices(
    "a1Batch",
    Array.from({ length: 60 }, (_, i) => ({ deviceName: `dev-${String(i).padStart(4, "0")}` })),
  );
  // Each test is one update: a fresh guard, as a fresh provider process would have.
});
afterEach(() => emu.stop());

const dev = (i: number) => ({ productKey: "a1Batch", deviceName: `dev-${String(i).padStart(4, "0")}` });
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => dev(from + i));
const keyOf = (d: { productKey: string; deviceName: string }) => `${d.productKey}/${d.deviceName}`;

describe("DeviceBatchReset against the emulator", () => {
  test("create resets every device once and records each RequestId", async () => {
    const ctx = context(configFor(emu));
    const result = await batch.create(ctx, { campaign: "rotation-1", devices: range(0, 20), endpoint: emu.endpoint });
    const calls = emu.requests({ action: "ResetThing" });
    expect(calls).toHaveLength(20);
    expect(new Set(calls.map((c) => `${c.params.ProductKey}/${c.params.DeviceName}`))).toEqual(
      new Set(range(0, 20).map(keyOf)),
    );
    const results = result.outs.results as Record<string, { requestId: string }>;
    expect(Object.keys(results).sort()).toEqual(range(0, 20).map(keyOf).sort());
    for (const c of calls)
      expect(results[`${c.params.ProductKey}/${c.params.DeviceName}`]?.requestId).toBe(c.requestId);
    expect(result.outs.resetCount).toBe(20);
    for (let i = 0; i < 20; i++) expect(emu.resetCount(dev(i))).toBe(1);
  });

  test("update resets only added devices; removed devices send nothing and keep their record", async () => {
    const ctx = context(configFor(emu));
    const created = await batch.create(ctx, { campaign: "c", devices: range(0, 10), endpoint: emu.endpoint });
    emu.clearRequests();
    const news = { campaign: "c", devices: [...range(3, 10), ...range(10, 14)], endpoint: emu.endpoint };
    expect(batch.diff("id", created.outs, news)).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
    const updated = await batch.update(ctx, "id", created.outs, news);
    expect(sent(emu)).toHaveLength(4);
    expect(new Set(sent(emu).map((p) => p.DeviceName))).toEqual(
      new Set(["dev-0010", "dev-0011", "dev-0012", "dev-0013"]),
    );
    expect(Object.keys(updated.outs?.results as object)).toHaveLength(14);
  });

  test("outputs hold no second copy of the device list; a removal is no change, an addition is, old outputs still diff", async () => {
    const ctx = context(configFor(emu));
    const base = { campaign: "c", endpoint: emu.endpoint };
    const created = await batch.create(ctx, { ...base, devices: range(0, 4) });
    expect(created.outs).not.toHaveProperty("devices");
    expect(Object.keys(created.outs.results as object).sort()).toEqual(range(0, 4).map(keyOf).sort());
    const same = { changes: false, replaces: [], deleteBeforeReplace: false };
    expect(batch.diff("id", created.outs, { ...base, devices: range(0, 4) })).toEqual(same);
    expect(batch.diff("id", created.outs, { ...base, devices: range(1, 4) })).toEqual(same);
    expect(batch.diff("id", created.outs, { ...base, devices: range(0, 5) }).changes).toBe(true);
    // Outputs of an earlier version carry the list: equal is no change, a removal an update (no call).
    const earlier = { ...created.outs, devices: range(0, 4) };
    expect(batch.diff("id", earlier, { ...base, devices: range(0, 4) })).toEqual(same);
    expect(batch.diff("id", earlier, { ...base, devices: range(1, 4) })).toEqual({
      changes: true,
      replaces: [],
      deleteBeforeReplace: false,
    });
    // Naming the recorded devices by IotId now is still seen, from the records' keys.
    const byIotId = [{ iotId: "Q0" }, { iotId: "Q1" }, { iotId: "Q2" }, { iotId: "Q3" }];
    expect(batch.diff("id", created.outs, { ...base, devices: byIotId }).replaces).toEqual(["devices"]);
  });

  test("devices given by key (as a cohort passes them): each reset once; the same devices as objects before are no change", async () => {
    const ctx = context(configFor(emu));
    const base = { campaign: "c", endpoint: emu.endpoint };
    const keys = range(0, 5).map(keyOf);
    expect(batch.check({}, { ...base, devices: keys }).failures).toEqual([]);
    const created = await batch.create(ctx, { ...base, devices: keys });
    expect(sent(emu).map((p) => `${p.ProductKey}/${p.DeviceName}`)).toEqual(expect.arrayContaining(keys));
    expect(sent(emu)).toHaveLength(5);
    expect(Object.keys(created.outs.results as object).sort()).toEqual([...keys].sort());
    // Outputs of an earlier version list objects; the same devices by key are no change, so an upgrade sends nothing.
    const same = { changes: false, replaces: [], deleteBeforeReplace: false };
    expect(batch.diff("id", { ...created.outs, devices: range(0, 5) }, { ...base, devices: keys })).toEqual(same);
    expect(batch.check({}, { ...base, devices: ["a1Batch-dev-0001", "iotId:"] }).failures).toEqual([
      {
        property: "devices[0]",
        reason: 'is the string "a1Batch-dev-0001", not a device key (`productKey/deviceName` or `iotId:<IotId>`)',
      },
      { property: "devices[1].iotId", reason: "must be a non-empty string" },
      {
        property: "devices",
        reason:
          "mixes identity forms: devices[0] is named by productKey/deviceName and devices[1] by iotId; one device listed both ways would be reset twice, since the two forms cannot be matched without asking IoT Platform: name every device of a fleet the same way",
      },
    ]);
  });

  test("a campaign change replaces the batch; nothing changed is no change", () => {
    const olds = { campaign: "c", devices: range(0, 2), results: { [keyOf(dev(0))]: {}, [keyOf(dev(1))]: {} } };
    expect(batch.diff("id", olds, { campaign: "c2", devices: range(0, 2) }).replaces).toEqual(["campaign"]);
    expect(batch.diff("id", olds, { campaign: "c", devices: range(0, 2) })).toEqual({
      changes: false,
      replaces: [],
      deleteBeforeReplace: false,
    });
  });

  test("partial failure keeps the reset devices; the next update resets only the rest, so each device is reset exactly once", async () => {
    const ctx = context(configFor(emu));
    emu.failDevice(dev(3), "iot.device.NotExistedDevice");
    emu.failDevice(dev(7), "iot.device.NotExistedDevice");
    const inputs = { campaign: "c", devices: range(0, 12), endpoint: emu.endpoint };
    const error = await batch.create(ctx, inputs).catch((e) => e);
    expect(error).toBeInstanceOf(PartialResetError);
    expect(error.message).toMatch(
      /^10 of 12 devices of this batch reset and recorded; 2 left for the next update:\n  ResetThing failed for device "a1Batch\/dev-000[37]": iot\.device\.NotExistedDevice/,
    );
    expect(error.reasons).toHaveLength(2);
    expect(Object.keys(error.properties.results)).toHaveLength(10);
    emu.healDevice(dev(3));
    emu.healDevice(dev(7));
    emu.clearRequests();
    expect(batch.diff(error.id, error.properties, inputs).changes).toBe(true);
    const next = await batch.update(ctx, error.id, error.properties, inputs);
    expect(
      sent(emu)
        .map((p) => p.DeviceName)
        .sort(),
    ).toEqual(["dev-0003", "dev-0007"]);
    expect(next.outs?.resetCount).toBe(12);
    for (let i = 0; i < 12; i++) expect(emu.resetCount(dev(i))).toBe(1);
  });

  test("with waitForJob, a failed device job fails the batch but the reset stays recorded and is not sent again", async () => {
    const ctx = context(configFor(emu));
    const gateway = { productKey: "a1DemoProduct", deviceName: "gateway-01" };
    emu.failNextJob("FAILED");
    const inputs = { campaign: "c", devices: [gateway, dev(0)], endpoint: emu.endpoint, waitForJob: true };
    const error = await batch.create(ctx, inputs).catch((e) => e);
    expect(error).toBeInstanceOf(PartialResetError);
    expect(error.message).toMatch(
      /^2 of 2 devices of this batch reset and recorded; 0 left for the next update:\n  the reset of device "a1DemoProduct\/gateway-01" was sent \(RequestId: [^)]+\), but its device job \S+ ended FAILED; inspect the job in the IoT console$/,
    );
    expect(error.properties.results["a1DemoProduct/gateway-01"]).toMatchObject({ jobStatus: "FAILED" });
    emu.clearRequests();
    await batch.update(ctx, error.id, error.properties, inputs);
    expect(emu.requests()).toHaveLength(0);
  });

  test("maxResetsPerUpdate stops the reset past the cap before any call", async () => {
    const ctx = context(configFor(emu));
    const error = await batch
      .create(ctx, { campaign: "c", devices: range(0, 10), endpoint: emu.endpoint, maxResetsPerUpdate: 6 })
      .catch((e) => e);
    expect(sent(emu)).toHaveLength(6);
    expect(error).toBeInstanceOf(PartialResetError);
    expect(error.message).toContain("6 of 10 devices of this batch reset and recorded; 4 left for the next update:");
    expect(error.reasons).toHaveLength(1);
    // How many of the 6 had answered when the 7th was refused depends on timing; the rest is exact.
    expect(error.reasons[0]).toMatch(
      /^4 device\(s\) not sent: stopped by maxResetsPerUpdate 6: this update already sent 6 resets \([0-6] succeeded so far\)\. The rest are left for the next update; raise maxResetsPerUpdate to go further\.$/,
    );
  });

  test("maxFailureRatio aborts the rest once failures exceed it after 20 tries", async () => {
    const ctx = context(configFor(emu));
    for (let i = 0; i < 60; i += 2) emu.failDevice(dev(i), "iot.device.NotExistedDevice");
    const error = await batch
      .create(ctx, { campaign: "c", devices: range(0, 60), endpoint: emu.endpoint, maxFailureRatio: 0.2 })
      .catch((e) => e);
    // The first 20 go out together; half of them fail, so the ratio trips with no call beyond the sample.
    expect(sent(emu)).toHaveLength(20);
    expect(error.message).toContain("10 of 60 devices of this batch reset and recorded; 50 left for the next update:");
    expect(error.reasons).toHaveLength(11);
    expect(error.reasons[10]).toBe(
      `40 device(s) not sent: aborted by maxFailureRatio 0.2: 10 of 20 resets in this update failed (10 devices were reset). No further device is reset in this update; fix the cause, then run it again (devices already reset are recorded and will not be reset again).`,
    );
  });
  test("a window that ends mid-batch stops the resets queued for the pacer, right before they leave", async () => {
    // 10 a second: all 40 are admitted at once (64 at a time) and wait for the pacer; the window ends after about 1 s,
    // so only the check right before the wire can keep the rest from leaving.
    const ctx = context(configFor(emu, { "iotReset:resetQps": "10" }));
    const notAfter = new Date(Date.now() + 1_000).toISOString();
    const error = await batch
      .create(ctx, { campaign: "c", devices: range(0, 40), endpoint: emu.endpoint, notAfter })
      .catch((e) => e);
    const calls = emu.requests({ action: "ResetThing" });
    expect(calls.length).toBeGreaterThan(0);
    expect(calls.length).toBeLessThan(40);
    expect(Math.max(...calls.map((c) => c.time))).toBeLessThan(Date.parse(notAfter) + 1_000);
    expect(error).toBeInstanceOf(PartialResetError);
    expect(error.reasons).toEqual([
      `${40 - calls.length} device(s) not sent: outside the rollout window: notAfter ${notAfter} has passed, so nothing ` +
        "more is sent in this update; no window opens again: widen notAfter (or the maintenance windows) to go on " +
        "(devices not reset stay pending and are reset by that update).",
    ]);
    expect(Object.keys(error.properties.results).sort()).toEqual(
      calls.map((c) => `${c.params.ProductKey}/${c.params.DeviceName}`).sort(),
    );
  });
});

describe("DeviceBatchReset delete", () => {
  /** The provider's stderr lines while `run` runs. */
  async function stderrOf(run: () => Promise<void>): Promise<string[]> {
    const lines: string[] = [];
    const write = jest.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    try {
      await run();
    } finally {
      write.mockRestore();
    }
    return lines;
  }

  test("says how many records leave state, and says nothing for a batch that has none", async () => {
    const ctx = context(configFor(emu));
    const created = await batch.create(ctx, { campaign: "c", devices: range(0, 3), endpoint: emu.endpoint });
    // An empty batch of a cohort: its bucket holds no device of the stages so far.
    const empty = { campaign: "c", devices: [], endpoint: emu.endpoint, results: {}, resetCount: 0 };
    expect(await stderrOf(() => batch.remove(ctx, "empty", empty))).toEqual([]);
    expect(await stderrOf(() => batch.remove(ctx, created.id, { ...created.outs, devices: range(0, 3) }))).toEqual([
      'iot-reset: batch of campaign "c": the records of 3 device resets leave state; a reset cannot be undone, so ' +
        "nothing is sent to IoT Platform.\n",
    ]);
    expect(emu.requests({ action: "ResetThing" })).toHaveLength(3);
    const one = await batch.create(ctx, { campaign: "c", devices: range(3, 4), endpoint: emu.endpoint });
    expect(await stderrOf(() => batch.remove(ctx, one.id, { ...one.outs, devices: range(3, 4) }))).toEqual([
      'iot-reset: batch of campaign "c": the records of 1 device reset leave state; a reset cannot be undone, so ' +
        "nothing is sent to IoT Platform.\n",
    ]);
  });
});
