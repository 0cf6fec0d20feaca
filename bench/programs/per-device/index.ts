/**
 * Benchmark program: one `DeviceRegistrationReset` per device of a generated fleet of `devices` devices
 * named `<prefix><zero-padded index>` in product `productKey`, the campaign as the trigger. The same fleet
 * as the cohort program, declared the naive way, so that the two can be compared.
 */
import * as pulumi from "@pulumi/pulumi";
// Typed against the sources, loaded by name: see ../cohort/index.ts for why.
import type * as iotReset from "../../../provider";
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { DeviceRegistrationReset } = require("pulumi-alicloud-iot-reset") as typeof iotReset;

const config = new pulumi.Config();
const count = config.requireNumber("devices");
const productKey = config.get("productKey") ?? "a1Bench";
const prefix = config.get("prefix") ?? "dev-";
const pad = config.getNumber("pad") ?? 5;
const campaign = config.get("campaign") ?? "bench";
const endpoint = config.require("endpoint");

const resets = Array.from({ length: count }, (_, i) => {
  const deviceName = `${prefix}${String(i).padStart(pad, "0")}`;
  return new DeviceRegistrationReset(deviceName, { productKey, deviceName, endpoint, triggers: [campaign] });
});

export const declared = resets.length;
