/**
 * pulumi-alicloud-iot-reset: Alibaba Cloud IoT Platform's `ResetThing` as declared Pulumi resources.
 *
 * This entry holds what a program uses, and semver covers it: the two resources and their arguments, the types a
 * program writes (devices, rollout controls, records), `loadFleet`, the stack config keys, and the errors thrown in
 * the program's own process, which it can catch. The parts a cohort is made of (batches, promotion gates, the
 * selection) and the errors raised only inside the provider host are in `pulumi-alicloud-iot-reset/internals`.
 * @module
 */
export { DeviceRegistrationReset } from "./program/device-reset";
export type { DeviceRegistrationResetArgs } from "./program/device-reset";
export { DeviceCohortReset } from "./program/cohort-reset";
export type { DeviceCohortResetArgs } from "./program/cohort-reset";
export type { PromotionGateOptions } from "./program/promotion-gate";
export type { TargetArgs } from "./program/args";
export type {
  AbortCriterion,
  CriterionFailureType,
  FailureType,
  Ramp,
  RolloutControls,
} from "./shared/rollout-controls";
export type { MaintenanceWindow, RolloutWindows, WeekDay } from "./shared/windows";
export type { DeviceRecord, UnknownOutcomeRecord } from "./shared/records";
export type { FleetDevice } from "./shared/device-key";
export { loadFleet, FleetFileError } from "./program/fleet-file";
export type { LoadFleetOptions } from "./program/fleet-file";
export { CONFIG_KEYS } from "./shared/config";
export { readReview, renderReview, staleReview, REVIEW_OUT_ENV } from "./shared/review";
export type { CohortReview, ReviewFile } from "./shared/review";
// Thrown in the program's process (a constructor's checks, loadFleet, a plaintext secret), so a program can catch them.
export { IotResetError, ConfigurationError, InputError } from "./shared/errors";
export { listFleet, FleetListingError } from "./program/list-fleet";
export type { ListFleetArgs, ListedStatus } from "./program/list-fleet";
export { snapshotFleet, checkFleet, FleetChangedError } from "./program/fleet-snapshot";
export type { CheckFleetOptions, FleetCheck } from "./program/fleet-snapshot";
