/**
 * Input rules shared by `check` of every resource and by the resource constructors in the program: pure
 * functions, no network. Each failure names the property, states the rule and says what to do, as Pulumi shows
 * it next to the resource.
 */
/** The value the engine sends for an input not yet known during preview. */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** One failed rule, in the shape the dynamic-provider host reports. */
export interface CheckFailure {
  /** The property that broke a rule, e.g. `deviceName` or `devices[3].iotId`; "" for the resource as a whole. */
  readonly property: string;
  /** The rule it broke, in one sentence. */
  readonly reason: string;
}

/** Whether a value is the engine's "unknown during preview" placeholder. */
export function isUnknown(value: unknown): boolean {
  return value === UNKNOWN;
}

/** Whether a value, or anything nested in it, is unknown during preview. */
export function containsUnknown(value: unknown): boolean {
  if (isUnknown(value)) return true;
  if (Array.isArray(value)) return value.some(containsUnknown);
  if (value !== null && typeof value === "object") return Object.values(value).some(containsUnknown);
  return false;
}

// Characters that would let a value forge or hide text where it is printed: C0 and C1 controls, DEL, zero-width
// and bidirectional controls, line and paragraph separators, the BOM and the replacement character.
const HIDDEN_CHARACTERS =
  /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\ufffd]/g;

function codePoint(c: string): string {
  return `U+${(c.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0")}`;
}

/**
 * A text safe to print on one line: backslashes doubled, control, invisible and bidirectional characters written
 * as `\uXXXX`. Used wherever a value from a plan or a fleet reaches a terminal or a pull-request comment.
 */
