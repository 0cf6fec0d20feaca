/**
 * OSS's V1 request signature (`Authorization: OSS <AccessKeyId>:<Signature>`), the one `ali-oss` sends unless told
 * `authorizationV4: true`: base64 HMAC-SHA1, keyed with the AccessKey secret, over
 *
 *   VERB \n Content-MD5 \n Content-Type \n Date \n CanonicalizedOSSHeaders CanonicalizedResource
 *
 * where Date is `x-oss-date` when the request has one (ali-oss always sends it, and no `Date`), every `x-oss-*`
 * header is a sorted `name:value` line, and the resource is `/bucket/key` plus the signed sub-resources
 * (`?versioning`, …; not `prefix`, `marker` or `max-keys`). https://www.alibabacloud.com/help/en/oss/developer-reference/include-signatures-in-the-authorization-header
 */
import { createHmac, timingSafeEqual } from "node:crypto";

/** The query parameters OSS counts as sub-resources, which the canonicalized resource includes; the journal's calls use `versioning` only. */
export const SIGNED_SUBRESOURCES: ReadonlySet<string> = new Set([
  "acl",
  "append",
  "bucketInfo",
  "comp",
  "continuation-token",
  "cors",
  "delete",
  "lifecycle",
  "location",
  "logging",
  "objectMeta",
  "partNumber",
  "position",
  "referer",
  "response-cache-control",
  "response-content-disposition",
  "response-content-encoding",
  "response-content-language",
  "response-content-type",
  "response-expires",
  "restore",
  "security-token",
  "symlink",
  "tagging",
  "uploadId",
  "uploads",
  "versionId",
  "versioning",
  "versions",
  "website",
  "x-oss-process",
]);

/** What goes into the V1 string to sign. */
export interface OssSignInput {
  /** The HTTP method, e.g. `PUT`. */
  readonly method: string;
  /** The request headers, lower-case names. */
  readonly headers: Readonly<Record<string, string | undefined>>;
  /** The bucket, "" for a call on no bucket. */
  readonly bucket: string;
  /** The object key, decoded; "" for a bucket call. */
  readonly key: string;
  /** The decoded query parameters; only the sub-resources among them are signed. */
  readonly query: Readonly<Record<string, string>>;
}

/** The V1 string to sign of a request, as OSS builds it on receipt. */
export function ossStringToSign(input: OssSignInput): string {
  const h = input.headers;
  const ossHeaders = Object.keys(h)
    .filter((name) => name.startsWith("x-oss-") && h[name] !== undefined)
    .sort()
    .map((name) => `${name}:${String(h[name]).trim()}\n`)
    .join("");
  const subresources = Object.keys(input.query)
    .filter((name) => SIGNED_SUBRESOURCES.has(name))
    .sort()
    .map((name) => (input.query[name] ? `${name}=${input.query[name]}` : name));
  const resource =
    (input.bucket ? `/${input.bucket}/${input.key}` : "/") + (subresources.length ? `?${subresources.join("&")}` : "");
  return [
    input.method.toUpperCase(),
    h["content-md5"] ?? "",
    h["content-type"] ?? "",
    h["x-oss-date"] ?? h["date"] ?? "",
    `${ossHeaders}${resource}`,
  ].join("\n");
}

/** The base64 HMAC-SHA1 signature of a string to sign. */
export function ossSignature(accessKeySecret: string, toSign: string): string {
  return createHmac("sha1", accessKeySecret).update(toSign, "utf8").digest("base64");
}

/** Parses `OSS <AccessKeyId>:<Signature>`; undefined for anything else (a V4 or an absent header). */
export function parseOssAuthorization(
  header: string | undefined,
): { accessKeyId: string; signature: string } | undefined {
  const m = /^OSS ([^:\s]+):(\S+)$/.exec(header?.trim() ?? "");
  return m ? { accessKeyId: m[1] as string, signature: m[2] as string } : undefined;
}

/** Compares two signatures in constant time. */
export function ossSignaturesEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
