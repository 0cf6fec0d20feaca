/**
 * The fleet's program: one staged cohort of cameras. The pipeline's scripts run it inline through the Automation
 * API; `index.ts` makes the same program the folder's, for `pulumi preview` and `pulumi up` with the Pulumi CLI.
 * Paths are relative to the repository's root, where both run.
 */
import * as pulumi from "@pulumi/pulumi";
import { DeviceCohortReset, loadFleet } from "pulumi-alicloud-iot-reset";

/** The reviewed reset list of a stack, relative to the repository root: `reset-review.json` for `prod`. */
export function reviewFile(stack: string): string {
  return stack === "prod" ? "reset-review.json" : `reset-review.${stack}.json`;
}

export async function program(): Promise<Record<string, unknown>> {
  const config = new pulumi.Config("iot-reset-gitops");
  const cameras = new DeviceCohortReset("cameras", {
    devices: loadFleet("fleet.csv"),
    campaign: config.require("campaign"),
    stages: [5, 25, 100],
    stage: config.requireNumber("stage"),
    // Pinned: cameras added to the fleet file join a batch and no device ever moves (the default splits a batch as
    // the fleet grows, and the moved devices rely on the journal).
    batchCount: 8,
    maxFailureRatio: 0.1,
    // The merge applies only the selection this file names; a pull request's check keeps it current.
    reviewed: reviewFile(pulumi.getStack()),
    // Unset in production (Alibaba Cloud's regional endpoint); a local emulator's address in a rehearsal.
    endpoint: config.get("endpoint"),
  });
  return {
    campaign: cameras.campaign,
    selected: cameras.selectedCount,
    perStage: cameras.stageCounts,
    reset: cameras.resetCount,
    unknownOutcomes: cameras.unknownOutcomeCount,
  };
}
