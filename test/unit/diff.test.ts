import { diff, update } from "../../provider/host/device-reset";
import { ProviderContext } from "../../provider/host/provider-context";
import { UNKNOWN } from "../../provider/shared/inputs";
import { readSettings } from "../../provider/host/settings";
import * as batch from "../../provider/host/batch-reset";

const recorded = {
  productKey: "a1Demo",
  deviceName: "sensor-001",
  triggers: ["wave-1", { n: 1, m: 2 }],
  success: true,
  requestId: "REQ-1",
  resetAt: "2026-11-26T09:00:00.000Z",
  __provider: "exports.handler = __f0; // version 0.1.0",
};
const inputs = {
  productKey: "a1Demo",
  deviceName: "sensor-001",
  triggers: ["wave-1", { m: 2, n: 1 }],
  __provider: "x",
};

describe("DeviceRegistrationReset diff", () => {
  test("nothing changed: no change, even when __provider differs (package upgrade)", () => {
    expect(diff("REQ-1", recorded, { ...inputs, __provider: "exports.handler = __f0; // version 9.9.9" })).toEqual({
      changes: false,
      replaces: [],
      deleteBeforeReplace: false,
    });
  });

  test.each([
    ["productKey", "a1Other"],
    ["deviceName", "sensor-002"],
    ["iotId", "Q7u0001"],
    ["iotInstanceId", "iot-cn-demo01"],
    ["region", "cn-beijing"],
    ["endpoint", "http://127.0.0.1:9999"],
    ["triggers", ["wave-2"]],
  ])("a change of %s replaces (resets again)", (key, value) => {
    const result = diff("REQ-1", recorded, { ...inputs, [key]: value });
    expect(result.changes).toBe(true);
    expect(result.replaces).toEqual([key]);
  });

  test("with the same IotId, a change of the pair is an update: the API resets by IotId", () => {
    const byId = { iotId: "Q7u1", productKey: "a1Demo", deviceName: "sensor-001", success: true, requestId: "R" };
    expect(diff("R", byId, { iotId: "Q7u1", productKey: "a1Demo", deviceName: "sensor-009" })).toMatchObject({
      changes: true,
      replaces: [],
    });
    expect(diff("R", byId, { iotId: "Q7u2", productKey: "a1Demo", deviceName: "sensor-001" }).replaces).toEqual([
      "iotId",
    ]);
    expect(diff("R", byId, { productKey: "a1Demo", deviceName: "sensor-001" }).replaces).toEqual(["iotId"]);
  });

  test("a record with an explicit region: rewriting region/endpoint to the same target is an update, not a new reset", () => {
    const settings = readSettings((k) => ({ "alicloud:region": "cn-shanghai" })[k]);
    const old = {
      productKey: "a1Demo",
      deviceName: "sensor-001",
      region: "cn-shanghai",
      success: true,
      requestId: "R",
    };
    const dev = { productKey: "a1Demo", deviceName: "sensor-001" };
    for (const change of [
      { region: "cn-shanghai", endpoint: "iot.cn-shanghai.aliyuncs.com" },
      { region: "cn-shanghai", endpoint: "https://iot.cn-shanghai.aliyuncs.com:443" },
      {}, // the region moved to stack config, which says the same
    ]) {
      expect(diff("R", old, { ...dev, ...change }, settings)).toMatchObject({ changes: true, replaces: [] });
    }
    expect(diff("R", old, { ...dev, region: "cn-beijing" }, settings).replaces).toEqual(["region"]);
    expect(
      diff("R", old, { ...dev, region: "cn-shanghai", endpoint: "http://127.0.0.1:9" }, settings).replaces,
    ).toEqual(["endpoint"]);
    // Stack config now names another region: the record's calls went to cn-shanghai, the new ones would not.
    const moved = readSettings((k) => ({ "alicloud:region": "cn-beijing" })[k]);
    expect(diff("R", old, dev, moved).replaces).toEqual(["region"]);
  });

  test("a record whose region came from config or the environment does not say where it went: any change replaces", () => {
    const settings = readSettings((k) => ({ "alicloud:region": "cn-beijing" })[k]);
    const old = { productKey: "a1Demo", deviceName: "sensor-001", success: true, requestId: "R" };
    // Sent while the stack said cn-shanghai; the stack now says cn-beijing. Writing either out is a new reset.
    expect(diff("R", old, { ...old, region: "cn-beijing" }, settings).replaces).toEqual(["region"]);
    expect(diff("R", old, { ...old, region: "cn-shanghai" }, settings).replaces).toEqual(["region"]);
    expect(diff("R", old, { ...old, endpoint: "iot.cn-beijing.aliyuncs.com" }, settings).replaces).toEqual([
      "endpoint",
    ]);
    // Without the provider's settings any change of the argument counts.
    expect(diff("R", { ...old, region: "cn-shanghai" }, { ...old }).replaces).toEqual(["region"]);
    // The same rule for batches: a cohort's endpoint written out as its region's default does not reset the fleet.
    const batchOld = { campaign: "c", devices: [], results: {}, region: "cn-beijing" };
    expect(batch.diff("B", batchOld, { ...batchOld, endpoint: "iot.cn-beijing.aliyuncs.com" }, settings)).toEqual({
      changes: true,
      replaces: [],
      deleteBeforeReplace: false,
    });
  });

  test("only waitForJob changed: an update, no replace", () => {
    expect(diff("REQ-1", recorded, { ...inputs, waitForJob: true })).toEqual({
      changes: true,
      replaces: [],
      deleteBeforeReplace: false,
    });
  });

  test("an unknown trigger during preview is shown as a replace", () => {
    expect(diff("REQ-1", recorded, { ...inputs, triggers: [UNKNOWN] }).replaces).toEqual(["triggers"]);
  });

  test("update keeps the recorded reset and takes the new waitForJob", async () => {
    const ctx = new ProviderContext({});
    expect((await update(ctx, "REQ-1", { ...recorded, jobId: "JOB-1" }, { ...inputs, waitForJob: true })).outs).toEqual(
      {
        productKey: "a1Demo",
        deviceName: "sensor-001",
        triggers: ["wave-1", { m: 2, n: 1 }],
        waitForJob: true,
        success: true,
        requestId: "REQ-1",
        jobId: "JOB-1",
        resetAt: "2026-11-26T09:00:00.000Z",
      },
    );
  });
});

