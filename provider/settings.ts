/**
 * Where settings come from, in order: the resource's arguments, then stack config (received through the
 * dynamic provider's `configure` hook, so secrets stay in the provider process), then the environment and
 * the Alibaba Cloud default credential chain. Nothing here is ever written to state.
 */
import Credential, { CLIProfileCredentialsProvider, Config as CredentialConfig } from "@alicloud/credentials";
import { ConfigurationError } from "./errors";
import { DEFAULT_QUOTAS, Quotas } from "./budget";
import { parseEndpoint } from "./inputs";
import { DEFAULT_RETRY_POLICY, RetryPolicy } from "./retry";

/** Stack config the provider reads; `alicloud:*` keys are the ones `@pulumi/alicloud` users already have. */
export const CONFIG_KEYS = {
  region: "alicloud:region",
  accessKey: "alicloud:accessKey",
  secretKey: "alicloud:secretKey",
  securityToken: "alicloud:securityToken",
  profile: "alicloud:profile",
  ecsRoleName: "alicloud:ecsRoleName",
  resetQps: "iotReset:resetQps",
  queryJobQps: "iotReset:queryJobQps",
  jobTimeoutSeconds: "iotReset:jobTimeoutSeconds",
  jobPollSeconds: "iotReset:jobPollSeconds",
  readTimeoutMs: "iotReset:readTimeoutMs",
  maxAttempts: "iotReset:maxAttempts",
  maxRetrySeconds: "iotReset:maxRetrySeconds",
  journal: "iotReset:journal",
  resendUnknown: "iotReset:resendUnknown",
  acceptUnknown: "iotReset:acceptUnknown",
} as const;

/** Devices named by a setting: every one (`all`), or a set of device keys (`productKey/deviceName`, `iotId:<IotId>`). */
export type DeviceChoice = "all" | ReadonlySet<string>;

/** Whether a choice names a device. */
export function chooses(choice: DeviceChoice, key: string): boolean {
  return choice === "all" || choice.has(key);
}

/** Everything the provider process knows before it sees a resource. */
export interface ProviderSettings {
  /** `alicloud:region`: the region of resources that give none. */
  readonly region?: string;
  /** `alicloud:accessKey`: the AccessKey ID; held in memory only. */
  readonly accessKey?: string;
  /** `alicloud:secretKey`: the AccessKey secret; held in memory only. */
  readonly secretKey?: string;
  /** `alicloud:securityToken`: an STS token going with the pair. */
  readonly securityToken?: string;
  /** `alicloud:profile`: an aliyun CLI profile name. */
  readonly profile?: string;
  /** `alicloud:ecsRoleName`: the RAM role of the ECS instance the update runs on. */
  readonly ecsRoleName?: string;
  /** Calls per second per action, for the shared pacers. */
  readonly quotas: Quotas;
  /** Retry bound of one call. */
  readonly retry: RetryPolicy;
  /** How long `waitForJob` polls a device job before giving up. */
  readonly jobTimeoutMs: number;
  /** The pause between two QueryJob polls. */
  readonly jobPollMs: number;
  /** Read timeout of one API call. */
  readonly readTimeoutMs: number;
  /** Connect timeout of one API call. */
  readonly connectTimeoutMs: number;
  /** `iotReset:journal`: the reset journal's path (relative to the program directory), `off`, or unset for the default. */
  readonly journal?: string;
  /** `iotReset:resendUnknown`: devices with an unknown outcome to send exactly once more. */
  readonly resendUnknown: DeviceChoice;
  /** `iotReset:acceptUnknown`: devices with an unknown outcome to record as reset without sending. */
  readonly acceptUnknown: DeviceChoice;
}

/** The devices two choices both name (`all` when both are `all`). */
function overlap(a: DeviceChoice, b: DeviceChoice): string[] {
  if (a === "all") return b === "all" ? ["all"] : [...b];
  return b === "all" ? [...a] : [...a].filter((k) => b.has(k));
}

/** Parses `all`, or device keys separated by commas, spaces or new lines. */
function deviceChoice(get: (key: string) => string | undefined, key: string): DeviceChoice {
  const raw = (get(key) ?? "").trim();
  if (raw === "all") return "all";
  return new Set(raw.split(/[\s,]+/).filter((k) => k !== ""));
}

