import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { DeviceCohortReset, DeviceRegistrationReset, loadFleet } from "pulumi-alicloud-iot-reset";

const config = new pulumi.Config();
// Set by `npm start` to the local emulator; leave unset to reach Alibaba Cloud's regional endpoint.
const endpoint = config.get("endpoint");
const campaign = config.get("campaign") ?? "rotation-2026-11";

// The fleet: 240 cameras, reset in stages of 5%, 25% and 100%; the stage is promoted by pull request.
const cameras = new DeviceCohortReset("cameras", {
  devices: loadFleet(path.join(__dirname, "fleet.csv")),
  campaign,
  stages: [5, 25, 100],
  stage: config.getNumber("stage") ?? 1,
  // Pinned: cameras added join a batch and no device ever moves (the default splits a batch as the fleet grows).
  batchCount: 8,
  maxFailureRatio: 0.1,
  endpoint,
});

// A gateway with 2,500 sub-devices: its topology removal runs as a device job, followed to its end.
const gateway = new DeviceRegistrationReset("gateway-01", {
  productKey: "a1DemoProduct",
  deviceName: "gateway-01",
  triggers: [campaign],
  waitForJob: true,
  endpoint,
});

export const campaignName = cameras.campaign;
export const selectedCameras = cameras.selectedCount;
export const camerasPerStage = cameras.stageCounts;
export const camerasReset = cameras.resetCount;
export const camerasWithLostAnswers = cameras.unknownOutcomeCount;
export const gatewayReset = {
  requestId: gateway.requestId,
  jobId: gateway.jobId,
  jobStatus: gateway.jobStatus,
  resetAt: gateway.resetAt,
};
