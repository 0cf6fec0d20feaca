/** One DeviceCohortReset of `devices` generated devices, shaped by stack config, for the end-to-end tests. */
import * as pulumi from "@pulumi/pulumi";
import { DeviceCohortReset } from "pulumi-alicloud-iot-reset";

/** The generated fleet: `a1Cohort/dev-00000`, `a1Cohort/dev-00001`, … */
export function cohortFleet(count: number): Array<{ productKey: string; deviceName: string }> {
  return Array.from({ length: count }, (_, i) => ({
    productKey: "a1Cohort",
    deviceName: `dev-${String(i).padStart(5, "0")}`,
  }));
}

export async function cohortProgram(): Promise<Record<string, unknown>> {
  const config = new pulumi.Config();
  const batchCount = config.getNumber("batchCount");
  const cohort = new DeviceCohortReset("fleet", {
    devices: cohortFleet(config.requireNumber("devices")),
    campaign: config.require("campaign"),
    stages: [10, 50, 100],
    stage: config.requireNumber("stage"),
    batchSize: config.getNumber("batchSize") ?? 20,
    ...(batchCount !== undefined ? { batchCount } : {}),
    maxFailureRatio: config.getNumber("maxFailureRatio"),
    endpoint: config.require("endpoint"),
  });
  return { selected: cohort.selectedCount, perStage: cohort.stageCounts, batches: cohort.batches.length };
}

/**
 * A cohort of `devices` generated devices with `stages` (JSON) and `stage` from stack config, each passed only when
 * set, as a program that leaves them out; it shows the cohort's totals over its batches.
 */
export async function stagesProgram(): Promise<Record<string, unknown>> {
  const config = new pulumi.Config();
  const stages = config.getObject<number[]>("stages");
  const stage = config.getNumber("stage");
  const cohort = new DeviceCohortReset("fleet", {
    devices: cohortFleet(config.requireNumber("devices")),
    campaign: config.require("campaign"),
    ...(stages ? { stages } : {}),
    ...(stage !== undefined ? { stage } : {}),
    batchCount: 2,
    endpoint: config.require("endpoint"),
  });
  return {
    selected: cohort.selectedCount,
    resetCount: cohort.resetCount,
    unknownOutcomeCount: cohort.unknownOutcomeCount,
  };
}