function positiveNumber(get: (key: string) => string | undefined, key: string, fallback: number): number {
  const raw = get(key);
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) {
    throw new ConfigurationError(`Stack config ${key} must be a positive number, got "${raw}".`);
  }
  return n;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value;
}

/** Reads the provider settings from stack config (`get` returns a key's string value, or undefined). */
export function readSettings(get: (key: string) => string | undefined): ProviderSettings {
  const resendUnknown = deviceChoice(get, CONFIG_KEYS.resendUnknown);
  const acceptUnknown = deviceChoice(get, CONFIG_KEYS.acceptUnknown);
  const both = overlap(resendUnknown, acceptUnknown);
  if (both.length > 0) {
    throw new ConfigurationError(
      `Stack config ${CONFIG_KEYS.resendUnknown} and ${CONFIG_KEYS.acceptUnknown} both name ${both.join(", ")}; ` +
        `a device with an unknown outcome is either sent once more or accepted as reset, not both.`,
    );
  }
  const journal = nonEmpty(get(CONFIG_KEYS.journal))?.trim();
  return {
    region: nonEmpty(get(CONFIG_KEYS.region)),
    accessKey: nonEmpty(get(CONFIG_KEYS.accessKey)),
    secretKey: nonEmpty(get(CONFIG_KEYS.secretKey)),
    securityToken: nonEmpty(get(CONFIG_KEYS.securityToken)),
    profile: nonEmpty(get(CONFIG_KEYS.profile)),
    ecsRoleName: nonEmpty(get(CONFIG_KEYS.ecsRoleName)),
    quotas: {
      ResetThing: positiveNumber(get, CONFIG_KEYS.resetQps, DEFAULT_QUOTAS.ResetThing),
      QueryJob: positiveNumber(get, CONFIG_KEYS.queryJobQps, DEFAULT_QUOTAS.QueryJob),
    },
    retry: {
      ...DEFAULT_RETRY_POLICY,
      maxAttempts: Math.floor(positiveNumber(get, CONFIG_KEYS.maxAttempts, DEFAULT_RETRY_POLICY.maxAttempts)),
      maxElapsedMs: positiveNumber(get, CONFIG_KEYS.maxRetrySeconds, DEFAULT_RETRY_POLICY.maxElapsedMs / 1000) * 1000,
    },
    jobTimeoutMs: positiveNumber(get, CONFIG_KEYS.jobTimeoutSeconds, 1800) * 1000,
    jobPollMs: positiveNumber(get, CONFIG_KEYS.jobPollSeconds, 2) * 1000,
    readTimeoutMs: positiveNumber(get, CONFIG_KEYS.readTimeoutMs, 10_000),
    connectTimeoutMs: 5_000,
    ...(journal !== undefined ? { journal } : {}),
    resendUnknown,
    acceptUnknown,
  };
}

/** Where one resource's calls go. */
export interface Target {
  /** The region ID, e.g. `cn-shanghai`. */
  readonly region: string;
  /** `host[:port]`, as the SDK takes it. */
  readonly endpoint: string;
  /** The scheme; plain http only to loopback. */
  readonly protocol: "http" | "https";
}

/** Resolves region and endpoint for one resource: its args, else stack config, else the environment. */
export function resolveTarget(
  args: { region?: string; endpoint?: string },
  settings: ProviderSettings,
  env: NodeJS.ProcessEnv = process.env,
): Target {
  const region =
    args.region ?? settings.region ?? nonEmpty(env.ALIBABA_CLOUD_REGION_ID) ?? nonEmpty(env.ALICLOUD_REGION);
  if (!region) {
    throw new ConfigurationError(
      "No region is set. Give the resource a `region` argument, or run `pulumi config set alicloud:region cn-shanghai`, " +
        "or set the ALIBABA_CLOUD_REGION_ID environment variable.",
    );
  }
  if (args.endpoint === undefined) {
    return { region, endpoint: `iot.${region}.aliyuncs.com`, protocol: "https" };
  }
  const parsed = parseEndpoint(args.endpoint);
  // check() has already refused a bad endpoint; this guards direct callers.
  if (typeof parsed === "string") throw new ConfigurationError(`endpoint "${args.endpoint}" ${parsed}`);
  return { region, endpoint: parsed.host, protocol: parsed.protocol };
}