export function escapeText(text: string): string {
  return text
    .replace(/\\/g, "\\\\")
    .replace(HIDDEN_CHARACTERS, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** A string as messages quote it: JSON-escaped, hidden characters escaped, cut at `max` characters. */
export function quote(text: string, max = 64): string {
  const cut = text.length > max ? text.slice(0, max) : text;
  const json = JSON.stringify(cut).replace(
    HIDDEN_CHARACTERS,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
  return text.length > max ? `${json.slice(0, -1)}…" (${text.length} characters)` : json;
}

/** Names a value the way a user wrote it: `the string "2"`, `null`, `an object`, `a Date`, `NaN`. */
export function describeValue(value: unknown): string {
  if (value === null) return "null";
  switch (typeof value) {
    case "undefined":
      return "undefined";
    case "string":
      return `the string ${quote(value)}`;
    case "number":
      return Number.isNaN(value) ? "NaN" : Number.isFinite(value) ? `the number ${value}` : String(value);
    case "boolean":
      return `the boolean ${value}`;
    case "bigint":
      return `the bigint ${value}n`;
    case "symbol":
      return "a symbol";
    case "function":
      return "a function";
  }
  if (Array.isArray(value)) return "an array";
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) return "an object";
  const name = typeof proto?.constructor?.name === "string" && proto.constructor.name ? proto.constructor.name : "";
  if (name === "OutputImpl") return "an Output";
  return name ? `${/^[AEIOU]/.test(name) ? "an" : "a"} ${name}` : "an object with a prototype";
}

/** The rule of one identity property: its pattern and the sentence that states it. */
interface IdentityRule {
  readonly pattern: RegExp;
  readonly rule: string;
}

/**
 * IoT Platform's identity formats. DeviceName: 4–32 letters, digits and `-_@.:` (RegisterDevice). ProductKey and
 * IotId are issued by IoT Platform as letters and digits (a ProductKey has 11; the device SDKs hold up to 20 and
 * an IotId up to 64). An instance ID is letters, digits, `-` and `_` (`iot-cn-…`, `iot-06…`, `iot_instc_…`).
 */
export const IDENTITY_RULES: Readonly<Record<"productKey" | "deviceName" | "iotId" | "iotInstanceId", IdentityRule>> = {
  productKey: { pattern: /^[A-Za-z0-9]{1,20}$/, rule: "1 to 20 letters and digits, as IoT Platform issues it" },
  deviceName: { pattern: /^[A-Za-z0-9\-_@.:]{4,32}$/, rule: "4 to 32 characters of letters, digits and -_@.:" },
  iotId: { pattern: /^[A-Za-z0-9]{1,64}$/, rule: "1 to 64 letters and digits, as IoT Platform issues it" },
  iotInstanceId: { pattern: /^[A-Za-z0-9_-]{1,64}$/, rule: "1 to 64 letters, digits, - and _, e.g. iot-cn-0pp1n8t" },
};

/** DeviceName: 4 to 32 letters, digits and `-_@.:`, as IoT Platform allows. */
export const DEVICE_NAME_PATTERN = IDENTITY_RULES.deviceName.pattern;
const REGION_PATTERN = /^[a-z]{2}(-[a-z0-9]+)+$/;

/**
 * Why a known string is not a valid identity value, or undefined when it is. The common ways a value gets damaged
 * on its way from a spreadsheet or a shell (spaces, CSV quotes, line breaks, bytes that were not UTF-8) are named
 * as such, so the message says what to fix.
 */
export function identityProblem(property: keyof typeof IDENTITY_RULES, value: string): string | undefined {
  const { pattern, rule } = IDENTITY_RULES[property];
  if (pattern.test(value)) return undefined;
  if (value.trim() === "") return "must be a non-empty string";
  const shown = quote(value);
  if (value !== value.trim()) return `${shown} has leading or trailing whitespace; remove it`;
  const hidden = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.exec(value);
  if (hidden) {
    return `${shown} contains a control character (${codePoint(hidden[0])}); remove it: identities never hold line breaks or control characters`;
  }
  if (value.includes("\ufffd")) {
    return `${shown} contains U+FFFD, the character left where bytes were not valid UTF-8; fix the source's encoding (save the fleet file as UTF-8)`;
  }
  if (/["'`]/.test(value)) {
    return `${shown} contains a quote, usually CSV quoting kept as part of the value; remove it (loadFleet reads CSV quoting)`;
  }
  return `${shown} must be ${rule}`;
}

function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || /^(::ffff:)?127(\.\d{1,3}){3}$/.test(h);
}

/** Where API calls go: a host with optional port, and the scheme. */
export interface ParsedEndpoint {
  /** `host[:port]`, as the SDK takes it. */
  readonly host: string;
  /** The scheme: https unless `http://` was written (loopback only). */
  readonly protocol: "http" | "https";
}

/**
 * Parses the `endpoint` argument: `host[:port]` (HTTPS), `https://host[:port]`, or `http://` to a loopback
 * address only, since plain HTTP would carry signed requests in clear over a network. Returns a reason
 * string when the value breaks a rule.
 */
export function parseEndpoint(value: string): ParsedEndpoint | string {
  const match = /^(?:(https?):\/\/)?([^/?#\s]+?)\/?$/.exec(value.trim());
  if (!match) return "must be host[:port] or an http(s):// URL with no path, e.g. iot.cn-shanghai.aliyuncs.com";
  const protocol = (match[1] ?? "https") as "http" | "https";
  const host = match[2] as string;
  const hostOnly = /^\[[^\]]+\]/.test(host) ? host.replace(/^(\[[^\]]+\]).*$/, "$1") : host.replace(/:\d+$/, "");
  const port = host.slice(hostOnly.length);
  if (port && !/^:\d{1,5}$/.test(port)) return `has an invalid port "${port.slice(1)}"`;
  if (port && !(Number(port.slice(1)) >= 1 && Number(port.slice(1)) <= 65535)) {
    return `has port ${port.slice(1)}; a port is a whole number from 1 to 65535`;
  }
  if (!/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)$/.test(hostOnly)) return `has an invalid host "${hostOnly}"`;
  if (protocol === "http" && !isLoopbackHost(hostOnly)) {
    return `uses plain http:// to "${hostOnly}"; plain HTTP is only allowed to a loopback address (a local emulator): use https:// or host[:port]`;
  }
  return { host, protocol };
}

/** Whether a value survives JSON unchanged: no functions, symbols, bigints, non-finite numbers or cycles. */
export function isJsonValue(value: unknown, seen: Set<unknown> = new Set()): boolean {
  if (value === null || typeof value === "string" || typeof value === "boolean") return true;
  if (typeof value === "number") return Number.isFinite(value);
  if (typeof value !== "object") return false;
  if (seen.has(value)) return false;
  seen.add(value);
  const ok = Array.isArray(value)
    ? value.every((v) => isJsonValue(v, seen))
    : Object.getPrototypeOf(value) === Object.prototype && Object.values(value).every((v) => isJsonValue(v, seen));
  seen.delete(value);
  return ok;
}

/** Stable JSON with sorted keys, so that `{a,b}` and `{b,a}` compare equal. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.keys(value as object)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(",")}}`;
  }
  return value === undefined ? "null" : JSON.stringify(value);
}

/** The largest `triggers` accepted, as bytes of JSON: they are stored twice per resource and compared on every preview. */
export const MAX_TRIGGERS_BYTES = 16 * 1024;
/** How deeply `triggers` may nest. */
export const MAX_TRIGGERS_DEPTH = 32;

const JSON_RULE = "triggers hold strings, finite numbers, booleans, null, arrays and plain objects";

/** A property path with a key appended: `triggers.rotation`, `triggers["a b"]`. */
export function childPath(path: string, key: string): string {
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

/** What to write instead of a value that is not plain JSON. */
function jsonAdvice(value: unknown): string {
  if (value instanceof Date) return "write the date as a string, e.g. date.toISOString()";
  if (typeof value === "bigint") return "write it as a string, e.g. String(n)";
  if (typeof value === "number") return "use a finite number or a string";
  if (value === undefined) return "use null or remove the element";
  if (value instanceof Map) return "write it as an object, e.g. Object.fromEntries(map)";
  if (value instanceof Set) return "write it as an array, e.g. [...set]";
  if (typeof value === "function" || typeof value === "symbol") return "remove it";
  return "write it as a string or a plain object";
}

/**
 * Checks that `value` is plain JSON, naming the first offending path of each branch (`triggers[0]`). `visit`
 * is asked about every object first: returning true skips it (the program side uses it for Outputs and
 * Promises, whose values are checked once they resolve). The serialized size is capped by `MAX_TRIGGERS_BYTES`.
 */
export function checkJson(
  value: unknown,
  path: string,
  failures: CheckFailure[],
  visit: (value: object, path: string) => boolean = () => false,
): void {
  const before = failures.length;
  let deferred = false;
  const walk = (v: unknown, at: string, depth: number, inArray: boolean, seen: Set<unknown>): void => {
    if (v === null || typeof v === "string" || typeof v === "boolean") return;
    if (typeof v === "number" && Number.isFinite(v)) return;
    if (v === undefined && !inArray) return; // an absent member, as JSON and the engine drop it
    if (typeof v !== "object" || v instanceof Date || v instanceof Map || v instanceof Set) {
      failures.push({ property: at, reason: `is ${describeValue(v)}, not plain JSON: ${JSON_RULE}; ${jsonAdvice(v)}` });
      return;
    }
    if (visit(v, at)) {
      deferred = true;
      return;
    }
    if (seen.has(v)) {
      failures.push({ property: at, reason: `refers back to a value that contains it (a cycle); ${JSON_RULE}` });
      return;
    }
    if (depth >= MAX_TRIGGERS_DEPTH) {
      failures.push({ property: at, reason: `is nested more than ${MAX_TRIGGERS_DEPTH} levels deep; flatten it` });
      return;
    }
    const proto = Object.getPrototypeOf(v);
    if (!Array.isArray(v) && proto !== Object.prototype && proto !== null) {
      failures.push({ property: at, reason: `is ${describeValue(v)}, not plain JSON: ${JSON_RULE}; ${jsonAdvice(v)}` });
      return;
    }
    seen.add(v);
    if (Array.isArray(v)) v.forEach((e, i) => walk(e, `${at}[${i}]`, depth + 1, true, seen));
    else for (const [k, e] of Object.entries(v)) walk(e, childPath(at, k), depth + 1, false, seen);
    seen.delete(v);
  };
  walk(value, path, 0, false, new Set());
  // The size of a value with parts still to come is checked where it is whole: in the provider's check.
  if (failures.length > before || deferred) return;
  const size = Buffer.byteLength(JSON.stringify(value) ?? "");
  if (size > MAX_TRIGGERS_BYTES) {
    failures.push({
      property: path,
      reason: `is ${size} bytes as JSON, over the limit of ${MAX_TRIGGERS_BYTES}: triggers are stored in state and compared on every preview; put a hash of large content there instead (e.g. its SHA-256)`,
    });
  }
}

/**
 * The arguments of a `DeviceRegistrationReset`: a change of a `replace` one means a different reset (the device is
 * reset again); an `update` one changes only how the reset is followed (in place, no API call).
 */
export const DEVICE_ARGUMENTS = {
  replace: ["productKey", "deviceName", "iotId", "iotInstanceId", "region", "endpoint", "triggers"],
  update: ["waitForJob"],
} as const;

/** Rules for the optional settings every resource shares. */
export function checkCommonSettings(news: Record<string, unknown>, failures: CheckFailure[]): void {
  if (checkString(news, "iotInstanceId", failures)) {
    const problem = identityProblem("iotInstanceId", news.iotInstanceId as string);
    if (problem) failures.push({ property: "iotInstanceId", reason: problem });
  }
  if (checkString(news, "region", failures) && !REGION_PATTERN.test(news.region as string)) {
    failures.push({
      property: "region",
      reason: `${quote(news.region as string)} is not a region ID such as cn-shanghai`,
    });
  }
  if (checkString(news, "endpoint", failures)) {
    const parsed = parseEndpoint(news.endpoint as string);
    if (typeof parsed === "string")
      failures.push({ property: "endpoint", reason: `${quote(news.endpoint as string)} ${parsed}` });
  }
  const wait = news.waitForJob;
  if (wait !== undefined && !isUnknown(wait) && typeof wait !== "boolean") {
    failures.push({ property: "waitForJob", reason: `must be a boolean, got ${describeValue(wait)}` });
  }
}

/** Whether a region ID has the shape of one (`cn-shanghai`, `ap-southeast-1`). */
export function isRegionId(value: string): boolean {
  return REGION_PATTERN.test(value);
}

/**
 * Checks an optional string property: present and known means a non-empty string. Returns true when the
 * value is a known string that further rules can look at.
 */
export function checkString(news: Record<string, unknown>, property: string, failures: CheckFailure[]): boolean {
  const value = news[property];
  if (value === undefined || isUnknown(value)) return false;
  if (typeof value !== "string") {
    failures.push({ property, reason: `must be a non-empty string, got ${describeValue(value)}` });
    return false;
  }
  if (value.trim() === "") {
    failures.push({ property, reason: "must be a non-empty string" });
    return false;
  }
  return true;
}

/**
 * Checks one device identity. `prefix` names where it sits (`""` for a resource's own args,
 * `devices[3].` inside a batch).
 */
export function checkIdentity(device: Record<string, unknown>, prefix: string, failures: CheckFailure[]): void {
  const local: CheckFailure[] = [];
  const hasIotId = device.iotId !== undefined;
  const hasKey = device.productKey !== undefined;
  const hasName = device.deviceName !== undefined;
  for (const property of ["iotId", "productKey", "deviceName"] as const) {
    if (!checkString(device, property, local)) continue;
    const problem = identityProblem(property, device[property] as string);
    if (problem) local.push({ property, reason: problem });
  }
  if (!hasIotId) {
    if (!hasKey && !hasName) {
      local.push({ property: "iotId", reason: "a device needs either iotId or both productKey and deviceName" });
    } else if (!hasKey) {
      local.push({ property: "productKey", reason: "productKey is required with deviceName (or give iotId instead)" });
    } else if (!hasName) {
      local.push({ property: "deviceName", reason: "deviceName is required with productKey (or give iotId instead)" });
    }
  }
  for (const f of local) failures.push({ property: prefix + f.property, reason: f.reason });
}

const DEVICE_KEYS = new Set(["productKey", "deviceName", "iotId"]);

/**
 * Checks one entry of a fleet (a cohort's or a batch's `devices[i]`): an object with only identity keys, and a
 * valid identity. `at` names it, e.g. `devices[3]`.
 */
export function checkFleetDevice(device: unknown, at: string, failures: CheckFailure[]): void {
  if (device === null || typeof device !== "object" || Array.isArray(device)) {
    failures.push({
      property: at,
      reason: `must be { productKey, deviceName } or { iotId }, got ${describeValue(device)}`,
    });
    return;
  }
  const extra = Object.keys(device).filter((k) => !DEVICE_KEYS.has(k));
  if (extra.length > 0) {
    failures.push({
      property: at,
      reason: `has unknown key(s) ${extra.map((k) => quote(k)).join(", ")}; a device is { productKey, deviceName } or { iotId } (instance, region and endpoint are the cohort's)`,
    });
    return;
  }
  checkIdentity(device as Record<string, unknown>, `${at}.`, failures);
}

/** The campaign: a non-empty name of at most 128 characters with no control characters (it is printed in logs). */
export function checkCampaign(news: Record<string, unknown>, failures: CheckFailure[]): void {
  if (news.campaign === undefined) {
    failures.push({ property: "campaign", reason: "is required: it names the reset campaign" });
    return;
  }
  if (!checkString(news, "campaign", failures)) return;
  const campaign = news.campaign as string;
  const hidden = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.exec(campaign);
  if (hidden) {
    failures.push({
      property: "campaign",
      reason: `${quote(campaign)} contains a control character (${codePoint(hidden[0])}); a campaign is one line of text`,
    });
  } else if (campaign.length > 128) {
    failures.push({
      property: "campaign",
      reason: `is ${campaign.length} characters long; a campaign has at most 128`,
    });
  }
}

/** A numeric rule: bounds, and whether only whole numbers are allowed. */
export interface NumberRule {
  readonly min: number;
  readonly max: number;
  readonly integer?: boolean;
  /** Whether `min` itself is refused (a number greater than min). */
  readonly minExclusive?: boolean;
}

/** The rule as a phrase: "a whole number from 1 to 100", "a number from 0 to 1". */
export function describeRule(rule: NumberRule): string {
  const kind = rule.integer ? "a whole number" : "a number";
  return rule.minExclusive
    ? `${kind} greater than ${rule.min} and at most ${rule.max}`
    : `${kind} from ${rule.min} to ${rule.max}`;
}

/** Why a value breaks a numeric rule (naming what was given), or undefined when it keeps it. */
export function numberProblem(value: unknown, rule: NumberRule): string | undefined {
  const ok =
    typeof value === "number" &&
    Number.isFinite(value) &&
    (rule.minExclusive ? value > rule.min : value >= rule.min) &&
    value <= rule.max &&
    (!rule.integer || Number.isInteger(value));
  return ok ? undefined : `must be ${describeRule(rule)}, got ${describeValue(value)}`;
}

/** The range of `minOnlineRatio`. */
export const MIN_ONLINE_RATIO_RULE = { min: 0, max: 1 } as const;
/** The range of `waitMinutes`: up to a day. */
export const WAIT_MINUTES_RULE = { min: 0, max: 1440 } as const;

/** Checks an optional numeric property; `null` is refused, like any value that is not a number. */
export function checkNumber(
  news: Record<string, unknown>,
  property: string,
  rule: NumberRule,
  failures: CheckFailure[],
): void {
  const value = news[property];
  if (value === undefined || isUnknown(value)) return;
  if (value === null) {
    failures.push({ property, reason: `is null; give ${describeRule(rule)}, or leave it out` });
    return;
  }
  const problem = numberProblem(value, rule);
  if (problem) failures.push({ property, reason: problem });
}
