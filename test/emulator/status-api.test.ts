// The device status APIs (BatchGetDeviceState, QueryDeviceDetail, BatchQueryDeviceDetail) as the real
// @alicloud/iot20180120 SDK parses them: every field, the per-call device limits, errors and quotas.
import { rpcParams } from "../../provider/host/iot-api";
import {
  BatchGetDeviceStateRequest,
  BatchQueryDeviceDetailRequest,
  QueryDeviceDetailRequest,
  ResetThingRequest,
} from "@alicloud/iot20180120";
import * as $OpenApi from "@alicloud/openapi-client";
import * as $Util from "@alicloud/tea-util";
import { iotIdFor, startEmulator, type Emulator } from "../../emulator";
import { forge, sdkClient, sdkError } from "./helpers";

const DEMO = "a1DemoProduct";
/** Beijing time "yyyy-MM-dd HH:mm:ss", computed independently of the emulator. */
function beijing(ms: number): string {
  const d = new Date(ms + 8 * 3600_000);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`;
}

/** The detail fields both detail APIs give an activated, ONLINE device created at `t0` that is not a gateway. */
function detailOf(productKey: string, productName: string, deviceName: string, t0: number) {
  return {
    iotId: iotIdFor(productKey, deviceName),
    productKey,
    productName,
    deviceName,
    deviceSecret: expect.stringMatching(/^[0-9a-f]{32}$/) as unknown,
    nodeType: 0,
    status: "ONLINE",
    gmtCreate: beijing(t0),
    utcCreate: new Date(t0).toISOString(),
    gmtActive: beijing(t0),
    utcActive: new Date(t0).toISOString(),
    region: "cn-shanghai",
  };
}

let now: number;
let emu: Emulator;
beforeEach(async () => {
  // A frozen clock: every call falls in one quota window, and times in answers are exact.
  now = Date.now();
  emu = await startEmulator({
    clock: () => now,
    comeBack: { seed: 5, delayMs: { minMs: 4000, maxMs: 4000 } },
  });
  emu.addDevices(
    "a1Bulk",
    Array.from({ length: 101 }, (_, i) => ({ deviceName: `bulk-${String(i).padStart(3, "0")}` })),
  );
});
afterEach(async () => {
  await emu.stop();
});

describe("BatchGetDeviceState", () => {
  test("the SDK parses every field of every device; a reset shows as OFFLINE with its time, then ONLINE", async () => {
    const client = sdkClient(emu);
    const t0 = now;
    const req = new BatchGetDeviceStateRequest({ productKey: DEMO, deviceName: ["sensor-001", "sensor-002"] });
    const before = await client.batchGetDeviceState(req);
    // The SDK's DeviceStatus model (3.x) has no `timestamp`: it drops the Timestamp the service sends (the wire
    // test below reads it), so the status-change time reaches an SDK user only through the raw body.
    const row = (deviceName: string, status: string, lastOnline: number) => ({
      deviceId: iotIdFor(DEMO, deviceName).slice(0, 21),
      deviceName,
      iotId: iotIdFor(DEMO, deviceName),
      status,
      lastOnlineTime: beijing(lastOnline),
      asAddress: expect.stringMatching(/^198\.51\.100\.\d{1,3}$/) as unknown as string,
    });
    expect(before.statusCode).toBe(200);
    expect(before.body?.success).toBe(true);
    expect(before.body?.requestId).toMatch(/^[0-9A-F-]{36}$/);
    expect(before.body?.deviceStatusList?.deviceStatus?.map((d) => ({ ...d }))).toEqual([
      row("sensor-001", "ONLINE", t0),
      row("sensor-002", "ONLINE", t0),
    ]);

    now = t0 + 1500;
    await client.resetThing(new ResetThingRequest({ productKey: DEMO, deviceName: "sensor-001" }));
    const after = await client.batchGetDeviceState(req);
    expect(after.body?.deviceStatusList?.deviceStatus?.map((d) => ({ ...d }))).toEqual([
      row("sensor-001", "OFFLINE", t0),
      row("sensor-002", "ONLINE", t0),
    ]);
    const wire = async () =>
      (
        (
          await forge(emu, {
            action: "BatchGetDeviceState",
            query: { ProductKey: DEMO, "DeviceName.1": "sensor-001", "DeviceName.2": "sensor-002" },
          })
        ).body as { DeviceStatusList: { DeviceStatus: Array<{ Timestamp: number }> } }
      ).DeviceStatusList.DeviceStatus.map((d) => d.Timestamp);
    expect(await wire()).toEqual([t0 + 1500, t0]);
    now = t0 + 5500;
    const back = await client.batchGetDeviceState(req);
    expect(back.body?.deviceStatusList?.deviceStatus?.map((d) => ({ ...d }))).toEqual([
      row("sensor-001", "ONLINE", t0 + 5500),
      row("sensor-002", "ONLINE", t0),
    ]);
    expect(await wire()).toEqual([t0 + 5500, t0]);
    // The address of a device stays the same across calls.
    expect(back.body?.deviceStatusList?.deviceStatus?.[0]?.asAddress).toBe(
      before.body?.deviceStatusList?.deviceStatus?.[0]?.asAddress,
    );
  });

  test("on the wire: Timestamp is a number of ms, LastOnlineTime Beijing time, the list under DeviceStatusList.DeviceStatus", async () => {
    const t0 = now;
    const res = await forge(emu, {
      action: "BatchGetDeviceState",
      query: { ProductKey: DEMO, "DeviceName.1": "sensor-004" },
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      RequestId: expect.any(String) as unknown,
      Success: true,
      DeviceStatusList: {
        DeviceStatus: [
          {
            DeviceId: iotIdFor(DEMO, "sensor-004").slice(0, 21),
            DeviceName: "sensor-004",
            IotId: iotIdFor(DEMO, "sensor-004"),
            Status: "ONLINE",
            LastOnlineTime: beijing(t0),
            AsAddress: expect.stringMatching(/^198\.51\.100\./) as unknown,
            Timestamp: t0,
          },
        ],
      },
    });
  });

  test("an SDK user reads Timestamp through the client's own callApi (the typed model drops it)", async () => {
    const t0 = now;
    const client = sdkClient(emu);
    const raw = (await client.callApi(
      rpcParams("BatchGetDeviceState"),
      new $OpenApi.OpenApiRequest({ query: { ProductKey: DEMO, "DeviceName.1": "sensor-005" } }),
      new $Util.RuntimeOptions({}),
    )) as { statusCode: number; body: { DeviceStatusList: { DeviceStatus: Array<{ Timestamp: unknown }> } } };
    expect(raw.statusCode).toBe(200);
    expect(raw.body.DeviceStatusList.DeviceStatus.map((d) => d.Timestamp)).toEqual([t0]);
  });

  test("IotId.N names devices of different products and instances' own IotInstanceId; IotId wins over the pair", async () => {
    const client = sdkClient(emu);
    const ids = [iotIdFor(DEMO, "sensor-003"), iotIdFor("a1StaticProd", "meter-001"), iotIdFor("a1Bulk", "bulk-007")];
    const res = await client.batchGetDeviceState(
      new BatchGetDeviceStateRequest({ iotId: ids, productKey: DEMO, deviceName: ["sensor-001"] }),
    );
    expect(res.body?.deviceStatusList?.deviceStatus?.map((d) => [d.iotId, d.deviceName])).toEqual([
      [ids[0], "sensor-003"],
      [ids[1], "meter-001"],
      [ids[2], "bulk-007"],
    ]);
    const tracker = iotIdFor("a1EntProduct", "tracker-002", "iot-cn-demo01");
    const inInstance = await client.batchGetDeviceState(
      new BatchGetDeviceStateRequest({ iotInstanceId: "iot-cn-demo01", iotId: [tracker] }),
    );
    expect(inInstance.body?.deviceStatusList?.deviceStatus?.[0]).toMatchObject({ iotId: tracker, status: "ONLINE" });
    // Without the instance ID, a device of an instance with one is not found.
    expect((await client.batchGetDeviceState(new BatchGetDeviceStateRequest({ iotId: [tracker] }))).body).toMatchObject(
      {
        success: false,
        code: "iot.device.InvalidIoTId",
        errorMessage: "The device IotId is incorrect.",
      },
    );
  });

  test("50 devices per call: 50 are answered, 51 is iot.common.InvalidFormattedParameter", async () => {
    const client = sdkClient(emu);
    const all = Array.from({ length: 51 }, (_, i) => `bulk-${String(i).padStart(3, "0")}`);
    const fifty = await client.batchGetDeviceState(
      new BatchGetDeviceStateRequest({ productKey: "a1Bulk", deviceName: all.slice(0, 50) }),
    );
    expect(fifty.body?.deviceStatusList?.deviceStatus?.map((d) => d.deviceName)).toEqual(all.slice(0, 50));
    const over = await client.batchGetDeviceState(
      new BatchGetDeviceStateRequest({ productKey: "a1Bulk", deviceName: all }),
    );
    expect({ ...over.body }).toEqual({
      requestId: over.body?.requestId,
      success: false,
      code: "iot.common.InvalidFormattedParameter",
      errorMessage: "The parameter format is invalid.",
    });
    const overIds = await client.batchGetDeviceState(
      new BatchGetDeviceStateRequest({ iotId: all.map((n) => iotIdFor("a1Bulk", n)) }),
    );
    expect(overIds.body?.code).toBe("iot.common.InvalidFormattedParameter");
  });

  test("missing parameters, an unknown device or instance fail the whole call with the single-device Codes", async () => {
    const client = sdkClient(emu);
    const code = async (r: BatchGetDeviceStateRequest) => {
      const body = (await client.batchGetDeviceState(r)).body;
      return [body?.success, body?.code, body?.errorMessage, body?.deviceStatusList];
    };
    expect(await code(new BatchGetDeviceStateRequest({}))).toEqual([
      false,
      "iot.common.InvalidFormattedParameter",
      "The parameter format is invalid.",
      undefined,
    ]);
    expect(await code(new BatchGetDeviceStateRequest({ deviceName: ["sensor-001"] }))).toEqual([
      false,
      "iot.common.InvalidFormattedParameter",
      "The parameter format is invalid.",
      undefined,
    ]);
    expect(await code(new BatchGetDeviceStateRequest({ productKey: DEMO }))).toEqual([
      false,
      "iot.common.InvalidFormattedParameter",
      "The parameter format is invalid.",
      undefined,
    ]);
    expect(
      await code(new BatchGetDeviceStateRequest({ productKey: DEMO, deviceName: ["sensor-001", "ghost-01"] })),
    ).toEqual([false, "iot.device.NotExistedDevice", "The specified device does not exist.", undefined]);
    expect(await code(new BatchGetDeviceStateRequest({ iotId: ["NoSuchIotId0000000000000100"] }))).toEqual([
      false,
      "iot.device.InvalidIoTId",
      "The device IotId is incorrect.",
      undefined,
    ]);
    expect(
      await code(
        new BatchGetDeviceStateRequest({ iotInstanceId: "iot-cn-nope", productKey: DEMO, deviceName: ["sensor-001"] }),
      ),
    ).toEqual([false, "iot.system.InstanceNotFound", "The specified instance ID does not exist.", undefined]);
  });

  test("quota: 50 calls in one second pass, the 51st gets Throttling.User", async () => {
    const client = sdkClient(emu);
    const req = new BatchGetDeviceStateRequest({ productKey: DEMO, deviceName: ["sensor-001"] });
    const results = await Promise.allSettled(Array.from({ length: 51 }, () => client.batchGetDeviceState(req)));
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(50);
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    expect(refused).toHaveLength(1);
    const err = refused[0]?.reason as { code: string; statusCode: number; data: { Message: string } };
    expect([err.statusCode, err.code, err.data.Message]).toEqual([
      400,
      "Throttling.User",
      "Request was denied due to user flow control.",
    ]);
    expect(emu.requests({ action: "BatchGetDeviceState", outcome: "throttled" })).toHaveLength(1);
    // The window slides: a second later the quota is free again.
    now += 1000;
    expect((await client.batchGetDeviceState(req)).body?.success).toBe(true);
  });
});

describe("QueryDeviceDetail", () => {
  test("the SDK parses Status, the online and activation times in Beijing time and UTC, and the address", async () => {
    const client = sdkClient(emu);
    const t0 = now;
    const res = await client.queryDeviceDetail(
      new QueryDeviceDetailRequest({ productKey: DEMO, deviceName: "sensor-007" }),
    );
    const iotId = iotIdFor(DEMO, "sensor-007");
    expect({ ...res.body?.data }).toEqual({
      ...detailOf(DEMO, "Demo sensors", "sensor-007", t0),
      gmtOnline: beijing(t0),
      utcOnline: new Date(t0).toISOString(),
      ipAddress: expect.stringMatching(/^198\.51\.100\.\d{1,3}$/) as unknown,
      owner: true,
    });
    now = t0 + 2000;
    await client.resetThing(new ResetThingRequest({ iotId }));
    const offline = await client.queryDeviceDetail(new QueryDeviceDetailRequest({ iotId }));
    expect(offline.body?.data).toMatchObject({ status: "OFFLINE", gmtOnline: beijing(t0), gmtActive: beijing(t0) });
    now = t0 + 6000;
    const online = await client.queryDeviceDetail(new QueryDeviceDetailRequest({ iotId }));
    expect(online.body?.data).toMatchObject({
      status: "ONLINE",
      gmtOnline: beijing(t0 + 6000),
      utcOnline: new Date(t0 + 6000).toISOString(),
    });
  });

  test("a device never activated is UNACTIVE and has no online or activation time", async () => {
    emu.addDevices(DEMO, [{ deviceName: "fresh-01", activated: false }]);
    const res = await sdkClient(emu).queryDeviceDetail(
      new QueryDeviceDetailRequest({ productKey: DEMO, deviceName: "fresh-01" }),
    );
    expect(res.body?.data?.status).toBe("UNACTIVE");
    expect([res.body?.data?.gmtOnline, res.body?.data?.gmtActive, res.body?.data?.ipAddress]).toEqual([
      undefined,
      undefined,
      undefined,
    ]);
  });
});

describe("BatchQueryDeviceDetail", () => {
  test("the SDK parses Data.Data[] of up to 100 devices; names the product lacks are left out", async () => {
    const client = sdkClient(emu);
    const t0 = now;
    const names = Array.from({ length: 99 }, (_, i) => `bulk-${String(i).padStart(3, "0")}`);
    const res = await client.batchQueryDeviceDetail(
      new BatchQueryDeviceDetailRequest({ productKey: "a1Bulk", deviceName: [...names, "ghost-01"] }),
    );
    expect(res.body?.success).toBe(true);
    const rows = res.body?.data?.data ?? [];
    expect(rows.map((d) => d.deviceName)).toEqual(names);
    expect({ ...rows[0] }).toEqual(detailOf("a1Bulk", "a1Bulk", "bulk-000", t0));
  });

  test("101 names, a missing ProductKey or DeviceName, an unknown product: the Codes", async () => {
    const client = sdkClient(emu);
    const names = Array.from({ length: 101 }, (_, i) => `bulk-${String(i).padStart(3, "0")}`);
    const code = async (r: BatchQueryDeviceDetailRequest) => {
      const body = (await client.batchQueryDeviceDetail(r)).body;
      return [body?.success, body?.code, body?.errorMessage];
    };
    const invalid = [false, "iot.common.InvalidFormattedParameter", "The parameter format is invalid."];
    expect(await code(new BatchQueryDeviceDetailRequest({ productKey: "a1Bulk", deviceName: names }))).toEqual(invalid);
    expect(await code(new BatchQueryDeviceDetailRequest({ deviceName: ["bulk-000"] }))).toEqual(invalid);
    expect(await code(new BatchQueryDeviceDetailRequest({ productKey: "a1Bulk" }))).toEqual(invalid);
    expect(await code(new BatchQueryDeviceDetailRequest({ productKey: "a1Nope", deviceName: ["bulk-000"] }))).toEqual([
      false,
      "iot.prod.NotExistedProduct",
      "The specified product does not exist.",
    ]);
    expect(
      await code(
        new BatchQueryDeviceDetailRequest({
          iotInstanceId: "iot-cn-nope",
          productKey: "a1Bulk",
          deviceName: ["bulk-000"],
        }),
      ),
    ).toEqual([false, "iot.system.InstanceNotFound", "The specified instance ID does not exist."]);
  });

  test("quota: 5 calls in one second pass, the 6th gets Throttling.User", async () => {
    const client = sdkClient(emu);
    const req = new BatchQueryDeviceDetailRequest({ productKey: DEMO, deviceName: ["sensor-001"] });
    const results = await Promise.allSettled(Array.from({ length: 6 }, () => client.batchQueryDeviceDetail(req)));
    expect(results.map((r) => r.status).sort()).toEqual([
      "fulfilled",
      "fulfilled",
      "fulfilled",
      "fulfilled",
      "fulfilled",
      "rejected",
    ]);
    const err = await sdkError(client.batchQueryDeviceDetail(req));
    expect([err.statusCode, err.code]).toEqual([400, "Throttling.User"]);
    expect(emu.requests({ action: "BatchQueryDeviceDetail", outcome: "throttled" })).toHaveLength(2);
  });
});
