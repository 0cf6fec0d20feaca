/**
 * Where the reset journal lives, from `iotReset:journal`: a local file (the default), an S3 bucket
 * (`s3://bucket/prefix?region=…&endpoint=…`), an Alibaba Cloud OSS bucket (`oss://bucket/prefix?endpoint=…`), or
 * `off`. Credentials never appear here: a bucket is reached with the default credential chain of its cloud.
 */
import { ConfigurationError } from "../shared/errors";
import { CONFIG_KEYS } from "../shared/config";

/** How long a writer that stopped writing keeps the journal before another may take it over, by default. */
export const DEFAULT_LEASE_SECONDS = 30;

/** A journal in a bucket. */
export interface BucketLocation {
  /** `s3` (AWS S3 and compatible stores with conditional writes) or `oss` (Alibaba Cloud OSS, native API). */
  readonly kind: "s3" | "oss";
  /** The bucket's name. */
  readonly bucket: string;
  /** The key prefix the stack's journal goes under, without leading or trailing `/`; may be empty. */
  readonly prefix: string;
  /** The bucket's region, when given. */
  readonly region?: string;
  /** The store's endpoint URL, when not the cloud's default for the region. */
  readonly endpoint?: string;
  /** S3 only: address the bucket in the path (`http://host/bucket/key`), as most S3-compatible servers want. */
  readonly pathStyle: boolean;
  /** How long a silent writer keeps the journal before another update may take it over. */
  readonly leaseMs: number;
  /** The setting as given, for messages. */
  readonly url: string;
}

/** Where the journal is. */
export type JournalLocation =
  { readonly kind: "off" } | { readonly kind: "file"; readonly path?: string } | BucketLocation;

const PARAMS: Readonly<Record<"s3" | "oss", readonly string[]>> = {
  s3: ["region", "endpoint", "forcePathStyle", "lease"],
  oss: ["region", "endpoint", "lease"],
};

function refuse(setting: string, why: string): never {
  throw new ConfigurationError(`Stack config ${CONFIG_KEYS.journal} "${setting}" ${why}`);
}

/** Parses `iotReset:journal`; throws a ConfigurationError naming the setting and what to write instead. */
export function parseJournalLocation(setting: string | undefined): JournalLocation {
  if (setting === undefined) return { kind: "file" };
  if (setting === "off") return { kind: "off" };
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(setting)?.[1]?.toLowerCase();
  if (scheme === undefined) return { kind: "file", path: setting };
  if (scheme !== "s3" && scheme !== "oss") {
    refuse(setting, `has the scheme ${scheme}://; use a file path, s3://bucket/prefix, oss://bucket/prefix or off.`);
  }
  let url: URL;
  try {
    url = new URL(setting);
  } catch {
    refuse(setting, `is not a URL; write ${scheme}://bucket/prefix?region=….`);
  }
  if (url.username || url.password) {
    refuse(
      setting,
      `holds credentials; remove them: the journal's bucket is reached with the default credential chain ` +
        `(${scheme === "s3" ? "AWS_ACCESS_KEY_ID, a profile, or a role" : "ALIBABA_CLOUD_ACCESS_KEY_ID, OIDC, or a RAM role"}).`,
    );
  }
  const bucket = url.hostname;
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    refuse(
      setting,
      `names the bucket "${bucket}", which is not a bucket name (3–63 lowercase letters, digits, . or -).`,
    );
  }
  const allowed = PARAMS[scheme];
  for (const key of url.searchParams.keys()) {
    if (!allowed.includes(key))
      refuse(setting, `has the unknown parameter "${key}"; ${scheme}:// takes ${allowed.join(", ")}.`);
  }
  const q = (key: string) => url.searchParams.get(key) ?? undefined;
  const lease = q("lease");
  const leaseSeconds = lease === undefined ? DEFAULT_LEASE_SECONDS : Number(lease);
  if (!Number.isFinite(leaseSeconds) || leaseSeconds < 1 || leaseSeconds > 600) {
    refuse(setting, `has lease=${lease}; give the lease in seconds, from 1 to 600 (default ${DEFAULT_LEASE_SECONDS}).`);
  }
  const endpoint = q("endpoint");
  if (endpoint !== undefined && !/^https?:\/\/[^/?#]+\/?$/.test(endpoint)) {
    refuse(
      setting,
      `has endpoint=${endpoint}; give a URL of scheme and host, e.g. https://oss-cn-shanghai.aliyuncs.com.`,
    );
  }
  const pathStyle = q("forcePathStyle");
  if (pathStyle !== undefined && pathStyle !== "true" && pathStyle !== "false") {
    refuse(setting, `has forcePathStyle=${pathStyle}; write true or false.`);
  }
  const region = q("region");
  return {
    kind: scheme,
    bucket,
    prefix: decodeURIComponent(url.pathname).replace(/^\/+|\/+$/g, ""),
    ...(region !== undefined ? { region } : {}),
    ...(endpoint !== undefined ? { endpoint: endpoint.replace(/\/$/, "") } : {}),
    pathStyle: pathStyle === "true",
    leaseMs: leaseSeconds * 1000,
    url: setting,
  };
}