/** A target as one comparable string: scheme, host without its default port, and region. */
export function targetKey(target: Target): string {
  const defaultPort = target.protocol === "https" ? ":443" : ":80";
  const host = target.endpoint.toLowerCase().endsWith(defaultPort)
    ? target.endpoint.slice(0, -defaultPort.length)
    : target.endpoint;
  return `${target.protocol}://${host.toLowerCase()}|${target.region}`;
}

/** Where `region`/`endpoint` arguments send calls under these settings, as a `targetKey`; undefined when unresolvable. */
export function resolvedTargetKey(
  args: { region?: string; endpoint?: string },
  settings: ProviderSettings,
  env: NodeJS.ProcessEnv,
): string | undefined {
  try {
    return targetKey(resolveTarget(args, settings, env));
  } catch {
    return undefined;
  }
}

const CREDENTIAL_HELP =
  "Provide credentials in one of these ways: `pulumi config set alicloud:accessKey <id>` and " +
  "`pulumi config set --secret alicloud:secretKey <secret>` (plus alicloud:securityToken for STS); " +
  "the ALIBABA_CLOUD_ACCESS_KEY_ID / ALIBABA_CLOUD_ACCESS_KEY_SECRET (or ALICLOUD_ACCESS_KEY / ALICLOUD_SECRET_KEY) " +
  "environment variables; OIDC/RRSA (ALIBABA_CLOUD_ROLE_ARN, ALIBABA_CLOUD_OIDC_PROVIDER_ARN, ALIBABA_CLOUD_OIDC_TOKEN_FILE); " +
  "an aliyun CLI profile (alicloud:profile or ALIBABA_CLOUD_PROFILE); the ~/.alibabacloud/credentials file; " +
  "or an ECS instance RAM role.";

/**
 * Builds the credential for API calls: static keys from stack config, then the `@pulumi/alicloud`
 * environment variables, then a named CLI profile, then a named ECS RAM role, then Alibaba's default chain.
 */
export function buildCredential(settings: ProviderSettings, env: NodeJS.ProcessEnv = process.env): Credential {
  // Key, secret and token come from one source, never mixed: a long-term key from config with an STS token
  // left in the environment would make a credential that matches nothing.
  const fromConfig = settings.accessKey !== undefined || settings.secretKey !== undefined;
  const accessKeyId = fromConfig ? settings.accessKey : nonEmpty(env.ALICLOUD_ACCESS_KEY);
  const accessKeySecret = fromConfig ? settings.secretKey : nonEmpty(env.ALICLOUD_SECRET_KEY);
  if (accessKeyId || accessKeySecret) {
    if (!accessKeyId || !accessKeySecret) {
      const [id, secret] = fromConfig
        ? ["alicloud:accessKey", "alicloud:secretKey"]
        : ["ALICLOUD_ACCESS_KEY", "ALICLOUD_SECRET_KEY"];
      throw new ConfigurationError(
        `Only one half of an AccessKey pair is set (${accessKeyId ? secret : id} is missing). ${CREDENTIAL_HELP}`,
      );
    }
    const securityToken = fromConfig ? settings.securityToken : nonEmpty(env.ALICLOUD_SECURITY_TOKEN);
    return new Credential(
      new CredentialConfig(
        securityToken
          ? { type: "sts", accessKeyId, accessKeySecret, securityToken }
          : { type: "access_key", accessKeyId, accessKeySecret },
      ),
    );
  }
  if (settings.profile) {
    return new Credential(null, CLIProfileCredentialsProvider.builder().withProfileName(settings.profile).build());
  }
  const roleName = settings.ecsRoleName ?? nonEmpty(env.ALICLOUD_ECS_ROLE_NAME);
  if (roleName) {
    try {
      return new Credential(new CredentialConfig({ type: "ecs_ram_role", roleName }));
    } catch (err) {
      // e.g. "IMDS credentials is disabled" when ALIBABA_CLOUD_ECS_METADATA_DISABLED is set
      throw credentialError(err);
    }
  }
  return new Credential();
}

/** Wraps a failure of the credential chain in an error that lists every way to provide credentials. */
export function credentialError(cause: unknown): ConfigurationError {
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new ConfigurationError(`No usable Alibaba Cloud credentials (${detail}). ${CREDENTIAL_HELP}`);
}
