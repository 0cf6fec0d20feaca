// Shared by the emulator tests: an SDK client for an emulator, and a hand-forged signed request for the
// cases the SDK never produces (bad signatures, stale dates, replayed nonces).
import * as http from "node:http";
import Client from "@alicloud/iot20180120";
import * as $OpenApi from "@alicloud/openapi-client";
import type { Emulator } from "../../emulator";
import { EMPTY_PAYLOAD_SHA256, rpcSignString, rpcStringToSign, sha256Hex, signRequest } from "../../emulator/signature";

/** The SDK client a user would build, pointed at the emulator over plain http. */
export function sdkClient(
  emu: Pick<Emulator, "endpoint" | "credentials">,
  overrides: Partial<{
    accessKeyId: string;
    accessKeySecret: string;
    securityToken: string;
    readTimeout: number;
    /** `"v2"`: sign the RPC way (HMAC-SHA1 in the query) instead of the default ACS3-HMAC-SHA256. */
    signatureAlgorithm: string;
  }> = {},
): Client {
  return new Client(
    new $OpenApi.Config({
      accessKeyId: overrides.accessKeyId ?? emu.credentials.accessKeyId,
      accessKeySecret: overrides.accessKeySecret ?? emu.credentials.accessKeySecret,
      ...(overrides.securityToken !== undefined ? { securityToken: overrides.securityToken } : {}),
      ...(overrides.signatureAlgorithm !== undefined ? { signatureAlgorithm: overrides.signatureAlgorithm } : {}),
      // A test asserts what the emulator answers, not how fast this machine is: on a loaded machine a burst can take
      // seconds to be answered, past the SDK's own timeouts. A test of a hung answer sets a short readTimeout, and
      // keeps the SDK's own connect timeout (its socket idle timer, which ends a hang with no status line).
      ...(overrides.readTimeout !== undefined
        ? { readTimeout: overrides.readTimeout }
        : { readTimeout: 60_000, connectTimeout: 60_000 }),
      endpoint: emu.endpoint.replace(/^http:\/\//, ""),
      protocol: "http",
      regionId: "cn-shanghai",
    }),
  );
}

/** What the SDK throws for an HTTP 4xx/5xx. */
export interface SdkError {
  code: string;
  statusCode: number;
  message: string;
  data: { Code: string; Message: string; RequestId: string; HostId: string; Recommend: string; statusCode: number };
}

/** Runs an SDK call that must throw and returns the error. */
export async function sdkError(call: Promise<unknown>): Promise<SdkError> {
  try {
    await call;
  } catch (err) {
    return err as SdkError;
  }
  throw new Error("expected the SDK call to throw");
}

/** The x-acs-date of a time, as the SDK formats it. */
export function acsDate(ms: number = Date.now()): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Options of a forged request; everything defaults to what the SDK would send. */
export interface ForgeOptions {
  action?: string;
  version?: string;
  query?: Record<string, string>;
  body?: string;
  accessKeyId?: string;
  accessKeySecret?: string;
  date?: string;
  nonce?: string;
  /** Overrides the x-acs-content-sha256 header (the signature still covers the header as sent). */
  contentSha256?: string;
  securityToken?: string;
  /** Replaces the Authorization header entirely. */
  authorization?: string;
  method?: string;
}

/** Sends a request signed with the emulator's own signature module and returns status and JSON body. */
export async function forge(
  emu: Emulator,
  o: ForgeOptions = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const url = new URL(emu.endpoint);
  const host = url.host;
  const query = o.query ?? { ProductKey: "a1DemoProduct", DeviceName: "sensor-001" };
  const body = o.body ?? "";
  const headers: Record<string, string> = {
    host,
    "x-acs-action": o.action ?? "ResetThing",
    "x-acs-version": o.version ?? "2018-01-20",
    "x-acs-date": o.date ?? acsDate(),
    "x-acs-signature-nonce": o.nonce ?? Math.random().toString(16).slice(2) + Date.now().toString(16),
    "x-acs-content-sha256": o.contentSha256 ?? (body ? sha256Hex(body) : EMPTY_PAYLOAD_SHA256),
  };
  if (body) headers["content-type"] = "application/x-www-form-urlencoded";
  if (o.securityToken !== undefined) headers["x-acs-security-token"] = o.securityToken;
  const signed = signRequest(
    {
      method: o.method ?? "POST",
      pathname: "/",
      query,
      headers,
      hashedPayload: headers["x-acs-content-sha256"] as string,
    },
    o.accessKeyId ?? emu.credentials.accessKeyId,
    o.accessKeySecret ?? emu.credentials.accessKeySecret,
  );
  headers["authorization"] = o.authorization ?? signed.authorization;
  const qs = new URLSearchParams(query).toString().replace(/\+/g, "%20");
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: url.hostname, port: url.port, method: o.method ?? "POST", path: `/?${qs}`, headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> });
        });
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** Options of a forged RPC-signed request; everything defaults to what an RPC client would send. */
export interface ForgeRpcOptions {
  action?: string;
  /** The call's own parameters; default the demo's sensor-001. */
  params?: Record<string, string>;
  /** Send the parameters (signature parameters included) as a form body of a POST instead of the query. */
  inBody?: boolean;
  method?: string;
  accessKeyId?: string;
  accessKeySecret?: string;
  timestamp?: string;
  nonce?: string;
  securityToken?: string;
  /** Parameters changed after signing, e.g. to show that the signature covers them. */
  tamper?: Record<string, string>;
  /** Parameters removed before signing. */
  omit?: string[];
}

/** Sends a request signed the RPC way (HMAC-SHA1) with the emulator's own signature module. */
export async function forgeRpc(
  emu: Emulator,
  o: ForgeRpcOptions = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const url = new URL(emu.endpoint);
  const method = o.method ?? (o.inBody ? "POST" : "GET");
  const params: Record<string, string> = {
    Action: o.action ?? "ResetThing",
    Version: "2018-01-20",
    Format: "JSON",
    AccessKeyId: o.accessKeyId ?? emu.credentials.accessKeyId,
    SignatureMethod: "HMAC-SHA1",
    SignatureVersion: "1.0",
    SignatureNonce: o.nonce ?? Math.random().toString(16).slice(2) + Date.now().toString(16),
    Timestamp: o.timestamp ?? acsDate(),
    ...(o.securityToken !== undefined ? { SecurityToken: o.securityToken } : {}),
    ...(o.params ?? { ProductKey: "a1DemoProduct", DeviceName: "sensor-001" }),
  };
  for (const name of o.omit ?? []) delete params[name];
  params["Signature"] = rpcSignString(
    o.accessKeySecret ?? emu.credentials.accessKeySecret,
    rpcStringToSign(method, params),
  );
  Object.assign(params, o.tamper ?? {});
  const encoded = new URLSearchParams(params).toString();
  const path = o.inBody ? "/" : `/?${encoded}`;
  const headers: Record<string, string> = o.inBody ? { "content-type": "application/x-www-form-urlencoded" } : {};
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          body: JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>,
        }),
      );
    });
    req.on("error", reject);
    req.end(o.inBody ? encoded : "");
  });
}
