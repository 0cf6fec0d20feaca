// Shared by the emulator tests: an SDK client for an emulator, and a hand-forged signed request for the
// cases the SDK never produces (bad signatures, stale dates, replayed nonces).
import * as http from "node:http";
import Client from "@alicloud/iot20180120";
import * as $OpenApi from "@alicloud/openapi-client";
import type { Emulator } from "../../emulator";
import { EMPTY_PAYLOAD_SHA256, sha256Hex, signRequest } from "../../emulator/signature";

/** The SDK client a user would build, pointed at the emulator over plain http. */
export function sdkClient(
  emu: Pick<Emulator, "endpoint" | "credentials">,
  overrides: Partial<{ accessKeyId: string; accessKeySecret: string; securityToken: string; readTimeout: number }> = {},
): Client {
  return new Client(
    new $OpenApi.Config({
      accessKeyId: overrides.accessKeyId ?? emu.credentials.accessKeyId,
      accessKeySecret: overrides.accessKeySecret ?? emu.credentials.accessKeySecret,
      ...(overrides.securityToken !== undefined ? { securityToken: overrides.securityToken } : {}),
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
