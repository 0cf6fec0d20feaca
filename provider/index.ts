/**
 * pulumi-alicloud-iot-reset: Alibaba Cloud IoT Platform's `ResetThing` as declared Pulumi resources.
 */
export { DeviceRegistrationReset } from "./resource";
export type { DeviceRegistrationResetArgs } from "./resource";
export { DeviceCohortReset, DeviceBatchReset, DEFAULT_BATCH_SIZE } from "./cohort";
export type { DeviceCohortResetArgs, DeviceBatchResetArgs } from "./cohort";
export { DevicePromotionGate } from "./promotion-gate";
export type { DevicePromotionGateArgs, PromotionGateOptions } from "./promotion-gate";
export type { AbortCriterion, CriterionFailureType, FailureType, Ramp } from "./guardrails";
export type { MaintenanceWindow, WeekDay } from "./windows";
export type { DeviceRecord } from "./batch";
export type { UnknownOutcomeRecord } from "./outcomes";
export { loadFleet, FleetFileError } from "./fleet";
export type { LoadFleetOptions } from "./fleet";
export { deviceKey, planCohort, planStages } from "./selection";
export type { FleetDevice, FleetEntry, CohortPlan, StagePlan } from "./selection";
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
} from "./errors";
export { CONFIG_KEYS } from "./settings";
