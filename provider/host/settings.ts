/**
 * Where settings come from, in order: the resource's arguments, then stack config (received through the
 * dynamic provider's `configure` hook, so secrets stay in the provider process), then the environment and
 * the Alibaba Cloud default credential chain. Nothing here is ever written to state.
 */
import { JournalLocation, parseJournalLocation } from "./journal-location";
import Credential, { CLIProfileCredentialsProvider, Config as CredentialConfig } from "@alicloud/credentials";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ConfigurationError } from "../shared/errors";
import { API_ACTIONS, CONFIG_KEYS, mapActions, NUMERIC_SETTINGS, NumericSetting, Quotas } from "../shared/config";
import { describeRule, isRegionId, numberProblem, parseEndpoint, quote } from "../shared/inputs";
import { DEFAULT_RETRY_POLICY, RetryPolicy } from "./retry";

/** Devices named by a setting: every one (`all`), or a set of device keys (`productKey/deviceName`, `iotId:<IotId>`). */
export type DeviceChoice = "all" | ReadonlySet<string>;

/**
 * The devices `iotReset:resendUnknown` names, each with the resend it allows: `key#2` the second, a bare key (and
 * `all`) the first.
 */
export type ResendChoice = "all" | ReadonlyMap<string, number>;

/** Whether a choice names a device. */
export function chooses(choice: DeviceChoice, key: string): boolean {
  return choice === "all" || choice.has(key);
}

/** Which resend of a device a choice allows (1 for the first); undefined when it does not name the device. */
export function resendAllowed(choice: ResendChoice, key: string): number | undefined {
  return choice === "all" ? 1 : choice.get(key);
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
  /** The pause between two rounds of a promotion gate's device-state reads. */
  readonly gatePollMs: number;
  /** Read timeout of one API call. */
  readonly readTimeoutMs: number;
  /** Connect timeout of one API call. */
  readonly connectTimeoutMs: number;
  /** `iotReset:journal`: where the reset journal is (a file, a bucket, or `off`). */
  readonly journal: JournalLocation;
  /** `iotReset:resendUnknown`: devices with an unknown outcome to send once more, each with the resend it allows. */
  readonly resendUnknown: ResendChoice;
  /** `iotReset:acceptUnknown`: devices with an unknown outcome to record as reset without sending. */
  readonly acceptUnknown: DeviceChoice;
}

/** The devices two choices both name (`all` when both are `all`). */
function overlap(a: ResendChoice, b: DeviceChoice): string[] {
  if (a === "all") return b === "all" ? ["all"] : [...b.keys()];
  return b === "all" ? [...a.keys()] : [...a.keys()].filter((k) => b.has(k));
}

/**
 * Parses `all`, or device keys separated by commas, spaces or new lines; with `numbered`, a key may end in `#<n>`
 * (no DeviceName, ProductKey or IotId holds a `#`).
 */
function deviceChoice(get: (key: string) => string | undefined, key: string, numbered: boolean): ResendChoice {
  const raw = (get(key) ?? "").trim();
  if (raw === "all") return "all";
  const choice = new Map<string, number>();
  for (const entry of raw.split(/[\s,]+/).filter((k) => k !== "")) {
    const hash = entry.lastIndexOf("#");
    const n = hash < 0 ? 1 : /^[1-9]\d{0,5}$/.test(entry.slice(hash + 1)) ? Number(entry.slice(hash + 1)) : 0;
    if (n === 0 || (hash >= 0 && !numbered)) throw badEntry(key, entry, numbered);
    choice.set(hash < 0 ? entry : entry.slice(0, hash), n);
  }
  return choice;
}

function badEntry(key: string, entry: string, numbered: boolean): ConfigurationError {
  const rule = numbered
    ? "after a device key, `#` takes the resend it allows, a whole number from 1 (`a1Cam/cam-0008#2` allows the second)"
    : `a device key holds no \`#\` (a resend number goes with ${CONFIG_KEYS.resendUnknown} only)`;
  return new ConfigurationError(
    `Stack config ${key} names ${quote(entry)}: ${rule}. Fix it with \`pulumi config set ${key} <devices>\`.`,
  );
}