describe("DeviceBatchReset diff: naming the devices the other way within a campaign", () => {
  const byPair = [
    { productKey: "a1Demo", deviceName: "cam-0001" },
    { productKey: "a1Demo", deviceName: "cam-0002" },
  ];
  const byIotId = [{ iotId: "Q7u0001" }, { iotId: "Q7u0002" }];
  const olds = {
    campaign: "rotation-2026-11",
    devices: byPair,
    results: { "a1Demo/cam-0001": { requestId: "R1" }, "a1Demo/cam-0002": { requestId: "R2" } },
  };

  function diffWithLog(news: Record<string, unknown>) {
    const lines: string[] = [];
    const spy = jest.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    try {
      return { result: batch.diff("B", olds, news), lines };
    } finally {
      spy.mockRestore();
    }
  }

  test("pairs to IotIds is shown as the replace it is (every device is reset again), with a warning saying why", () => {
    const { result, lines } = diffWithLog({ campaign: "rotation-2026-11", devices: byIotId });
    expect(result).toEqual({ changes: true, replaces: ["devices"], deleteBeforeReplace: false });
    expect(lines).toEqual([
      'iot-reset: warning: batch of campaign "rotation-2026-11": its devices are now named by iotId and were reset when named by productKey/deviceName; the records cannot be matched to the new names without asking IoT Platform, so the batch is replaced and its 2 device(s) are reset again. To avoid it, keep naming the devices as before until the next campaign.\n',
    ]);
  });

  test("the same naming, or a new campaign (a replace anyway), gives no warning", () => {
    const same = diffWithLog({
      campaign: "rotation-2026-11",
      devices: [...byPair, { productKey: "a1Demo", deviceName: "cam-0003" }],
    });
    expect(same.result).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
    expect(same.lines).toEqual([]);
    const campaign = diffWithLog({ campaign: "rotation-2026-12", devices: byIotId });
    expect(campaign.result.replaces).toEqual(["campaign"]);
    // A new campaign deletes the old batch first (its records leave state before the new batch's are written);
    // the naming change within a campaign keeps the default order.
    expect(campaign.result.deleteBeforeReplace).toBe(true);
    expect(campaign.lines).toEqual([]);
  });
});

describe("DeviceBatchReset check", () => {
  test("a batch that mixes identity forms, repeats a device or holds a non-device is refused", () => {
    expect(
      batch.check(
        {},
        {
          campaign: "c",
          devices: [
            { productKey: "a1Demo", deviceName: "cam-0001" },
            { iotId: "Q7u1" },
            { productKey: "a1Demo", deviceName: "cam-0001" },
            null,
            { productKey: "a1Demo", deviceName: "cam-0004", iotId: undefined },
          ],
          maxFailureRatio: null,
          stages: [10, "x"],
        },
      ).failures,
    ).toEqual([
      { property: "devices[2]", reason: "repeats device a1Demo/cam-0001 (devices[0])" },
      { property: "devices[3]", reason: "must be { productKey, deviceName } or { iotId }, got null" },
      {
        property: "devices",
        reason:
          "mixes identity forms: devices[0] is named by productKey/deviceName and devices[1] by iotId; one device listed both ways would be reset twice, since the two forms cannot be matched without asking IoT Platform: name every device of a fleet the same way",
      },
      { property: "maxFailureRatio", reason: "is null; give a number from 0 to 1, or leave it out" },
      { property: "stages", reason: "must be the cohort's cumulative percentages, each in (0, 100]" },
    ]);
  });
});

describe("DeviceBatchReset diff: rollout controls", () => {
  const olds = {
    campaign: "c1",
    devices: [{ productKey: "a1Demo", deviceName: "cam-0001" }],
    results: { "a1Demo/cam-0001": { requestId: "R1", resetAt: "t" } },
  };
  const news = { campaign: "c1", devices: olds.devices };

  test("a stack from before the controls, upgraded, sees no diff (they are absent from the inputs when unset)", () => {
    expect(batch.diff("B", olds, news)).toEqual({ changes: false, replaces: [], deleteBeforeReplace: false });
  });

  test.each([
    ["abortCriteria", [{ failureType: "any", thresholdPercentage: 10, minExecuted: 20 }]],
    ["notBefore", "2026-12-01T02:00:00Z"],
    ["notAfter", "2026-12-01T06:00:00Z"],
    ["maintenanceWindows", [{ start: "02:00", durationMinutes: 60 }]],
    ["ramp", { baseRatePerMinute: 60, incrementFactor: 2, increaseEveryResets: 10 }],
  ])("setting %s is an update in place, never a replace", (key, value) => {
    expect(batch.diff("B", olds, { ...news, [key]: value })).toEqual({
      changes: true,
      replaces: [],
      deleteBeforeReplace: false,
    });
    expect(batch.diff("B", { ...olds, [key]: value }, { ...news, [key]: value }).changes).toBe(false);
  });
});
