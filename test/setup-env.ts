// Every test talks to 127.0.0.1 only: keep the Alibaba credential chain away from the ECS metadata
// service (100.100.100.200) and from any CLI profile on the machine.
process.env.ALIBABA_CLOUD_ECS_METADATA_DISABLED = "true";
process.env.ALIBABA_CLOUD_CLI_PROFILE_DISABLED = "true";
