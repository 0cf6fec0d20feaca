/**
 * pulumi-alicloud-iot-reset: Alibaba Cloud IoT Platform's `ResetThing` as declared Pulumi resources.
 */
export { DeviceRegistrationReset } from "./program/device-reset";
export type { DeviceRegistrationResetArgs } from "./program/device-reset";
export { DeviceCohortReset, DeviceBatchReset, DEFAULT_BATCH_SIZE } from "./program/cohort-reset";
export type { DeviceCohortResetArgs, DeviceBatchResetArgs } from "./program/cohort-reset";
export { DevicePromotionGate } from "./program/promotion-gate";
export type { DevicePromotionGateArgs, PromotionGateOptions } from "./program/promotion-gate";
export type {
  AbortCriterion,
  CriterionFailureType,
  FailureType,
  Ramp,
  RolloutControls,
} from "./shared/rollout-controls";
export type { MaintenanceWindow, WeekDay } from "./shared/windows";
export type { DeviceRecord, UnknownOutcomeRecord } from "./shared/records";
export { loadFleet, FleetFileError } from "./program/fleet-file";
export type { LoadFleetOptions } from "./program/fleet-file";
export { planCohort, planStages } from "./shared/selection";
export { deviceKey } from "./shared/device-key";
export type { BucketDevices, CohortPlan, StagePlan } from "./shared/selection";
export type { FleetDevice, FleetEntry } from "./shared/device-key";
export type { DeviceRef } from "./shared/errors";
export type { InputsOf, TargetArgs } from "./program/args";
export {
  IotResetError,
  IotApiError,
  RequestFailedError,
  RetriesExhaustedError,
  ConfigurationError,
  GuardrailError,
  InputError,
  PartialResetError,
  UnknownOutcomeError,
  JournalError,
  PromotionGateError,
} from "./shared/errors";
export { CONFIG_KEYS } from "./shared/config";
