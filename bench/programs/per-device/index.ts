/**
 * Benchmark program: one `DeviceRegistrationReset` per device of a generated fleet of `devices` devices
 * named `<prefix><zero-padded index>` in product `productKey`, the campaign as the trigger. The same fleet
 * as the cohort program, declared the naive way, so that the two can be compared.
 */
// Typed against the sources, loaded by name: see ../cohort/index.ts for why.
import type * as iotReset from "../../../provider";
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { DeviceRegistrationReset } = require("pulumi-alicloud-iot-reset") as typeof iotReset;
import { benchFleet } from "../fleet";

const { config, devices, campaign } = benchFleet();
const endpoint = config.require("endpoint");

const resets = devices.map(
  ({ productKey, deviceName }) =>
    new DeviceRegistrationReset(deviceName, { productKey, deviceName, endpoint, triggers: [campaign] }),
);

export const declared = resets.length;
