/** One DeviceCohortReset with a promotion gate, shaped by stack config, for the end-to-end tests. */
import * as pulumi from "@pulumi/pulumi";
import { DeviceCohortReset } from "pulumi-alicloud-iot-reset";
import { cohortFleet } from "./cohort";

/** The gated cohort's stages: a 10% canary, then the rest. */
export const GATED_STAGES = [10, 100];

export async function gatedCohortProgram(): Promise<Record<string, unknown>> {
  const config = new pulumi.Config();
  const cohort = new DeviceCohortReset("fleet", {
    devices: cohortFleet(config.requireNumber("devices")),
    campaign: config.require("campaign"),
    stages: GATED_STAGES,
    stage: config.requireNumber("stage"),
    batchSize: 500,
    batchCount: 2,
    promotionGate: {
      minOnlineRatio: config.requireNumber("minOnlineRatio"),
      waitMinutes: config.requireNumber("waitMinutes"),
    },
    endpoint: config.require("endpoint"),
  });
  const gate = cohort.gates[0];
  return {
    selected: cohort.selectedCount,
    gatePassed: gate?.passed,
    gateChecked: gate?.checkedCount,
    gateOnline: gate?.onlineCount,
  };
}
