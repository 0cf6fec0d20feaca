/**
 * ACS3-HMAC-SHA256, the V3 request signature of Alibaba Cloud OpenAPI, as the API gateway checks it.
 *
 * The steps follow the published V3 signature guide: canonical request → string to sign → HMAC-SHA256
 * with the AccessKey secret. They are exported so that tests (and hand-forged requests) compute exactly
 * what `@alicloud/openapi-util` computes when the SDK signs a call.
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";

/** The only signature algorithm the emulator accepts (the SDK's default for `callApi`). */
export const SIGNATURE_ALGORITHM = "ACS3-HMAC-SHA256";

/** Hex SHA-256 of the empty body, the `x-acs-content-sha256` of every call without a body. */
export const EMPTY_PAYLOAD_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/** RFC 3986 percent-encoding as the gateway applies it: `encodeURIComponent` plus `!'()*`. */
export function percentEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Lower-case hex SHA-256 of a string or bytes. */
export function sha256Hex(data: string | Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

/** The canonical query string: parameters sorted by name, names and values percent-encoded, joined by `&`. */
export function canonicalQueryString(query: Readonly<Record<string, string>>): string {
  return Object.keys(query)
    .sort()
    .map((key) => `${percentEncode(key)}=${percentEncode(query[key] ?? "")}`)
    .join("&");
}

/** What goes into a canonical request. */
export interface CanonicalRequestInput {
  /** The HTTP method, upper case, e.g. `POST`. */
  readonly method: string;
  /** The request path; `/` for every RPC-style API. */
  readonly pathname: string;
  /** The decoded query parameters. */
  readonly query: Readonly<Record<string, string>>;
  /** The request headers; names in any case, only the signed ones are used. */
  readonly headers: Readonly<Record<string, string | undefined>>;
  /** The lower-case names of the signed headers. */
  readonly signedHeaders: readonly string[];
  /** Hex SHA-256 of the request body (`HashedRequestPayload`). */
  readonly hashedPayload: string;
}

/** Builds the canonical request: method, path, query, `name:value` header lines, signed-header list, payload hash. */
export function canonicalRequest(input: CanonicalRequestInput): string {
  const lower: Record<string, string> = {};
  for (const [name, value] of Object.entries(input.headers)) {
    if (value !== undefined) lower[name.toLowerCase()] = value;
  }
  const names = [...input.signedHeaders].map((h) => h.toLowerCase()).sort();
  const headerLines = names.map((name) => `${name}:${(lower[name] ?? "").trim()}\n`).join("");
  return [
    input.method.toUpperCase(),
    input.pathname || "/",
    canonicalQueryString(input.query),
    headerLines,
    names.join(";"),
    input.hashedPayload,
  ].join("\n");
}

/** The string to sign: the algorithm name, a newline, and the hex SHA-256 of the canonical request. */
export function stringToSign(canonical: string): string {
  return `${SIGNATURE_ALGORITHM}\n${sha256Hex(canonical)}`;
}

/** Hex HMAC-SHA256 of the string to sign, keyed with the AccessKey secret (V3 does not append `&`). */
export function signString(accessKeySecret: string, toSign: string): string {
  return createHmac("sha256", accessKeySecret).update(toSign).digest("hex");
}

/** The parts of a signed request that a client produces. */
export interface SignedRequest {
  /** The canonical request that was signed. */
  readonly canonicalRequest: string;
  /** The string that was signed. */
  readonly stringToSign: string;
  /** The hex signature. */
  readonly signature: string;
  /** The whole `Authorization` header value. */
  readonly authorization: string;
}

/** Signs a request as the SDK does; `signedHeaders` defaults to `host`, `content-type` and every `x-acs-*` header present. */
export function signRequest(
  input: Omit<CanonicalRequestInput, "signedHeaders"> & { readonly signedHeaders?: readonly string[] },
  accessKeyId: string,
  accessKeySecret: string,
): SignedRequest {
  const signedHeaders =
    input.signedHeaders ??
    Object.keys(input.headers)
      .map((h) => h.toLowerCase())
      .filter((h) => h === "host" || h === "content-type" || h.startsWith("x-acs-"))
      .sort();
  const canonical = canonicalRequest({ ...input, signedHeaders });
  const toSign = stringToSign(canonical);
  const signature = signString(accessKeySecret, toSign);
  const names = [...signedHeaders].map((h) => h.toLowerCase()).sort();
  return {
    canonicalRequest: canonical,
    stringToSign: toSign,
    signature,
    authorization: `${SIGNATURE_ALGORITHM} Credential=${accessKeyId},SignedHeaders=${names.join(";")},Signature=${signature}`,
  };
}

/** A parsed `Authorization` header. */
export interface ParsedAuthorization {
  /** The AccessKey ID from `Credential=`. */
  readonly accessKeyId: string;
  /** The lower-case signed header names from `SignedHeaders=`. */
  readonly signedHeaders: readonly string[];
  /** The hex signature from `Signature=`. */
  readonly signature: string;
}

/** Parses `ACS3-HMAC-SHA256 Credential=…,SignedHeaders=…,Signature=…`; returns undefined when any part is missing. */
export function parseAuthorization(header: string | undefined): ParsedAuthorization | undefined {
  if (!header) return undefined;
  const trimmed = header.trim();
  if (!trimmed.startsWith(`${SIGNATURE_ALGORITHM} `)) return undefined;
  const fields = new Map<string, string>();
  for (const part of trimmed.slice(SIGNATURE_ALGORITHM.length + 1).split(",")) {
    const eq = part.indexOf("=");
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const accessKeyId = fields.get("Credential");
  const signed = fields.get("SignedHeaders");
  const signature = fields.get("Signature");
  if (!accessKeyId || !signed || !signature) return undefined;
  return { accessKeyId, signedHeaders: signed.split(";").map((h) => h.toLowerCase()), signature };
}

/** Compares two hex signatures in constant time, so timing does not reveal how much of a forgery was right. */
export function signaturesEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Decodes a raw query string as the gateway does (`+` is a space; the last of repeated names wins). */
export function parseQueryString(raw: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!raw) return out;
  for (const pair of raw.split("&")) {
    if (!pair) continue;
    const eq = pair.indexOf("=");
    const rawKey = eq < 0 ? pair : pair.slice(0, eq);
    const rawValue = eq < 0 ? "" : pair.slice(eq + 1);
    out[safeDecode(rawKey)] = safeDecode(rawValue);
  }
  return out;
}

function safeDecode(s: string): string {
  const spaced = s.replace(/\+/g, " ");
  try {
    return decodeURIComponent(spaced);
  } catch {
    // A malformed escape is kept verbatim: the signature check then fails, as it would at the gateway.
    return spaced;
  }
}

// ---- The RPC signature (HMAC-SHA1, SignatureVersion 1.0) -------------------------------------------

/** The `SignatureMethod` of an RPC-signed call: the only one the RPC signature mechanism defines. */
export const RPC_SIGNATURE_METHOD = "HMAC-SHA1";

/** The `SignatureVersion` of an RPC-signed call. */
export const RPC_SIGNATURE_VERSION = "1.0";

/**
 * The RPC string to sign: `METHOD&%2F&` + the percent-encoded canonicalized query, which is every parameter of the
 * call (query string and form body) but `Signature`, sorted by name, names and values percent-encoded, joined by `&`.
 * (Alibaba Cloud, "Signature mechanism" for RPC APIs.)
 */
export function rpcStringToSign(method: string, params: Readonly<Record<string, string>>): string {
  const signed: Record<string, string> = { ...params };
  delete signed["Signature"];
  return `${method.toUpperCase()}&${percentEncode("/")}&${percentEncode(canonicalQueryString(signed))}`;
}

/** Base64 HMAC-SHA1 of the RPC string to sign, keyed with the AccessKey secret followed by `&`. */
export function rpcSignString(accessKeySecret: string, toSign: string): string {
  return createHmac("sha1", `${accessKeySecret}&`).update(toSign).digest("base64");
}