/** A numeric stack setting: a plain decimal (no sign, exponent or hex) within its range, else its default. */
function numberSetting(get: (key: string) => string | undefined, key: string): number {
  const rule = NUMERIC_SETTINGS[key] as NumericSetting;
  const raw = get(key);
  if (raw === undefined || raw === "") return rule.fallback;
  const n = /^\d+(\.\d+)?$/.test(raw.trim()) ? Number(raw) : Number.NaN;
  if (numberProblem(n, rule) !== undefined) {
    throw new ConfigurationError(
      `Stack config ${key} must be ${describeRule(rule)}, got ${quote(raw)}. Fix it with ` +
        `\`pulumi config set ${key} <value>\`, or remove it to use the default (${rule.fallback}).`,
    );
  }
  return n;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value;
}

/** A region from stack config or the environment, refused unless it has the shape of a region ID. */
function regionSetting(value: string | undefined, source: string): string | undefined {
  const region = nonEmpty(value);
  if (region !== undefined && !isRegionId(region)) {
    throw new ConfigurationError(
      `${source} is ${quote(region)}, which is not a region ID such as cn-shanghai; fix it or remove it.`,
    );
  }
  return region;
}

/** Reads the provider settings from stack config (`get` returns a key's string value, or undefined). */
export function readSettings(get: (key: string) => string | undefined): ProviderSettings {
  const resendUnknown = deviceChoice(get, CONFIG_KEYS.resendUnknown, true);
  const accepted = deviceChoice(get, CONFIG_KEYS.acceptUnknown, false);
  const acceptUnknown: DeviceChoice = accepted === "all" ? "all" : new Set(accepted.keys());
  const both = overlap(resendUnknown, acceptUnknown);
  if (both.length > 0) {
    throw new ConfigurationError(
      `Stack config ${CONFIG_KEYS.resendUnknown} and ${CONFIG_KEYS.acceptUnknown} both name ${both.join(", ")}; ` +
        `a device with an unknown outcome is either sent once more or accepted as reset, not both.`,
    );
  }
  const journal = parseJournalLocation(nonEmpty(get(CONFIG_KEYS.journal))?.trim());
  return {
    region: regionSetting(get(CONFIG_KEYS.region), `Stack config ${CONFIG_KEYS.region}`),
    accessKey: nonEmpty(get(CONFIG_KEYS.accessKey)),
    secretKey: nonEmpty(get(CONFIG_KEYS.secretKey)),
    securityToken: nonEmpty(get(CONFIG_KEYS.securityToken)),
    profile: nonEmpty(get(CONFIG_KEYS.profile)),
    ecsRoleName: nonEmpty(get(CONFIG_KEYS.ecsRoleName)),
    quotas: mapActions((action) => numberSetting(get, API_ACTIONS[action].setting)),
    retry: {
      ...DEFAULT_RETRY_POLICY,
      maxAttempts: numberSetting(get, CONFIG_KEYS.maxAttempts),
      maxElapsedMs: numberSetting(get, CONFIG_KEYS.maxRetrySeconds) * 1000,
    },
    jobTimeoutMs: numberSetting(get, CONFIG_KEYS.jobTimeoutSeconds) * 1000,
    jobPollMs: numberSetting(get, CONFIG_KEYS.jobPollSeconds) * 1000,
    gatePollMs: numberSetting(get, CONFIG_KEYS.gatePollSeconds) * 1000,
    readTimeoutMs: numberSetting(get, CONFIG_KEYS.readTimeoutMs),
    connectTimeoutMs: 5_000,
    journal,
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

/** The message when no region is set anywhere: every way to set one. */
export const NO_REGION =
  "No region is set. Give the resource a `region` argument, or run `pulumi config set alicloud:region cn-shanghai`, " +
  "or set the ALIBABA_CLOUD_REGION_ID environment variable.";

/** The region from the environment: ALIBABA_CLOUD_REGION_ID, else ALICLOUD_REGION; refused unless a region ID. */
export function environmentRegion(env: NodeJS.ProcessEnv): string | undefined {
  return (
    regionSetting(env.ALIBABA_CLOUD_REGION_ID, "The environment variable ALIBABA_CLOUD_REGION_ID") ??
    regionSetting(env.ALICLOUD_REGION, "The environment variable ALICLOUD_REGION")
  );
}

/** Resolves region and endpoint for one resource: its args, else stack config, else the environment. */
export function resolveTarget(
  args: { region?: string; endpoint?: string },
  settings: ProviderSettings,
  env: NodeJS.ProcessEnv = process.env,
): Target {
  const region = args.region ?? settings.region ?? environmentRegion(env);
  if (!region) throw new ConfigurationError(NO_REGION);
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
    if (!accessKeyId || !accessKeySecret) throw new ConfigurationError(halfPair(fromConfig, accessKeyId));
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

function halfPair(fromConfig: boolean, accessKeyId: string | undefined): string {
  const [id, secret] = fromConfig
    ? ["alicloud:accessKey", "alicloud:secretKey"]
    : ["ALICLOUD_ACCESS_KEY", "ALICLOUD_SECRET_KEY"];
  return `Only one half of an AccessKey pair is set (${accessKeyId ? secret : id} is missing). ${CREDENTIAL_HELP}`;
}

const isTrue = (value: string | undefined): boolean => value?.toLowerCase() === "true";

/**
 * Why no credential can exist under these settings and environment, or undefined when one may. Decided without
 * any network call, so that a preview can say it: files are only tested for existence, and the ECS metadata
 * service counts as a source unless ALIBABA_CLOUD_ECS_METADATA_DISABLED=true turns it off.
 */
export function credentialSourceProblem(
  settings: ProviderSettings,
  env: NodeJS.ProcessEnv,
  exists: (file: string) => boolean = fs.existsSync,
): string | undefined {
  const fromConfig = settings.accessKey !== undefined || settings.secretKey !== undefined;
  const accessKeyId = fromConfig ? settings.accessKey : nonEmpty(env.ALICLOUD_ACCESS_KEY);
  const accessKeySecret = fromConfig ? settings.secretKey : nonEmpty(env.ALICLOUD_SECRET_KEY);
  if (accessKeyId || accessKeySecret)
    return accessKeyId && accessKeySecret ? undefined : halfPair(fromConfig, accessKeyId);
  const cliOff = isTrue(env.ALIBABA_CLOUD_CLI_PROFILE_DISABLED);
  const imdsOff = isTrue(env.ALIBABA_CLOUD_ECS_METADATA_DISABLED);
  if (settings.profile) {
    return cliOff
      ? `No usable Alibaba Cloud credentials (alicloud:profile is set, but ALIBABA_CLOUD_CLI_PROFILE_DISABLED=true turns aliyun CLI profiles off). ${CREDENTIAL_HELP}`
      : undefined;
  }
  if (settings.ecsRoleName ?? nonEmpty(env.ALICLOUD_ECS_ROLE_NAME)) {
    return imdsOff ? credentialError(new Error("IMDS credentials is disabled")).message : undefined;
  }
  const home = nonEmpty(env.HOME) ?? os.homedir();
  const credentialsFile =
    nonEmpty(env.ALIBABA_CLOUD_CREDENTIALS_FILE) ?? path.join(home, ".alibabacloud", "credentials");
  const cliConfig = path.join(home, ".aliyun", "config.json");
  const available =
    (nonEmpty(env.ALIBABA_CLOUD_ACCESS_KEY_ID) && nonEmpty(env.ALIBABA_CLOUD_ACCESS_KEY_SECRET)) ||
    (nonEmpty(env.ALIBABA_CLOUD_ROLE_ARN) &&
      nonEmpty(env.ALIBABA_CLOUD_OIDC_PROVIDER_ARN) &&
      nonEmpty(env.ALIBABA_CLOUD_OIDC_TOKEN_FILE)) ||
    nonEmpty(env.ALIBABA_CLOUD_CREDENTIALS_URI) ||
    (!cliOff && exists(cliConfig)) ||
    exists(credentialsFile) ||
    !imdsOff;
  if (available) return undefined;
  return (
    `No Alibaba Cloud credentials can be found: no AccessKey in stack config or the environment, no OIDC/RRSA ` +
    `variables, ${cliOff ? "aliyun CLI profiles turned off (ALIBABA_CLOUD_CLI_PROFILE_DISABLED=true)" : `no aliyun CLI config (${cliConfig})`}, ` +
    `no credentials file (${credentialsFile}), and the ECS metadata service turned off ` +
    `(ALIBABA_CLOUD_ECS_METADATA_DISABLED=true). ${CREDENTIAL_HELP}`
  );
}

/** Wraps a failure of the credential chain in an error that lists every way to provide credentials. */
export function credentialError(cause: unknown): ConfigurationError {
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new ConfigurationError(`No usable Alibaba Cloud credentials (${detail}). ${CREDENTIAL_HELP}`);
}
