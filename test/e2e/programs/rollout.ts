/** One DeviceCohortReset with rollout controls from stack config (JSON for the structured ones), for the end-to-end tests. */
import * as pulumi from "@pulumi/pulumi";
import { DeviceCohortReset } from "pulumi-alicloud-iot-reset";
import { cohortFleet } from "./cohort";

export async function rolloutProgram(): Promise<Record<string, unknown>> {
  const config = new pulumi.Config();
  const json = (key: string) => {
    const text = config.get(key);
    return text === undefined ? undefined : JSON.parse(text);
  };
  const cohort = new DeviceCohortReset("fleet", {
    devices: cohortFleet(config.requireNumber("devices")),
    campaign: config.require("campaign"),
    batchSize: config.getNumber("batchSize") ?? 500,
    batchCount: config.getNumber("batchCount") ?? 1,
    waitForJob: config.getBoolean("waitForJob"),
    abortCriteria: json("abortCriteria"),
    notBefore: config.get("notBefore"),
    notAfter: config.get("notAfter"),
    maintenanceWindows: json("maintenanceWindows"),
    ramp: json("ramp"),
    endpoint: config.require("endpoint"),
  });
  return { selected: cohort.selectedCount, batches: cohort.batches.length };
}
