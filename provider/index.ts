/**
 * pulumi-alicloud-iot-reset: Alibaba Cloud IoT Platform's `ResetThing` as declared Pulumi resources.
 */
export { DeviceRegistrationReset, DeviceRegistrationResetArgs } from "./resource";
export {
  DeviceCohortReset,
  DeviceCohortResetArgs,
  DeviceBatchReset,
  DeviceBatchResetArgs,
  DEFAULT_BATCH_SIZE,
} from "./cohort";
export { DeviceRecord } from "./batch";
export { UnknownOutcomeRecord } from "./outcomes";
export { loadFleet, FleetFileError } from "./fleet";
export { FleetDevice, deviceKey, planCohort, CohortPlan } from "./selection";
export {
  IotApiError,
  RetriesExhaustedError,
  ConfigurationError,
  GuardrailError,
  PartialResetError,
  UnknownOutcomeError,
  JournalError,
} from "./errors";
export { CONFIG_KEYS } from "./settings";
