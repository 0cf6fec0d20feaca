/**
 * pulumi-alicloud-iot-reset: Alibaba Cloud IoT Platform's `ResetThing` as declared Pulumi resources.
 */
export { DeviceRegistrationReset, DeviceRegistrationResetArgs } from "./resource";
export {
  IotApiError,
  RetriesExhaustedError,
  ConfigurationError,
  GuardrailError,
  PartialResetError,
} from "./errors";
export { CONFIG_KEYS } from "./settings";
