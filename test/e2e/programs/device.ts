/** One DeviceRegistrationReset, shaped by stack config, for the end-to-end tests. */
import * as pulumi from "@pulumi/pulumi";
import { DeviceRegistrationReset } from "pulumi-alicloud-iot-reset";

export async function deviceProgram(): Promise<Record<string, unknown>> {
  const config = new pulumi.Config();
  const waitForJob = config.getBoolean("waitForJob");
  const reset = new DeviceRegistrationReset("device", {
    productKey: config.get("productKey"),
    deviceName: config.get("deviceName"),
    iotId: config.get("iotId"),
    endpoint: config.get("endpoint"),
    region: config.get("region"),
    triggers: [config.get("trigger") ?? "1"],
    ...(waitForJob === undefined ? {} : { waitForJob }),
  });
  return {
    success: reset.success,
    requestId: reset.requestId,
    jobId: reset.jobId,
    jobStatus: reset.jobStatus,
    resetAt: reset.resetAt,
  };
}

/** The device with a `Date` in its triggers, as a program might write it (config `triggerDate`). */
export async function dateTriggerProgram(): Promise<Record<string, unknown>> {
  const config = new pulumi.Config();
  const reset = new DeviceRegistrationReset("device", {
    productKey: "a1DemoProduct",
    deviceName: "sensor-001",
    endpoint: config.get("endpoint"),
    triggers: [new Date(config.require("triggerDate"))],
  });
  return { requestId: reset.requestId };
}
