/**
 * DeviceRegistrationReset end to end: the real Pulumi runtime serializes the resource, the real
 * dynamic-provider host runs it (driven over gRPC by the offline runner, as the engine drives it), and the
 * real SDK talks to the emulator. Each test asserts exactly what reached the emulator.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Emulator } from "../../emulator";
import { run, RunResult } from "../../runner";
import { emulator, TEST_KEY_ID, TEST_SECRET } from "../provider/support";

const PROGRAM = path.resolve(__dirname, "..", "fixtures", "e2e", "device");

let emu: Emulator;
let statePath: string;
beforeEach(async () => {
  emu = await emulator({ jobDurationMs: 300 });
  statePath = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "e2e-device-")), "state.json");
});
afterEach(() => emu.stop());

/** One `pulumi up` (or preview/destroy) of the fixture with the given config. */
function up(
  config: Record<string, string>,
  options: { preview?: boolean; destroy?: boolean } = {},
): Promise<RunResult> {
  return run({
    programDir: PROGRAM,
    stack: "test",
    statePath,
    ...options,
    config: {
      "alicloud:region": "cn-shanghai",
      "iotReset:jobPollSeconds": "0.05",
      endpoint: emu.endpoint,
      productKey: "a1DemoProduct",
      deviceName: "sensor-001",
      ...config,
    },
    secretConfig: { "alicloud:accessKey": TEST_KEY_ID, "alicloud:secretKey": TEST_SECRET },
  });
}

const resets = () => emu.requests({ action: "ResetThing" });
const deviceStep = (r: RunResult) =>
  r.steps.find((s) => s.type === "pulumi-nodejs:dynamic/iot:DeviceRegistrationReset");

