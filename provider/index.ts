/**
 * pulumi-alicloud-iot-reset: Alibaba Cloud IoT Platform's `ResetThing` as declared Pulumi resources.
 */
export { DeviceRegistrationReset } from "./resource";
export type { DeviceRegistrationResetArgs } from "./resource";
export { DeviceCohortReset, DeviceBatchReset, DEFAULT_BATCH_SIZE } from "./cohort";
export type { DeviceCohortResetArgs, DeviceBatchResetArgs } from "./cohort";
export type { DeviceRecord } from "./batch";
export type { UnknownOutcomeRecord } from "./outcomes";
export { loadFleet, FleetFileError } from "./fleet";
export type { LoadFleetOptions } from "./fleet";
export { deviceKey, planCohort } from "./selection";
export type { FleetDevice, FleetEntry, CohortPlan } from "./selection";
export {
  IotApiError,
  RetriesExhaustedError,
  ConfigurationError,
  GuardrailError,
  InputError,
  PartialResetError,
  UnknownOutcomeError,
  JournalError,
} from "./errors";
export { CONFIG_KEYS } from "./settings";
