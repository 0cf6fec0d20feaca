/**
 * The stack config the provider reads, each key beside its range and default, and the IoT Platform API actions the
 * provider calls with their account quotas. Read by the provider host's settings, the program's refusal of plain
 * secrets, and the docs.
 */
import type { NumberRule } from "./inputs";

/** An API action the provider calls: its documented account quota and the stack setting that overrides it. */
interface ApiAction {
  /** The account quota in calls per second (shared by every RAM user of the account); the default of `setting`. */
  readonly quota: number;
  /** The stack config key of the calls per second this provider process paces the action at. */
  readonly setting: string;
  /** The highest value `setting` accepts (a raised quota). */
  readonly maxQps: number;
  /**
   * Whether a call changes nothing at the service. A read-only call whose answer was lost is simply sent again; any
   * other is an unknown outcome that is never resent without the operator (docs/exactly-once.md).
   */
  readonly readOnly: boolean;
}

/**
 * Every API action the provider calls. Each gets a pacer at its quota (`host/pacer.ts`) and a stack setting; a call
 * of an action missing here does not compile.
 */
export const API_ACTIONS = {
  ResetThing: { quota: 500, setting: "iotReset:resetQps", maxQps: 10_000, readOnly: false },
  QueryJob: { quota: 5, setting: "iotReset:queryJobQps", maxQps: 1_000, readOnly: true },
  BatchGetDeviceState: { quota: 50, setting: "iotReset:deviceStateQps", maxQps: 1_000, readOnly: true },
  QueryDevice: { quota: 50, setting: "iotReset:listQps", maxQps: 1_000, readOnly: true },
  // Not an action of its own: QueryDevice calls whose CurrentPage × PageSize is 100,000 or more count against this
  // lower quota instead (the QueryDevice reference, "QPS limits"), so they are paced apart.
  QueryDeviceDeepPage: { quota: 2, setting: "iotReset:listDeepPageQps", maxQps: 1_000, readOnly: true },
  QueryDeviceListByDeviceGroup: { quota: 5, setting: "iotReset:groupListQps", maxQps: 1_000, readOnly: true },
} as const satisfies Record<string, ApiAction>;

/** The name of an API action the provider calls. */
export type ApiActionName = keyof typeof API_ACTIONS;

/** Calls per second of each action. */
export type Quotas = Readonly<Record<ApiActionName, number>>;

/** A value per API action, computed from its name. */
export function mapActions<T>(f: (action: ApiActionName) => T): Readonly<Record<ApiActionName, T>> {
  const names = Object.keys(API_ACTIONS) as ApiActionName[];
  return Object.fromEntries(names.map((action) => [action, f(action)])) as Record<ApiActionName, T>;
}

/** Stack config the provider reads; `alicloud:*` keys are the ones `@pulumi/alicloud` users already have. */
export const CONFIG_KEYS = {
  /** The region of resources that give none. */
  region: "alicloud:region",
  /** The AccessKey ID. */
  accessKey: "alicloud:accessKey",
  /** The AccessKey secret; must be set with `--secret`. */
  secretKey: "alicloud:secretKey",
  /** An STS token going with the pair; must be set with `--secret`. */
  securityToken: "alicloud:securityToken",
  /** An aliyun CLI profile to take credentials from. */
  profile: "alicloud:profile",
  /** The RAM role of the ECS instance the update runs on. */
  ecsRoleName: "alicloud:ecsRoleName",
  /** ResetThing calls per second for the update. */
  resetQps: API_ACTIONS.ResetThing.setting,
  /** QueryJob calls per second (device jobs followed with `waitForJob`). */
  queryJobQps: API_ACTIONS.QueryJob.setting,
  /** BatchGetDeviceState calls per second (promotion gates, `listFleet` with a group and a status). */
  deviceStateQps: API_ACTIONS.BatchGetDeviceState.setting,
  /** QueryDevice calls per second (`listFleet`). */
  listQps: API_ACTIONS.QueryDevice.setting,
  /** QueryDevice calls per second for pages from the 100,000th device (`listFleet`). */
  listDeepPageQps: API_ACTIONS.QueryDeviceDeepPage.setting,
  /** QueryDeviceListByDeviceGroup calls per second (`listFleet` with a group). */
  groupListQps: API_ACTIONS.QueryDeviceListByDeviceGroup.setting,
  /** The pause between two rounds of a promotion gate's reads. */
  gatePollSeconds: "iotReset:gatePollSeconds",
  /** How long `waitForJob` follows a device job before giving up. */
  jobTimeoutSeconds: "iotReset:jobTimeoutSeconds",
  /** The pause between two QueryJob polls of one job. */
  jobPollSeconds: "iotReset:jobPollSeconds",
  /** The read timeout of one API call. */
  readTimeoutMs: "iotReset:readTimeoutMs",
  /** Attempts of one API call in all, the first included. */
  maxAttempts: "iotReset:maxAttempts",
  /** How long the retries of one API call may take. */
  maxRetrySeconds: "iotReset:maxRetrySeconds",
  /** The reset journal's path (relative to the program directory), or `off`. */
  journal: "iotReset:journal",
  /** Devices with an unknown outcome to send exactly once more (`all`, or device keys; `key#2` allows a second resend). */
  resendUnknown: "iotReset:resendUnknown",
  /** Devices with an unknown outcome to record as reset without sending (`all`, or device keys). */
  acceptUnknown: "iotReset:acceptUnknown",
} as const;

/** A numeric stack setting's range, and the value used when it is not set. */
export type NumericSetting = NumberRule & { readonly fallback: number };

/** The range of each numeric stack setting, and its default. */
export const NUMERIC_SETTINGS: Readonly<Record<string, NumericSetting>> = {
  ...Object.fromEntries(
    Object.values(API_ACTIONS).map((a) => [
      a.setting,
      { min: 0, minExclusive: true, max: a.maxQps, fallback: a.quota },
    ]),
  ),
  [CONFIG_KEYS.gatePollSeconds]: { min: 0, minExclusive: true, max: 3600, fallback: 10 },
  [CONFIG_KEYS.jobTimeoutSeconds]: { min: 0, minExclusive: true, max: 86_400, fallback: 1800 },
  [CONFIG_KEYS.jobPollSeconds]: { min: 0, minExclusive: true, max: 3600, fallback: 2 },
  [CONFIG_KEYS.readTimeoutMs]: { min: 1, max: 600_000, integer: true, fallback: 10_000 },
  [CONFIG_KEYS.maxAttempts]: { min: 1, max: 100, integer: true, fallback: 8 },
  [CONFIG_KEYS.maxRetrySeconds]: { min: 0, minExclusive: true, max: 3600, fallback: 120 },
};

/** The default of a numeric stack setting. */
export const defaultOf = (key: string): number => (NUMERIC_SETTINGS[key] as NumericSetting).fallback;
