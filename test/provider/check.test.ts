/**
 * `check` with the provider's context, as the host runs it during `pulumi preview`: besides the input rules,
 * whatever the calls would lack (a region, any source of credentials) fails the preview, with no call sent, no
 * network used and the ECS metadata service not asked.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Emulator } from "../../emulator";
import * as batch from "../../provider/host/batch-reset";
import { ProviderContext } from "../../provider/host/provider-context";
import * as device from "../../provider/host/device-reset";
import { UNKNOWN } from "../../provider/shared/inputs";
import { configFor, context, emulator } from "./support";

let emu: Emulator;
beforeEach(async () => {
  emu = await emulator();
});
afterEach(() => emu.stop());

const pair = { productKey: "a1DemoProduct", deviceName: "sensor-001" };
const NO_REGION =
  "No region is set. Give the resource a `region` argument, or run `pulumi config set alicloud:region cn-shanghai`, or set the ALIBABA_CLOUD_REGION_ID environment variable.";
const HELP =
  "Provide credentials in one of these ways: `pulumi config set alicloud:accessKey <id>` and `pulumi config set --secret alicloud:secretKey <secret>` (plus alicloud:securityToken for STS); the ALIBABA_CLOUD_ACCESS_KEY_ID / ALIBABA_CLOUD_ACCESS_KEY_SECRET (or ALICLOUD_ACCESS_KEY / ALICLOUD_SECRET_KEY) environment variables; OIDC/RRSA (ALIBABA_CLOUD_ROLE_ARN, ALIBABA_CLOUD_OIDC_PROVIDER_ARN, ALIBABA_CLOUD_OIDC_TOKEN_FILE); an aliyun CLI profile (alicloud:profile or ALIBABA_CLOUD_PROFILE); the ~/.alibabacloud/credentials file; or an ECS instance RAM role.";

/** A context as the host builds it, with this environment and stack config. */
function hostContext(env: NodeJS.ProcessEnv, config: Record<string, string>): ProviderContext {
  const ctx = new ProviderContext(env);
  ctx.configure((k) => config[k]);
  return ctx;
}

/** A machine with no credential anywhere: metadata service and CLI profiles off, an empty home directory. */
function bareEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    HOME: fs.mkdtempSync(path.join(os.tmpdir(), "home-")),
    ALIBABA_CLOUD_ECS_METADATA_DISABLED: "true",
    ALIBABA_CLOUD_CLI_PROFILE_DISABLED: "true",
    ...extra,
  };
}

describe("check during preview: region", () => {
  test("no region in the args, stack config or environment fails check, naming every way to give one; nothing sent", () => {
    const config = configFor(emu);
    delete config["alicloud:region"];
    const ctx = context(config);
    const news = { ...pair, endpoint: emu.endpoint };
    expect(device.check({}, news, ctx).failures).toEqual([{ property: "region", reason: NO_REGION }]);
    expect(batch.check({}, { campaign: "c", devices: [pair], endpoint: emu.endpoint }, ctx).failures).toEqual([
      { property: "region", reason: NO_REGION },
    ]);
    expect(emu.requests()).toHaveLength(0);
  });

  test("a region from the args, stack config or environment, or one unknown until apply, passes", () => {
    const config = configFor(emu);
    delete config["alicloud:region"];
    const news = { ...pair, endpoint: emu.endpoint };
    expect(device.check({}, { ...news, region: "cn-beijing" }, context(config)).failures).toEqual([]);
    expect(device.check({}, { ...news, region: UNKNOWN }, context(config)).failures).toEqual([]);
    expect(device.check({}, news, context(configFor(emu))).failures).toEqual([]);
    const fromEnv = hostContext({ ALIBABA_CLOUD_REGION_ID: "cn-hangzhou" }, config);
    expect(device.check({}, news, fromEnv).failures).toEqual([]);
  });

  test("a region in config or the environment that is not a region ID is refused, naming where it came from", () => {
    const config = configFor(emu);
    delete config["alicloud:region"];
    const ctx = hostContext({ ALIBABA_CLOUD_REGION_ID: "cn shanghai" }, config);
    expect(device.check({}, { ...pair, endpoint: emu.endpoint }, ctx).failures).toEqual([
      {
        property: "region",
        reason:
          'The environment variable ALIBABA_CLOUD_REGION_ID is "cn shanghai", which is not a region ID such as cn-shanghai; fix it or remove it.',
      },
    ]);
    expect(() => context(configFor(emu, { "alicloud:region": "Shanghai" }))).toThrow(
      'Stack config alicloud:region is "Shanghai", which is not a region ID such as cn-shanghai; fix it or remove it.',
    );
  });
});

