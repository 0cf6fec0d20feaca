/**
 * DeviceRegistrationReset end to end under the real Pulumi CLI: the Automation API runs the program inline,
 * the engine drives the dynamic-provider host, and the real SDK talks to the emulator. Each test asserts
 * exactly what reached the emulator.
 */
import * as fs from "fs";
import { Emulator } from "../../emulator";
import { RunResult } from "../../engine/stack";
import { TEST_KEY_ID, TEST_SECRET } from "../provider/support";
import { threadEmulator } from "./emulator-thread";
import { testStack, TestStack } from "./engine";
import { deviceProgram } from "./programs/device";

let emu: Emulator;
let t: TestStack;
beforeEach(async () => {
  emu = await threadEmulator({ jobDurationMs: 300 });
  t = await testStack(deviceProgram);
});
afterEach(async () => {
  await emu.stop();
  t.dispose();
});

/** The stack config of one run: the emulator, the device, fast polls, and the given values on top. */
async function configure(config: Record<string, string>): Promise<void> {
  await t.stack.setConfig(
    {
      "alicloud:region": "cn-shanghai",
      "iotReset:jobPollSeconds": "0.05",
      endpoint: emu.endpoint,
      productKey: "a1DemoProduct",
      deviceName: "sensor-001",
      ...config,
    },
    { "alicloud:accessKey": TEST_KEY_ID, "alicloud:secretKey": TEST_SECRET },
  );
}

/** One `pulumi up` (or preview/destroy) of the program with the given config. */
async function up(
  config: Record<string, string>,
  options: { preview?: boolean; destroy?: boolean } = {},
): Promise<RunResult> {
  await configure(config);
  if (options.preview) return t.stack.preview();
  if (options.destroy) return t.stack.destroy();
  return t.stack.up();
}

/** Everything the operator sees of a run. */
const shown = (r: RunResult) => [r.stdout, r.stderr, ...r.infos, ...r.warnings, ...r.errors].join("\n");
const resets = () => emu.requests({ action: "ResetThing" });
const deviceStep = (r: RunResult) =>
  r.steps.find((s) => s.type === "pulumi-nodejs:dynamic/iot:DeviceRegistrationReset");
const recordedDevice = async () =>
  (await t.stack.resources()).find((r) => r.type === "pulumi-nodejs:dynamic/iot:DeviceRegistrationReset");

describe("DeviceRegistrationReset under the Pulumi CLI", () => {
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
    expect(shown(destroyed)).toContain(
      `device "a1DemoProduct/sensor-001": the record of its reset (RequestId: ${resets()[0]?.requestId}) leaves state; a reset cannot be undone, so nothing is sent to IoT Platform.`,
    );
  });

  test("both identities: the program warns that the IotId wins, and only the IotId is sent", async () => {
    const iotId = emu.device({ productKey: "a1DemoProduct", deviceName: "sensor-003" })?.iotId as string;
    const result = await up({ iotId });
    expect(result.exitCode).toBe(0);
    expect(shown(result)).toContain(
      `both iotId and productKey/deviceName are set; IoT Platform resets the device with IotId "${iotId}" and ignores the pair.`,
    );
    expect(resets().map((r) => r.params)).toEqual([{ IotId: iotId }]);
  });

  test("a check failure names the property and sends nothing", async () => {
    const result = await up({ deviceName: "ab" });
    expect(result.exitCode).toBe(1);
    // The engine words a check failure itself, around the provider's rule.
    expect(result.errors).toEqual([
      "pulumi-nodejs:dynamic/iot:DeviceRegistrationReset resource 'device': property deviceName value {ab} has a problem: \"ab\" must be 4 to 32 characters of letters, digits and -_@.:",
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
    const recorded = await recordedDevice();
    expect(recorded?.outputs).toMatchObject({ jobStatus: "FAILED", jobId: expect.any(String), success: true });
    expect(recorded?.outputs?.__provider).toEqual(expect.any(String));
    const retried = await up({ ...gateway, trigger: "2" });
    expect(retried.errors).toEqual([]);
    expect(deviceStep(retried)).toMatchObject({ op: "replace", replaces: ["triggers"] });
    expect(resets()).toHaveLength(2);
    expect(retried.outputs.jobStatus).toBe("COMPLETED");
  });

  test("a package upgrade (different __provider text in state) replaces nothing and sends nothing", async () => {
    await up({});
    const state = JSON.parse(fs.readFileSync(t.stack.checkpointPath, "utf8"));
    for (const r of state.checkpoint.latest.resources) {
      for (const bag of [r.inputs, r.outputs]) {
        if (bag && typeof bag.__provider === "string")
          bag.__provider = `${bag.__provider}\n// written by version 0.0.1`;
      }
    }
    fs.writeFileSync(t.stack.checkpointPath, JSON.stringify(state));
    const after = await up({});
    expect(after.exitCode).toBe(0);
    expect(deviceStep(after)?.op).toBe("same");
    expect(emu.requests()).toHaveLength(1);
  });

  test("the secret key reaches no state, output or log, and the serialized provider is small", async () => {
    await up({});
    const again = await up({ trigger: "2" });
    const everything = [
      fs.readFileSync(t.stack.checkpointPath, "utf8"),
      t.stack.exportText(),
      shown(again),
      JSON.stringify(again.outputs),
    ].join("\n");
    expect(everything).not.toContain(TEST_SECRET);
    const provider = String((await recordedDevice())?.outputs?.__provider);
    expect(Buffer.byteLength(provider)).toBeLessThan(4096);
    expect(provider).toContain('require("pulumi-alicloud-iot-reset/provider-host")');
  });
});
