/**
 * A cohort declared from a listing: the product's devices as IoT Platform lists them, checked against the reviewed
 * fleet file (the snapshot), and the file's devices reset. New devices are reported by `checkFleet`, not reset.
 */
import * as pulumi from "@pulumi/pulumi";
import { checkFleet, DeviceCohortReset, listFleet } from "pulumi-alicloud-iot-reset";

export async function listedCohortProgram(): Promise<Record<string, unknown>> {
  const config = new pulumi.Config();
  const endpoint = config.require("endpoint");
  const listing = await listFleet({ productKey: config.require("productKey"), endpoint });
  const reviewed = checkFleet(listing, config.require("fleetFile"));
  const cohort = new DeviceCohortReset("listed", {
    devices: reviewed.devices,
    campaign: config.require("campaign"),
    endpoint,
  });
  return {
    listed: listing.length,
    reviewed: reviewed.devices.length,
    added: reviewed.added.length,
    resetCount: cohort.resetCount,
  };
}