describe("DeviceRegistrationReset through the Pulumi runtime and dynamic-provider host", () => {
  test("create sends one reset; an unchanged second run sends nothing", async () => {
    const first = await up({});
    expect(first.errors).toEqual([]);
    expect(first.exitCode).toBe(0);
    expect(resets().map((r) => r.params)).toEqual([{ ProductKey: "a1DemoProduct", DeviceName: "sensor-001" }]);
    expect(deviceStep(first)?.op).toBe("create");
    expect(first.outputs).toMatchObject({ success: true, requestId: resets()[0]?.requestId });
    const second = await up({});
    expect(second.exitCode).toBe(0);
    expect(deviceStep(second)?.op).toBe("same");
    expect(resets()).toHaveLength(1);
    expect(emu.requests()).toHaveLength(1);
  });

  test("a trigger change resets again (replace); a waitForJob change updates without any call", async () => {
    await up({});
    const replaced = await up({ trigger: "2" });
    expect(deviceStep(replaced)).toMatchObject({ op: "replace", replaces: ["triggers"] });
    expect(resets()).toHaveLength(2);
    expect(replaced.outputs.requestId).toBe(resets()[1]?.requestId);
    const updated = await up({ trigger: "2", waitForJob: "true" });
    expect(deviceStep(updated)?.op).toBe("update");
    expect(emu.requests()).toHaveLength(2);
    expect(updated.outputs.requestId).toBe(resets()[1]?.requestId);
  });

  test("moving an explicit region to the stack config that names the same one is an update with no call", async () => {
    await up({ region: "cn-shanghai" });
    const rewritten = await up({});
    expect(rewritten.exitCode).toBe(0);
    expect(deviceStep(rewritten)?.op).toBe("update");
    const moved = await up({ region: "cn-beijing" }, { preview: true });
    expect(deviceStep(moved)).toMatchObject({ op: "replace", replaces: ["region"] });
    expect(emu.requests()).toHaveLength(1);
  });

  test("preview sends nothing and shows the replace; destroy sends nothing and says a reset cannot be undone", async () => {
    await up({});
    const preview = await up({ trigger: "3" }, { preview: true });
    expect(preview.exitCode).toBe(0);
    expect(deviceStep(preview)).toMatchObject({ op: "replace", replaces: ["triggers"] });
    expect(emu.requests()).toHaveLength(1);
    const destroyed = await up({}, { destroy: true });
    expect(destroyed.exitCode).toBe(0);
    expect(deviceStep(destroyed)?.op).toBe("delete");
    expect(emu.requests()).toHaveLength(1);
    expect(destroyed.providerLog.join("\n")).toContain(
      `device "a1DemoProduct/sensor-001": the record of its reset (RequestId: ${resets()[0]?.requestId}) leaves state; a reset cannot be undone, so nothing is sent to IoT Platform.`,
    );
  });

  test("both identities: the program warns that the IotId wins, and only the IotId is sent", async () => {
    const iotId = emu.device({ productKey: "a1DemoProduct", deviceName: "sensor-003" })?.iotId as string;
    const result = await up({ iotId });
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain(
      `both iotId and productKey/deviceName are set; IoT Platform resets the device with IotId "${iotId}" and ignores the pair.`,
    );
    expect(resets().map((r) => r.params)).toEqual([{ IotId: iotId }]);
  });

  test("a check failure names the property and sends nothing", async () => {
    const result = await up({ deviceName: "ab" });
    expect(result.exitCode).toBe(1);
    expect(result.errors).toEqual([
      'device: check failed: property `deviceName`: "ab" must be 4 to 32 characters of letters, digits and -_@.:',
    ]);
    expect(emu.requests()).toHaveLength(0);
  });

  test("a business error fails the update with the device, Code and RequestId, sent once", async () => {
    const result = await up({ deviceName: "ghost-001" });
    expect(result.exitCode).toBe(1);
    expect(resets()).toHaveLength(1);
    expect(result.errors.join("\n")).toContain(
      `ResetThing failed for device "a1DemoProduct/ghost-001": iot.device.NotExistedDevice: The specified device does not exist. (RequestId: ${resets()[0]?.requestId}).`,
    );
  });

  test("throttled twice, then successful: one device reset, recorded once", async () => {
    emu.scriptFaults("ResetThing", "throttle", 2);
    const result = await up({});
    expect(result.exitCode).toBe(0);
    expect(resets().map((r) => r.outcome)).toEqual(["fault", "fault", "success"]);
    expect(emu.resetCount({ productKey: "a1DemoProduct", deviceName: "sensor-001" })).toBe(1);
    expect(result.outputs.requestId).toBe(resets()[2]?.requestId);
  });

  test("a failed job is recorded with its JobId; a trigger change then replaces it, deleting the old record through the host", async () => {
    emu.failNextJob("FAILED");
    const gateway = { deviceName: "gateway-01", waitForJob: "true" };
    const failed = await up(gateway);
    expect(failed.exitCode).toBe(1);
    expect(failed.errors.join("\n")).toMatch(/device job \S+ ended FAILED\. The JobId is recorded/);
    const recorded = JSON.parse(fs.readFileSync(statePath, "utf8")).resources.find((r: { type: string }) =>
      r.type.endsWith(":DeviceRegistrationReset"),
    );
    expect(recorded.outputs).toMatchObject({ jobStatus: "FAILED", jobId: expect.any(String), success: true });
    expect(recorded.outputs.__provider).toEqual(expect.any(String));
    const retried = await up({ ...gateway, trigger: "2" });
    expect(retried.errors).toEqual([]);
    expect(deviceStep(retried)).toMatchObject({ op: "replace", replaces: ["triggers"] });
    expect(resets()).toHaveLength(2);
    expect(retried.outputs.jobStatus).toBe("COMPLETED");
  });

  test("a package upgrade (different __provider text in state) replaces nothing and sends nothing", async () => {
    await up({});
    const state = JSON.parse(fs.readFileSync(statePath, "utf8"));
    for (const r of state.resources) {
      for (const bag of [r.inputs, r.outputs]) {
        if (bag && typeof bag.__provider === "string")
          bag.__provider = `${bag.__provider}\n// written by version 0.0.1`;
      }
    }
    fs.writeFileSync(statePath, JSON.stringify(state));
    const after = await up({});
    expect(after.exitCode).toBe(0);
    expect(deviceStep(after)?.op).toBe("same");
    expect(emu.requests()).toHaveLength(1);
  });

  test("the secret key reaches no state, output or log, and the serialized provider is small", async () => {
    await up({});
    const again = await up({ trigger: "2" });
    const state = fs.readFileSync(statePath, "utf8");
    const everything = [
      state,
      again.stdout,
      JSON.stringify(again.outputs),
      again.providerLog.join("\n"),
      again.errors.join("\n"),
    ].join("\n");
    expect(everything).not.toContain(TEST_SECRET);
    const device = JSON.parse(state).resources.find((r: { type: string }) =>
      r.type.endsWith(":DeviceRegistrationReset"),
    );
    expect(Buffer.byteLength(device.outputs.__provider)).toBeLessThan(4096);
    expect(device.outputs.__provider).toContain('require("pulumi-alicloud-iot-reset/provider-host")');
  });
});
