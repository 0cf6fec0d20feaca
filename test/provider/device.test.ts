import { Emulator } from "../../emulator";
import * as device from "../../provider/host/device-reset";
import {
  ConfigurationError,
  IotApiError,
  PartialResetError,
  RetriesExhaustedError,
} from "../../provider/shared/errors";
import { configFor, context, emulator, programDir, sent, TEST_KEY_ID } from "./support";

let emu: Emulator;
beforeEach(async () => {
  emu = await emulator({ jobDurationMs: 300 });
});
afterEach(() => emu.stop());

const pair = { productKey: "a1DemoProduct", deviceName: "sensor-001" };

describe("DeviceRegistrationReset create against the emulator", () => {
  test("one ResetThing by ProductKey+DeviceName, outputs echo the identity and record the call", async () => {
    const ctx = context(configFor(emu));
    const before = Date.now();
    const result = await device.create(ctx, { ...pair, endpoint: emu.endpoint, triggers: ["wave-1"] });
    const [request] = emu.requests({ action: "ResetThing" });
    expect(emu.requests()).toHaveLength(1);
    expect(request?.params).toEqual({ ProductKey: "a1DemoProduct", DeviceName: "sensor-001" });
    expect(request?.accessKeyId).toBe(TEST_KEY_ID);
    expect(result.id).toBe(request?.requestId);
    expect(result.outs).toEqual({
      ...pair,
      endpoint: emu.endpoint,
      triggers: ["wave-1"],
      success: true,
      requestId: request?.requestId,
      resetAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    });
    expect(Date.parse(result.outs.resetAt as string)).toBeGreaterThanOrEqual(before - 1);
    expect(emu.resetCount(pair)).toBe(1);
  });

  test("by IotId sends only the IotId, and the IotId wins over a pair", async () => {
    const ctx = context(configFor(emu));
    const iotId = emu.device(pair)?.iotId as string;
    await device.create(ctx, { iotId, endpoint: emu.endpoint });
    await device.create(ctx, {
      iotId,
      productKey: "a1DemoProduct",
      deviceName: "sensor-002",
      endpoint: emu.endpoint,
      triggers: ["second"],
    });
    expect(sent(emu)).toEqual([{ IotId: iotId }, { IotId: iotId }]);
    expect(emu.resetCount(pair)).toBe(2);
    expect(emu.resetCount({ productKey: "a1DemoProduct", deviceName: "sensor-002" })).toBe(0);
  });

  test("Success: false is an error naming the device, Code, message and RequestId, never retried", async () => {
    const ctx = context(configFor(emu));
    const error = await device
      .create(ctx, { productKey: "a1DemoProduct", deviceName: "ghost-001", endpoint: emu.endpoint })
      .catch((e) => e);
    const [request] = emu.requests();
    expect(emu.requests()).toHaveLength(1);
    expect(error).toBeInstanceOf(IotApiError);
    expect(error.message).toBe(
      `ResetThing failed for device "a1DemoProduct/ghost-001": iot.device.NotExistedDevice: The specified device does not exist. ` +
        `(RequestId: ${request?.requestId}). Check productKey/deviceName or iotId, and pass iotInstanceId for an instance that has an ID.`,
    );
  });

  test("a device of an instance with an ID is found only with its iotInstanceId", async () => {
    const ctx = context(configFor(emu));
    emu.addDevices("a1InstProd", [{ deviceName: "inst-dev-1" }], { iotInstanceId: "iot-cn-test01" });
    const target = { productKey: "a1InstProd", deviceName: "inst-dev-1", endpoint: emu.endpoint };
    await expect(device.create(ctx, target)).rejects.toThrow(
      /^ResetThing failed for device "a1InstProd\/inst-dev-1": iot\.device\.NotExistedDevice/,
    );
    await device.create(ctx, { ...target, iotInstanceId: "iot-cn-test01" });
    await expect(device.create(ctx, { ...target, iotInstanceId: "iot-cn-nope" })).rejects.toThrow(
      /^ResetThing failed for device "a1InstProd\/inst-dev-1" in instance "iot-cn-nope": iot\.system\.InstanceNotFound: The specified instance ID does not exist\. \(RequestId: [^)]+\)\. Check iotInstanceId and region/,
    );
    expect(sent(emu)).toEqual([
      { ProductKey: "a1InstProd", DeviceName: "inst-dev-1" },
      { ProductKey: "a1InstProd", DeviceName: "inst-dev-1", IotInstanceId: "iot-cn-test01" },
      { ProductKey: "a1InstProd", DeviceName: "inst-dev-1", IotInstanceId: "iot-cn-nope" },
    ]);
  });

  test.each([
    ["throttle", 2],
    ["serverError", 2],
  ] as const)("a %s fault (not applied / answered) is retried, then the reset succeeds once", async (fault, count) => {
    // A short read timeout so that the held "timeout" fault costs 400 ms, not 5 s.
    const ctx = context(configFor(emu, { "iotReset:readTimeoutMs": "400" }));
    emu.scriptFaults("ResetThing", fault, count);
    const result = await device.create(ctx, { ...pair, endpoint: emu.endpoint });
    const calls = emu.requests({ action: "ResetThing" });
    expect(calls).toHaveLength(count + 1);
    expect(calls.map((c) => c.outcome)).toEqual([...Array(count).fill("fault"), "success"]);
    expect(result.outs.requestId).toBe(calls[count]?.requestId);
    expect(emu.resetCount(pair)).toBe(1);
  });

  test("retries are bounded: the error says what was tried and the last failure", async () => {
    const ctx = context(configFor(emu, { "iotReset:maxAttempts": "3" }));
    emu.scriptFaults("ResetThing", "throttle", 10);
    const error = await device.create(ctx, { ...pair, endpoint: emu.endpoint }).catch((e) => e);
    const calls = emu.requests({ action: "ResetThing" });
    expect(calls).toHaveLength(3);
    expect(error).toBeInstanceOf(RetriesExhaustedError);
    expect(error.message).toMatch(
      new RegExp(
        `^ResetThing for device "a1DemoProduct/sensor-001" did not succeed after 3 attempts over \\d+\\.\\d s \\(throttling, connection failures before sending and 5xx answers are retried with backoff\\); ` +
          `last failure: HTTP 400 Throttling: Request was denied due to request throttling\\. \\(RequestId: ${calls[2]?.requestId}\\)\\. Every attempt was refused or answered with an error, so the device was not reset and nothing is recorded: run the update again once the service recovers\\.$`,
      ),
    );
    expect(emu.resetCount(pair)).toBe(0);
  });

  test("a gateway over 2,000 sub-devices returns a JobId; waitForJob polls QueryJob to COMPLETED", async () => {
    const ctx = context(configFor(emu));
    const gateway = { productKey: "a1DemoProduct", deviceName: "gateway-01" };
    const result = await device.create(ctx, { ...gateway, endpoint: emu.endpoint, waitForJob: true });
    const [reset] = emu.requests({ action: "ResetThing" });
    const polls = emu.requests({ action: "QueryJob" });
    expect(result.outs).toMatchObject({
      success: true,
      jobId: expect.any(String),
      jobStatus: "COMPLETED",
      waitForJob: true,
    });
    expect(polls.length).toBeGreaterThanOrEqual(2);
    expect(polls.every((p) => p.params.JobId === result.outs.jobId)).toBe(true);
    expect(reset?.params).toEqual({ ProductKey: "a1DemoProduct", DeviceName: "gateway-01" });
  });

  test("without waitForJob the JobId is recorded and nothing is polled", async () => {
    const ctx = context(configFor(emu));
    const result = await device.create(ctx, {
      productKey: "a1DemoProduct",
      deviceName: "gateway-01",
      endpoint: emu.endpoint,
    });
    expect(result.outs.jobId).toEqual(expect.any(String));
    expect(result.outs.jobStatus).toBeUndefined();
    expect(emu.requests({ action: "QueryJob" })).toHaveLength(0);
  });

  test("a failed job is an error that still records the JobId (created, not initialized)", async () => {
    const ctx = context(configFor(emu));
    emu.failNextJob("FAILED");
    const error = await device
      .create(ctx, { productKey: "a1DemoProduct", deviceName: "gateway-01", endpoint: emu.endpoint, waitForJob: true })
      .catch((e) => e);
    const [reset] = emu.requests({ action: "ResetThing" });
    expect(error).toBeInstanceOf(PartialResetError);
    expect(error.id).toBe(reset?.requestId);
    expect(error.properties).toMatchObject({
      jobId: expect.any(String),
      jobStatus: "FAILED",
      requestId: reset?.requestId,
      success: true,
    });
    expect(error.properties.__provider).toBeUndefined();
    expect(error.message).toBe(
      `The reset of device "a1DemoProduct/gateway-01" was sent (RequestId: ${reset?.requestId}), but its device job ` +
        `${error.properties.jobId} ended FAILED. The JobId is recorded; inspect the job in the IoT console, then change a trigger to reset the device again.`,
    );
  });

  test("a job still running at iotReset:jobTimeoutSeconds is an error that records the JobId", async () => {
    const ctx = context(configFor(emu, { "iotReset:jobTimeoutSeconds": "0.1" }));
    emu.failNextJob("TIMEOUT");
    const error = await device
      .create(ctx, { productKey: "a1DemoProduct", deviceName: "gateway-01", endpoint: emu.endpoint, waitForJob: true })
      .catch((e) => e);
    expect(error).toBeInstanceOf(PartialResetError);
    expect(error.properties.jobStatus).toBe("IN_PROGRESS");
    expect(error.message).toMatch(/ was still IN_PROGRESS after 0\.1 s \(iotReset:jobTimeoutSeconds\)\./);
  });
});

