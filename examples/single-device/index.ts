import * as pulumi from "@pulumi/pulumi";
import { DeviceRegistrationReset } from "pulumi-alicloud-iot-reset";

const config = new pulumi.Config();

const reset = new DeviceRegistrationReset("sensor", {
  productKey: config.require("productKey"),
  deviceName: config.require("deviceName"),
  iotInstanceId: config.get("iotInstanceId"),
  // A new rotation value resets the device again (a replace); anything else leaves it alone.
  triggers: [config.require("rotation")],
  endpoint: config.get("endpoint"),
});

export const success = reset.success;
export const requestId = reset.requestId;
export const resetAt = reset.resetAt;
export const jobId = reset.jobId;
