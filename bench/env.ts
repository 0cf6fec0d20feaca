/**
 * Keeps the Alibaba Cloud credential chain off the network in the benchmark and every process it starts:
 * no ECS metadata service (100.100.100.200), no CLI profile. Import this module first, before anything
 * that loads the SDK; only 127.0.0.1 is ever contacted.
 */
export const OFFLINE_ENV = {
  ALIBABA_CLOUD_ECS_METADATA_DISABLED: "true",
  ALIBABA_CLOUD_CLI_PROFILE_DISABLED: "true",
} as const;

Object.assign(process.env, OFFLINE_ENV);