describe("settings and credentials", () => {
  test("no region anywhere: an error naming each way to set it, nothing sent", async () => {
    const config = configFor(emu);
    delete config["alicloud:region"];
    const error = await device.create(context(config), { ...pair, endpoint: emu.endpoint }).catch((e) => e);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error.message).toBe(
      "No region is set. Give the resource a `region` argument, or run `pulumi config set alicloud:region cn-shanghai`, or set the ALIBABA_CLOUD_REGION_ID environment variable.",
    );
    expect(emu.requests()).toHaveLength(0);
  });

  test("no credentials anywhere: an error listing every way to provide them, nothing sent", async () => {
    const saved = { ...process.env };
    for (const k of Object.keys(process.env)) if (/^ALIBABA_CLOUD_ACCESS|^ALICLOUD_/.test(k)) delete process.env[k];
    process.env.ALIBABA_CLOUD_CREDENTIALS_FILE = "/nonexistent/credentials.ini";
    try {
      const config = configFor(emu);
      delete config["alicloud:accessKey"];
      delete config["alicloud:secretKey"];
      const error = await device.create(context(config), { ...pair, endpoint: emu.endpoint }).catch((e) => e);
      expect(error).toBeInstanceOf(ConfigurationError);
      expect(error.message).toMatch(
        /^No usable Alibaba Cloud credentials \(.+\)\. Provide credentials in one of these ways: `pulumi config set alicloud:accessKey <id>`/,
      );
      expect(error.message).toContain("ALIBABA_CLOUD_ACCESS_KEY_ID / ALIBABA_CLOUD_ACCESS_KEY_SECRET");
      expect(error.message).toContain("OIDC/RRSA");
      expect(error.message).toContain("ECS instance RAM role");
      expect(emu.requests()).toHaveLength(0);
    } finally {
      process.env = saved;
    }
  });

  test("stack config that breaks a rule fails configure, and every later call, instead of running on defaults", async () => {
    const ctx = context(configFor(emu));
    const message =
      'Stack config iotReset:maxAttempts must be a whole number from 1 to 100, got "0". Fix it with `pulumi config set iotReset:maxAttempts <value>`, or remove it to use the default (8).';
    expect(() => ctx.configure((k) => ({ ...configFor(emu), "iotReset:maxAttempts": "0" })[k])).toThrow(message);
    await expect(device.create(ctx, { ...pair, endpoint: emu.endpoint })).rejects.toThrow(message);
    expect(emu.requests()).toHaveLength(0);
  });

  test("a wrong secret is a signature error naming the device, Code and RequestId, not retried", async () => {
    const ctx = context(configFor(emu, { "alicloud:secretKey": "wrong-secret" }));
    const error = await device.create(ctx, { ...pair, endpoint: emu.endpoint }).catch((e) => e);
    const calls = emu.requests();
    expect(calls).toHaveLength(1);
    expect(error).toBeInstanceOf(IotApiError);
    expect(error.message).toMatch(
      new RegExp(
        `^ResetThing failed for device "a1DemoProduct/sensor-001": SignatureDoesNotMatch: Specified signature does not match our calculation\\.[\\s\\S]* \\(RequestId: ${calls[0]?.requestId}\\)\\. Check the Alibaba Cloud credentials`,
      ),
    );
  });

  test("the environment's region and the @pulumi/alicloud key variables are used when config has none", async () => {
    const { ProviderContext } = await import("../../provider/host/provider-context");
    const ctx = new ProviderContext(
      {
        ALIBABA_CLOUD_REGION_ID: "cn-hangzhou",
        ALICLOUD_ACCESS_KEY: TEST_KEY_ID,
        ALICLOUD_SECRET_KEY: configFor(emu)["alicloud:secretKey"],
        // The engine tells the provider process its project; the program passes the stack (absent here).
        PULUMI_PROJECT: "iot-reset-test",
        PULUMI_NODEJS_STACK: "test",
      },
      programDir(emu),
    );
    await device.create(ctx, { ...pair, endpoint: emu.endpoint });
    expect(emu.requests({ outcome: "success" })).toHaveLength(1);
  });
});

