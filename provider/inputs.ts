/**
 * Input rules shared by `check` of every resource: pure functions, no network. Each failure names the
 * property and the rule, as Pulumi shows it next to the resource.
 */

/** The value the engine sends for an input not yet known during preview. */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** One failed rule, in the shape the dynamic-provider host reports. */
export interface CheckFailure {
  /** The property that broke a rule, e.g. `deviceName` or `devices[3].iotId`. */
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

/** DeviceName: 4 to 32 letters, digits and `-_@.:`, as IoT Platform allows. */
export const DEVICE_NAME_PATTERN = /^[A-Za-z0-9\-_@.:]{4,32}$/;
const REGION_PATTERN = /^[a-z]{2}(-[a-z0-9]+)+$/;

function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || /^127(\.\d{1,3}){3}$/.test(h);
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

/** Rules for the optional string settings every resource shares. */
export function checkCommonSettings(news: Record<string, unknown>, failures: CheckFailure[]): void {
  checkString(news, "iotInstanceId", failures);
  if (checkString(news, "region", failures) && !REGION_PATTERN.test(news.region as string)) {
    failures.push({ property: "region", reason: `"${news.region}" is not a region ID such as cn-shanghai` });
  }
  if (checkString(news, "endpoint", failures)) {
    const parsed = parseEndpoint(news.endpoint as string);
    if (typeof parsed === "string") failures.push({ property: "endpoint", reason: `"${news.endpoint}" ${parsed}` });
  }
  const wait = news.waitForJob;
  if (wait !== undefined && !isUnknown(wait) && typeof wait !== "boolean") {
    failures.push({ property: "waitForJob", reason: "must be a boolean" });
  }
}

/**
 * Checks an optional string property: present and known means a non-empty string. Returns true when the
 * value is a known string that further rules can look at.
 */
export function checkString(news: Record<string, unknown>, property: string, failures: CheckFailure[]): boolean {
  const value = news[property];
  if (value === undefined || isUnknown(value)) return false;
  if (typeof value !== "string" || value.trim() === "") {
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
  checkString(device, "iotId", local);
  checkString(device, "productKey", local);
  if (checkString(device, "deviceName", local) && !DEVICE_NAME_PATTERN.test(device.deviceName as string)) {
    local.push({
      property: "deviceName",
      reason: `"${device.deviceName}" must be 4 to 32 characters of letters, digits and -_@.:`,
    });
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
