// The IoT Platform operations, driven by the real @alicloud/iot20180120 SDK against the emulator.
import {
  QueryDeviceDetailRequest,
  QueryJobRequest,
  QueryJobStatisticsRequest,
  RegisterDeviceRequest,
  ResetThingRequest,
} from "@alicloud/iot20180120";
import { iotIdFor, startEmulator, type Emulator } from "../../emulator";
import { sdkClient, sdkError } from "./helpers";

const DEMO = "a1DemoProduct";
let emu: Emulator;

beforeEach(async () => {
  emu = await startEmulator({ jobDurationMs: 800 });
});
afterEach(async () => {
  await emu.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("ResetThing", () => {
  test("resets a device named by ProductKey + DeviceName: registration reset, activation kept", async () => {
    const before = emu.device({ productKey: DEMO, deviceName: "sensor-001" });
    expect(before).toMatchObject({ registered: true, activated: true, resetCount: 0 });
    const res = await sdkClient(emu).resetThing(new ResetThingRequest({ productKey: DEMO, deviceName: "sensor-001" }));
    expect(res.statusCode).toBe(200);
    expect(res.body?.success).toBe(true);
    expect(res.body?.jobId).toBeUndefined();
    expect(res.body?.requestId).toMatch(/^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$/);
    expect(emu.device({ productKey: DEMO, deviceName: "sensor-001" })).toMatchObject({
      registered: false,
      activated: true,
      resetCount: 1,
    });
    expect(emu.resetCount({ productKey: DEMO, deviceName: "sensor-001" })).toBe(1);
    expect(emu.totalResets()).toBe(1);
  });

  test("resets a device named by IotId", async () => {
    const iotId = iotIdFor(DEMO, "sensor-002");
    const res = await sdkClient(emu).resetThing(new ResetThingRequest({ iotId }));
    expect(res.body?.success).toBe(true);
    expect(emu.resetCount({ iotId })).toBe(1);
    expect(emu.device({ iotId })?.deviceName).toBe("sensor-002");
  });

  test("the IotId wins when both the IotId and the pair are given", async () => {
    const res = await sdkClient(emu).resetThing(
      new ResetThingRequest({ iotId: iotIdFor(DEMO, "sensor-003"), productKey: DEMO, deviceName: "sensor-004" }),
    );
    expect(res.body?.success).toBe(true);
    expect(emu.resetCount({ productKey: DEMO, deviceName: "sensor-003" })).toBe(1);
    expect(emu.resetCount({ productKey: DEMO, deviceName: "sensor-004" })).toBe(0);
  });

  test("an unknown pair is iot.device.NotExistedDevice with HTTP 200", async () => {
    const res = await sdkClient(emu).resetThing(
      new ResetThingRequest({ productKey: DEMO, deviceName: "no-such-device" }),
    );
    expect(res.statusCode).toBe(200);
    expect(res.body).toMatchObject({
      success: false,
      code: "iot.device.NotExistedDevice",
      errorMessage: "The specified device does not exist.",
    });
    expect(emu.totalResets()).toBe(0);
  });

  test("an unknown IotId is iot.device.InvalidIoTId", async () => {
    const res = await sdkClient(emu).resetThing(new ResetThingRequest({ iotId: "NoSuchIotIdAAAAAAAAAA00100" }));
    expect(res.body).toMatchObject({
      success: false,
      code: "iot.device.InvalidIoTId",
      errorMessage: "The device IotId is incorrect.",
    });
  });

  test("a ProductKey without DeviceName is iot.common.InvalidFormattedParameter", async () => {
    const res = await sdkClient(emu).resetThing(new ResetThingRequest({ productKey: DEMO }));
    expect(res.body).toMatchObject({
      success: false,
      code: "iot.common.InvalidFormattedParameter",
      errorMessage: "The parameter format is invalid.",
    });
  });

  test("a device of an instance with an ID is found only when IotInstanceId is passed", async () => {
    const client = sdkClient(emu);
    const without = await client.resetThing(
      new ResetThingRequest({ productKey: "a1EntProduct", deviceName: "tracker-001" }),
    );
    expect(without.body).toMatchObject({ success: false, code: "iot.device.NotExistedDevice" });
    const byIotId = await client.resetThing(
      new ResetThingRequest({ iotId: iotIdFor("a1EntProduct", "tracker-001", "iot-cn-demo01") }),
    );
    expect(byIotId.body).toMatchObject({ success: false, code: "iot.device.InvalidIoTId" });
    const withId = await client.resetThing(
      new ResetThingRequest({ iotInstanceId: "iot-cn-demo01", productKey: "a1EntProduct", deviceName: "tracker-001" }),
    );
    expect(withId.body?.success).toBe(true);
    expect(
      emu.resetCount({ productKey: "a1EntProduct", deviceName: "tracker-001", iotInstanceId: "iot-cn-demo01" }),
    ).toBe(1);
  });

  test("an unknown IotInstanceId is iot.system.InstanceNotFound", async () => {
    const res = await sdkClient(emu).resetThing(
      new ResetThingRequest({ iotInstanceId: "iot-cn-nope", productKey: DEMO, deviceName: "sensor-001" }),
    );
    expect(res.body).toMatchObject({
      success: false,
      code: "iot.system.InstanceNotFound",
      errorMessage: "The specified instance ID does not exist.",
    });
  });

  test("a product without dynamic registration: success, registration untouched", async () => {
    const ref = { productKey: "a1StaticProd", deviceName: "meter-001" };
    expect(emu.device(ref)).toMatchObject({ dynamicRegistration: false, registered: false });
    const res = await sdkClient(emu).resetThing(new ResetThingRequest(ref));
    expect(res.body?.success).toBe(true);
    expect(emu.device(ref)).toMatchObject({ registered: false, activated: true, resetCount: 1 });
  });

  test("a gateway with at most 2,000 sub-devices loses its topology at once, without a job", async () => {
    const ref = { productKey: DEMO, deviceName: "gateway-02" };
    expect(emu.device(ref)?.subDeviceCount).toBe(150);
    const res = await sdkClient(emu).resetThing(new ResetThingRequest(ref));
    expect(res.body?.success).toBe(true);
    expect(res.body?.jobId).toBeUndefined();
    expect(emu.device(ref)).toMatchObject({ subDeviceCount: 0, registered: false, resetCount: 1 });
    emu.addDevices(DEMO, [{ deviceName: "gateway-2000", gateway: true, subDeviceCount: 2000 }]);
    const edge = await sdkClient(emu).resetThing(
      new ResetThingRequest({ productKey: DEMO, deviceName: "gateway-2000" }),
    );
    expect(edge.body?.jobId).toBeUndefined();
    expect(emu.device({ productKey: DEMO, deviceName: "gateway-2000" })?.subDeviceCount).toBe(0);
  });

  test("a gateway with more than 2,000 sub-devices returns a JobId; QueryJob goes IN_PROGRESS then COMPLETED", async () => {
    const client = sdkClient(emu);
    const ref = { productKey: DEMO, deviceName: "gateway-01" };
    const res = await client.resetThing(new ResetThingRequest(ref));
    expect(res.body?.success).toBe(true);
    const jobId = res.body?.jobId as string;
    expect(jobId).toMatch(/^[0-9a-f]{32}$/);
    expect(emu.device(ref)?.subDeviceCount).toBe(2500);

    const running = await client.queryJob(new QueryJobRequest({ jobId }));
    expect(running.body?.success).toBe(true);
    expect(running.body?.data?.status).toBe("IN_PROGRESS");
    expect(running.body?.data?.jobId).toBe(jobId);
    const stats = await client.queryJobStatistics(new QueryJobStatisticsRequest({ jobId }));
    expect(stats.body?.data?.total).toBe(2500);
    expect((stats.body?.data?.succeeded ?? -1) + (stats.body?.data?.inProgress ?? -1)).toBe(2500);

    await sleep(850);
    const done = await client.queryJob(new QueryJobRequest({ jobId }));
    expect(done.body?.data?.status).toBe("COMPLETED");
    const finalStats = await client.queryJobStatistics(new QueryJobStatisticsRequest({ jobId }));
    expect(finalStats.body?.data).toMatchObject({ total: 2500, succeeded: 2500, inProgress: 0, failed: 0, timeOut: 0 });
    expect(emu.device(ref)?.subDeviceCount).toBe(0);
    expect(emu.jobs()).toEqual([expect.objectContaining({ jobId, status: "COMPLETED", total: 2500 })]);
  });

  test("failNextJob makes the next job end FAILED, and a later one TIMEOUT via failJob; the topology stays", async () => {
    const client = sdkClient(emu);
    const ref = { productKey: DEMO, deviceName: "gateway-01" };
    emu.failNextJob("FAILED");
    const first = (await client.resetThing(new ResetThingRequest(ref))).body?.jobId as string;
    const second = (await client.resetThing(new ResetThingRequest(ref))).body?.jobId as string;
    emu.failJob(second, "TIMEOUT");
    expect((await client.queryJob(new QueryJobRequest({ jobId: first }))).body?.data?.status).toBe("IN_PROGRESS");
    await sleep(850);
    expect((await client.queryJob(new QueryJobRequest({ jobId: first }))).body?.data?.status).toBe("FAILED");
    expect((await client.queryJob(new QueryJobRequest({ jobId: second }))).body?.data?.status).toBe("TIMEOUT");
    const failedStats = await client.queryJobStatistics(new QueryJobStatisticsRequest({ jobId: first }));
    expect(failedStats.body?.data).toMatchObject({ total: 2500, succeeded: 0, failed: 2500, timeOut: 0 });
    const timeoutStats = await client.queryJobStatistics(new QueryJobStatisticsRequest({ jobId: second }));
    expect(timeoutStats.body?.data).toMatchObject({ total: 2500, succeeded: 0, failed: 0, timeOut: 2500 });
    expect(emu.device(ref)?.subDeviceCount).toBe(2500);
    expect(() => emu.failJob(first, "TIMEOUT")).toThrow(`failJob: job ${first} has already ended`);
  });

  test("QueryJob of an unknown JobId is iot.system.IllegalRequest", async () => {
    const res = await sdkClient(emu).queryJob(new QueryJobRequest({ jobId: "0123456789abcdef0123456789abcdef" }));
    expect(res.body).toMatchObject({
      success: false,
      code: "iot.system.IllegalRequest",
      errorMessage: "The request parameter is invalid.",
    });
  });

  test("failDevice makes ResetThing answer the scripted business error and leaves the device unchanged", async () => {
    const ref = { productKey: DEMO, deviceName: "sensor-005" };
    emu.failDevice(ref, "iot.device.InactiveDevice");
    const client = sdkClient(emu);
    const res = await client.resetThing(new ResetThingRequest(ref));
    expect(res.body).toMatchObject({
      success: false,
      code: "iot.device.InactiveDevice",
      errorMessage: "The device is inactive.",
    });
    expect(emu.device(ref)).toMatchObject({ registered: true, resetCount: 0 });
    emu.failDevice(ref, "iot.custom.Whatever", "Custom words.");
    expect((await client.resetThing(new ResetThingRequest(ref))).body).toMatchObject({
      code: "iot.custom.Whatever",
      errorMessage: "Custom words.",
    });
    emu.healDevice(ref);
    expect((await client.resetThing(new ResetThingRequest(ref))).body?.success).toBe(true);
  });
});

describe("QueryDeviceDetail and RegisterDevice", () => {
  test("QueryDeviceDetail reports the device; activation survives a reset, the connection does not", async () => {
    const client = sdkClient(emu);
    const req = new QueryDeviceDetailRequest({ productKey: DEMO, deviceName: "gateway-01" });
    const before = await client.queryDeviceDetail(req);
    expect(before.body?.success).toBe(true);
    expect(before.body?.data).toMatchObject({
      iotId: iotIdFor(DEMO, "gateway-01"),
      productKey: DEMO,
      productName: "Demo sensors",
      deviceName: "gateway-01",
      nodeType: 1,
      status: "ONLINE",
    });
    expect(before.body?.data?.deviceSecret).toMatch(/^[0-9a-f]{32}$/);
    await client.resetThing(new ResetThingRequest({ productKey: DEMO, deviceName: "gateway-01" }));
    const after = await client.queryDeviceDetail(req);
    expect(after.body?.data?.status).toBe("OFFLINE");
    expect(after.body?.data?.gmtActive).toBe(before.body?.data?.gmtActive);
    const missing = await client.queryDeviceDetail(
      new QueryDeviceDetailRequest({ productKey: DEMO, deviceName: "ghost-01" }),
    );
    expect(missing.body).toMatchObject({ success: false, code: "iot.device.NotExistedDevice" });
  });

  test("RegisterDevice adds an unregistered, inactive device; a repeated name is refused", async () => {
    const client = sdkClient(emu);
    const res = await client.registerDevice(
      new RegisterDeviceRequest({ productKey: DEMO, deviceName: "new-device-1" }),
    );
    expect(res.body?.success).toBe(true);
    expect(res.body?.data).toMatchObject({
      productKey: DEMO,
      deviceName: "new-device-1",
      iotId: iotIdFor(DEMO, "new-device-1"),
    });
    expect(emu.device({ productKey: DEMO, deviceName: "new-device-1" })).toMatchObject({
      registered: false,
      activated: false,
    });
    const again = await client.registerDevice(
      new RegisterDeviceRequest({ productKey: DEMO, deviceName: "new-device-1" }),
    );
    expect(again.body).toMatchObject({
      success: false,
      code: "iot.device.AlreadyExistedDeviceName",
      errorMessage: "The device name already exists.",
    });
    const noProduct = await client.registerDevice(
      new RegisterDeviceRequest({ productKey: "a1Missing", deviceName: "x-device" }),
    );
    expect(noProduct.body).toMatchObject({
      success: false,
      code: "iot.prod.NotExistedProduct",
      errorMessage: "The specified product does not exist.",
    });
  });
});

describe("observability", () => {
  test("every request is recorded with action, params, outcome, status, Code, RequestId and AccessKey ID — never the secret", async () => {
    const client = sdkClient(emu);
    const ok = await client.resetThing(new ResetThingRequest({ productKey: DEMO, deviceName: "sensor-006" }));
    await client.resetThing(new ResetThingRequest({ productKey: DEMO, deviceName: "nobody-here" }));
    await sdkError(
      sdkClient(emu, { accessKeySecret: "wrong-secret" }).resetThing(
        new ResetThingRequest({ productKey: DEMO, deviceName: "sensor-006" }),
      ),
    );
    const log = emu.requests();
    expect(log.map((r) => [r.action, r.outcome, r.httpStatus, r.code])).toEqual([
      ["ResetThing", "success", 200, undefined],
      ["ResetThing", "business-error", 200, "iot.device.NotExistedDevice"],
      ["ResetThing", "auth-error", 400, "SignatureDoesNotMatch"],
    ]);
    expect(log[0]).toMatchObject({
      params: { ProductKey: DEMO, DeviceName: "sensor-006" },
      accessKeyId: emu.credentials.accessKeyId,
      requestId: ok.body?.requestId,
    });
    expect(JSON.stringify(log)).not.toContain(emu.credentials.accessKeySecret);
    expect(emu.requests({ outcome: "success" })).toHaveLength(1);
    expect(emu.requests({ action: "QueryJob" })).toHaveLength(0);
    expect(emu.resetCount({ productKey: DEMO, deviceName: "sensor-006" })).toBe(1);
    emu.clearRequests();
    expect(emu.requests()).toEqual([]);
    expect(emu.totalResets()).toBe(1);
  });
});

describe("STS credentials", () => {
  test("a configured STS triple is accepted with its token and refused without or with another", async () => {
    const sts = await startEmulator({
      credentials: [
        { accessKeyId: "STS.NUemuTestKey", accessKeySecret: "stsSecret123", securityToken: "CAIS-token-abc" },
      ],
    });
    try {
      const good = sdkClient(sts, { securityToken: "CAIS-token-abc" });
      expect(
        (await good.resetThing(new ResetThingRequest({ productKey: DEMO, deviceName: "sensor-001" }))).body?.success,
      ).toBe(true);
      const wrong = await sdkError(
        sdkClient(sts, { securityToken: "CAIS-other" }).resetThing(
          new ResetThingRequest({ productKey: DEMO, deviceName: "sensor-001" }),
        ),
      );
      expect([wrong.statusCode, wrong.code, wrong.data.Message]).toEqual([
        400,
        "InvalidSecurityToken.MismatchWithAccessKey",
        "Specified SecurityToken mismatch with the AccessKey.",
      ]);
      const none = await sdkError(
        sdkClient(sts).resetThing(new ResetThingRequest({ productKey: DEMO, deviceName: "sensor-001" })),
      );
      expect([none.statusCode, none.code, none.data.Message]).toEqual([
        400,
        "MissingSecurityToken",
        "SecurityToken is mandatory for this action.",
      ]);
      expect(sts.resetCount({ productKey: DEMO, deviceName: "sensor-001" })).toBe(1);
    } finally {
      await sts.stop();
    }
  });
});
