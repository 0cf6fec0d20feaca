/**
 * Inputs that cannot be misread, under the real Pulumi CLI: what `pulumi preview` refuses, with the exact
 * text the operator sees, and that nothing reaches IoT Platform.
 */
import * as path from "path";
import { Emulator } from "../../emulator";
import { NO_REGION } from "../../provider/host/settings";
import { TEST_KEY_ID, TEST_SECRET } from "../provider/support";
import { threadEmulator } from "./emulator-thread";
import { runInChild, testStack, TestStack } from "./engine";
import { deviceProgram } from "./programs/device";

let emu: Emulator;
let t: TestStack;
beforeEach(async () => {
  emu = await threadEmulator();
  t = await testStack(deviceProgram);
});
afterEach(async () => {
  await emu.stop();
  t.dispose();
});

const secrets = { "alicloud:accessKey": TEST_KEY_ID, "alicloud:secretKey": TEST_SECRET };
const device = () => ({ endpoint: emu.endpoint, productKey: "a1DemoProduct", deviceName: "sensor-001" });

test("no region anywhere: pulumi preview fails naming every way to set it, not only pulumi up; nothing is sent", async () => {
  await t.stack.setConfig(device(), secrets);
  const preview = await t.stack.preview();
  expect(preview.exitCode).not.toBe(0);
  expect(preview.errors).toEqual([
    `pulumi-nodejs:dynamic/iot:DeviceRegistrationReset resource 'device': property region value {<nil>} has a problem: ${NO_REGION}`,
  ]);
  const up = await t.stack.up();
  expect(up.exitCode).not.toBe(0);
  expect(up.errors.join("\n")).toContain(NO_REGION);
  expect(emu.requests()).toHaveLength(0);
});

test("a stack setting out of range (iotReset:maxAttempts=0.5) fails the preview with the rule and the fix", async () => {
  await t.stack.setConfig({ ...device(), "alicloud:region": "cn-shanghai", "iotReset:maxAttempts": "0.5" }, secrets);
  const preview = await t.stack.preview();
  expect(preview.exitCode).not.toBe(0);
  expect(preview.errors.join("\n")).toContain(
    'Stack config iotReset:maxAttempts must be a whole number from 1 to 100, got "0.5".',
  );
  expect(emu.requests()).toHaveLength(0);
});

test("a Date in triggers is refused by the program, naming the path, before the runtime turns it into {}", async () => {
  const program = { file: path.join(__dirname, "programs", "device.ts"), export: "dateTriggerProgram" };
  const config = { endpoint: emu.endpoint, "alicloud:region": "cn-shanghai", triggerDate: "2026-11-01" };
  const preview = await runInChild(t, program, "preview", config, secrets);
  expect(preview.exitCode).not.toBe(0);
  expect(preview.errors.join("\n")).toContain(
    "`triggers[0]` is a Date, not plain JSON: triggers hold strings, finite numbers, booleans, null, arrays and plain objects; write the date as a string, e.g. date.toISOString().",
  );
  const up = await runInChild(t, program, "up", config, secrets);
  expect(up.exitCode).not.toBe(0);
  expect(emu.requests()).toHaveLength(0);
});
