/**
 * The names the engine records the package's resources under. They are part of every stack's state: a rename would
 * make the engine see each recorded resource deleted and a new one created, that is, every device reset again.
 */

/** The module of the dynamic resources: their type is `pulumi-nodejs:dynamic/iot:<name>`. */
export const RESOURCE_MODULE = "iot";

/** The resource names within that module. */
export const RESOURCE_NAMES = {
  device: "DeviceRegistrationReset",
  batch: "DeviceBatchReset",
  gate: "DevicePromotionGate",
} as const;

/** The type token of a dynamic resource of this package, as plans and state show it. */
export const typeToken = (name: (typeof RESOURCE_NAMES)[keyof typeof RESOURCE_NAMES]): string =>
  `pulumi-nodejs:dynamic/${RESOURCE_MODULE}:${name}`;

/** The type token of the `DeviceCohortReset` component. */
export const COHORT_TYPE = "iot-reset:index:DeviceCohortReset";