describe("check during preview: credentials", () => {
  const noKeys = () => {
    const config = configFor(emu);
    delete config["alicloud:accessKey"];
    delete config["alicloud:secretKey"];
    return config;
  };

  test("no possible source of credentials fails check, listing what was looked at and every way to give them", () => {
    const env = bareEnv();
    const ctx = hostContext(env, noKeys());
    const expected = [
      {
        property: "",
        reason:
          "No Alibaba Cloud credentials can be found: no AccessKey in stack config or the environment, no OIDC/RRSA variables, " +
          "aliyun CLI profiles turned off (ALIBABA_CLOUD_CLI_PROFILE_DISABLED=true), " +
          `no credentials file (${env.HOME}/.alibabacloud/credentials), and the ECS metadata service turned off ` +
          `(ALIBABA_CLOUD_ECS_METADATA_DISABLED=true). ${HELP}`,
      },
    ];
    expect(device.check({}, { ...pair, endpoint: emu.endpoint }, ctx).failures).toEqual(expected);
    expect(batch.check({}, { campaign: "c", devices: [pair], endpoint: emu.endpoint }, ctx).failures).toEqual(expected);
    expect(emu.requests()).toHaveLength(0);
  });

  test("any possible source passes, decided without a network call", () => {
    const news = { ...pair, endpoint: emu.endpoint };
    const ok = (env: NodeJS.ProcessEnv, config = noKeys()) =>
      expect(device.check({}, news, hostContext(env, config)).failures).toEqual([]);
    ok(bareEnv(), configFor(emu));
    ok(bareEnv({ ALICLOUD_ACCESS_KEY: "AK", ALICLOUD_SECRET_KEY: "SK" }));
    ok(bareEnv({ ALIBABA_CLOUD_ACCESS_KEY_ID: "AK", ALIBABA_CLOUD_ACCESS_KEY_SECRET: "SK" }));
    ok(
      bareEnv({
        ALIBABA_CLOUD_ROLE_ARN: "acs:ram::1:role/r",
        ALIBABA_CLOUD_OIDC_PROVIDER_ARN: "acs:ram::1:oidc-provider/p",
        ALIBABA_CLOUD_OIDC_TOKEN_FILE: "/var/run/token",
      }),
    );
    // The metadata service is a source unless it is turned off; asking it is left to the update.
    ok({ ...bareEnv(), ALIBABA_CLOUD_ECS_METADATA_DISABLED: undefined });
    const withFile = bareEnv();
    fs.mkdirSync(path.join(withFile.HOME as string, ".alibabacloud"));
    fs.writeFileSync(path.join(withFile.HOME as string, ".alibabacloud", "credentials"), "[default]\n");
    ok(withFile);
    expect(emu.requests()).toHaveLength(0);
  });

  test("half a key pair, or a named source that is turned off, fails check", () => {
    const news = { ...pair, endpoint: emu.endpoint };
    expect(
      device.check({}, news, hostContext(bareEnv(), { ...noKeys(), "alicloud:accessKey": "AK" })).failures,
    ).toEqual([
      { property: "", reason: `Only one half of an AccessKey pair is set (alicloud:secretKey is missing). ${HELP}` },
    ]);
    expect(
      device.check({}, news, hostContext(bareEnv(), { ...noKeys(), "alicloud:ecsRoleName": "ci" })).failures,
    ).toEqual([
      { property: "", reason: `No usable Alibaba Cloud credentials (IMDS credentials is disabled). ${HELP}` },
    ]);
    expect(device.check({}, news, hostContext(bareEnv(), { ...noKeys(), "alicloud:profile": "ci" })).failures).toEqual([
      {
        property: "",
        reason: `No usable Alibaba Cloud credentials (alicloud:profile is set, but ALIBABA_CLOUD_CLI_PROFILE_DISABLED=true turns aliyun CLI profiles off). ${HELP}`,
      },
    ]);
    expect(emu.requests()).toHaveLength(0);
  });
});

describe("check during preview: stack settings", () => {
  test.each([
    ["iotReset:maxAttempts", "0.5", "a whole number from 1 to 100", 8],
    ["iotReset:maxAttempts", "0", "a whole number from 1 to 100", 8],
    ["iotReset:readTimeoutMs", "1e3", "a whole number from 1 to 600000", 10000],
    ["iotReset:resetQps", "-5", "a number greater than 0 and at most 10000", 500],
    ["iotReset:resetQps", "0x1F4", "a number greater than 0 and at most 10000", 500],
    ["iotReset:jobTimeoutSeconds", "86401", "a number greater than 0 and at most 86400", 1800],
    ["iotReset:jobPollSeconds", "0", "a number greater than 0 and at most 3600", 2],
    ["iotReset:maxRetrySeconds", "Infinity", "a number greater than 0 and at most 3600", 120],
    ["iotReset:queryJobQps", "1001", "a number greater than 0 and at most 1000", 5],
  ])("%s = %j is refused at configure, and by every check after it", (key, value, rule, fallback) => {
    const ctx = context(configFor(emu));
    const message = `Stack config ${key} must be ${rule}, got "${value}". Fix it with \`pulumi config set ${key} <value>\`, or remove it to use the default (${fallback}).`;
    expect(() => ctx.configure((k) => ({ ...configFor(emu), [key]: value })[k])).toThrow(message);
    expect(device.check({}, { ...pair, endpoint: emu.endpoint }, ctx).failures).toEqual([
      { property: "", reason: message },
    ]);
    expect(emu.requests()).toHaveLength(0);
  });

  test("values in range are taken as given", () => {
    const ctx = context(configFor(emu, { "iotReset:maxAttempts": "3", "iotReset:resetQps": "250.5" }));
    expect(ctx.settings.retry.maxAttempts).toBe(3);
    expect(ctx.settings.quotas.ResetThing).toBe(250.5);
  });
});
