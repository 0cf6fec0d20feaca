// Every test talks to 127.0.0.1 only: keep the Alibaba credential chain away from the ECS metadata
// service (100.100.100.200) and from any CLI profile on the machine, and the AWS one (of the S3 clients and
// the Pulumi CLI's S3 backend, and of anything they start) away from the EC2 metadata service (169.254.169.254).
process.env.ALIBABA_CLOUD_ECS_METADATA_DISABLED = "true";
process.env.ALIBABA_CLOUD_CLI_PROFILE_DISABLED = "true";
process.env.AWS_EC2_METADATA_DISABLED = "true";
