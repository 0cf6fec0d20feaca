import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { DeviceCohortReset, loadFleet, MaintenanceWindow } from "pulumi-alicloud-iot-reset";

const config = new pulumi.Config();
// Set to a local emulator (`http://127.0.0.1:PORT`) to try it out; leave unset to reach Alibaba Cloud's endpoint.
const endpoint = config.get("endpoint");

const cameras = new DeviceCohortReset("cameras", {
  devices: loadFleet(path.join(__dirname, "fleet.csv")),
  campaign: config.get("campaign") ?? "rotation-2026-12",
  // A 2% canary, then a quarter of the fleet, then all of it; each promotion is a reviewed pull request.
  stages: [2, 25, 100],
  stage: config.getNumber("stage") ?? 1,
  // Pinned: cameras added join a batch and no device ever moves.
  batchCount: 4,
  // A stage starts only once 95% of the cameras reset before it registered again and reconnected.
  promotionGate: { minOnlineRatio: 0.95, waitMinutes: config.getNumber("gateWaitMinutes") ?? 20 },
  // Each update starts at 10 resets a second and doubles the rate every 100 resets, up to the account quota.
  ramp: { baseRatePerMinute: 600, incrementFactor: 2, increaseEveryResets: 100 },
  // Stop sending when lost answers or refusals pile up; what was sent stays recorded.
  abortCriteria: [
    { failureType: "unknownOutcome", thresholdPercentage: 2, minExecuted: 50 },
    { failureType: "businessError", thresholdPercentage: 5, minExecuted: 20 },
    { failureType: "any", thresholdPercentage: 10, minExecuted: 20 },
  ],
  // The change freeze ends on 1 December; resets go out only in the night shift's window, Monday to Thursday.
  notBefore: config.get("notBefore") ?? "2026-12-01T00:00:00Z",
  maintenanceWindows: config.getObject<MaintenanceWindow[]>("maintenanceWindows") ?? [
    { start: "01:00", durationMinutes: 240, days: ["Mon", "Tue", "Wed", "Thu"] },
  ],
  endpoint,
});

export const selectedCameras = cameras.selectedCount;
export const camerasPerStage = cameras.stageCounts;
export const camerasReset = cameras.resetCount;
export const camerasWithLostAnswers = cameras.unknownOutcomeCount;
export const gates = cameras.gates.map((g) => ({ passed: g.passed, checked: g.checkedCount, online: g.onlineCount }));
