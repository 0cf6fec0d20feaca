/**
 * `pulumi-alicloud-iot-reset/internals`: not covered by semver; any release may change or remove what is here.
 *
 * The resources a `DeviceCohortReset` is made of (its batches and promotion gates, reachable as `cohort.batches` and
 * `cohort.gates`), the selection it plans with (what `iot-reset-plan` and the tests recompute), and the errors only
 * the provider host raises: those reach the program as the engine's message of a failed resource, never as objects
 * it could catch.
 * @module
 */
export { DeviceBatchReset, DEFAULT_BATCH_SIZE } from "./program/cohort-reset";
export type { DeviceBatchResetArgs } from "./program/cohort-reset";
export { DevicePromotionGate } from "./program/promotion-gate";
export type { DevicePromotionGateArgs } from "./program/promotion-gate";
export type { InputsOf } from "./program/args";
export { planCohort, planStages } from "./shared/selection";
export type { BucketDevices, CohortPlan, StagePlan } from "./shared/selection";
export { deviceKey } from "./shared/device-key";
export type { FleetEntry } from "./shared/device-key";
export type { DeviceRef } from "./shared/errors";
export {
  GuardrailError,
  IotApiError,
  JournalError,
  PartialResetError,
  PromotionGateError,
  RequestFailedError,
  RetriesExhaustedError,
  UnknownOutcomeError,
} from "./shared/errors";