describe("lifecycle verbs that send nothing", () => {
  // check, diff and update take no provider context, so they cannot reach the API at all; the end-to-end
  // tests prove the same of every verb through the host. Here: delete's log line, and a read with nothing to refresh.
  test("delete logs that a reset cannot be undone; read of a finished reset sends nothing", async () => {
    const ctx = context(configFor(emu));
    const olds = { ...pair, success: true, requestId: "R1", resetAt: "2026-01-01T00:00:00.000Z" };
    const stderr = jest.spyOn(process.stderr, "write").mockImplementation(() => true);
    await device.remove(ctx, "R1", olds);
    expect(stderr).toHaveBeenCalledWith(
      'iot-reset: device "a1DemoProduct/sensor-001": the record of its reset (RequestId: R1) leaves state; a reset cannot be undone, so nothing is sent to IoT Platform.\n',
    );
    stderr.mockRestore();
    await device.read(ctx, "R1", olds);
    expect(emu.requests()).toHaveLength(0);
  });

  test("refresh re-reads a job recorded as still running, once, and keeps the rest of the record", async () => {
    const ctx = context(configFor(emu));
    const created = await device.create(ctx, {
      productKey: "a1DemoProduct",
      deviceName: "gateway-01",
      endpoint: emu.endpoint,
    });
    const recorded = { ...created.outs, jobStatus: "IN_PROGRESS" };
    await new Promise((r) => setTimeout(r, 400)); // the emulator's job lasts 300 ms
    const refreshed = await device.read(ctx, created.id, recorded);
    expect(emu.requests({ action: "QueryJob" }).map((r) => r.params)).toEqual([{ JobId: created.outs.jobId }]);
    expect(refreshed).toEqual({ id: created.id, props: { ...recorded, jobStatus: "COMPLETED" } });
  });
});
