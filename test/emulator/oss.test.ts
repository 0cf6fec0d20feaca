// The emulator's OSS side against the real ali-oss client, and hand-forged requests for what a client never sends.
import * as http from "node:http";
import OSS from "ali-oss";
import { startEmulator, type Emulator, type OssEmulator } from "../../emulator";
import { ossSignature, ossStringToSign } from "../../emulator/oss-signature";

// ali-oss's own signer, to prove the emulator computes the string ali-oss signs.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const signUtils = require("ali-oss/lib/common/signUtils") as {
  buildCanonicalString(method: string, resource: string, request: { headers: object; parameters?: unknown }): string;
};

let emu: Emulator;
let oss: OssEmulator;

beforeEach(async () => {
  emu = await startEmulator({ oss: true });
  oss = emu.oss!;
  oss.createBucket("journals");
});
afterEach(() => emu.stop());

/** The client a user would build for the bucket, pointed at the emulator. */
function client(overrides: Partial<OSS.Options> = {}): OSS {
  return new OSS({ ...emu.credentials, bucket: "journals", endpoint: oss.endpoint, ...overrides });
}

/** What ali-oss throws for an error answer. */
interface OssClientError {
  status: number;
  code: string;
  message: string;
  requestId: string;
}

async function failure(call: Promise<unknown>): Promise<OssClientError> {
  try {
    await call;
  } catch (err) {
    return err as OssClientError;
  }
  throw new Error("expected the call to fail");
}

interface Forged {
  method?: string;
  bucket?: string;
  key?: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: string;
  accessKeyId?: string;
  secret?: string;
  date?: Date;
  unsigned?: boolean;
}

/** A path-style request (`/bucket/key`) signed with OSS V1 unless `unsigned`. */
function forge(f: Forged): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  const method = f.method ?? "GET";
  const bucket = f.bucket ?? "journals";
  const key = f.key ?? "";
  const query = f.query ?? {};
  const headers: Record<string, string> = {
    "x-oss-date": (f.date ?? new Date()).toUTCString(),
    ...Object.fromEntries(Object.entries(f.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
  };
  if (!f.unsigned) {
    const toSign = ossStringToSign({ method, headers, bucket, key, query });
    const signature = ossSignature(f.secret ?? emu.credentials.accessKeySecret, toSign);
    headers["authorization"] = `OSS ${f.accessKeyId ?? emu.credentials.accessKeyId}:${signature}`;
  }
  const qs = Object.entries(query)
    .map(([k, v]) => (v ? `${k}=${encodeURIComponent(v)}` : k))
    .join("&");
  const path = `/${bucket}/${encodeURIComponent(key).replace(/%2F/g, "/")}${qs ? `?${qs}` : ""}`;
  return new Promise((resolve, reject) => {
    const req = http.request(`${oss.endpoint}${path}`, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }),
      );
    });
    req.on("error", reject);
    req.end(f.body ?? "");
  });
}

/** The `<Code>` and `<Message>` of an error body. */
function codeOf(body: string): { code: string; message: string } {
  return {
    code: /<Code>(.*)<\/Code>/.exec(body)?.[1] ?? "",
    message: /<Message>(.*)<\/Message>/.exec(body)?.[1] ?? "",
  };
}

describe("the OSS side's signature check", () => {
  test("the V1 string to sign is the one ali-oss signs: verb, MD5, type, x-oss-date, x-oss-* headers, resource", () => {
    const headers = {
      "x-oss-date": "Mon, 07 Dec 2026 04:00:00 GMT",
      "Content-Type": "application/x-ndjson",
      "Content-MD5": "XrY7u+Ae7tCTyyK7j1rNww==",
      "x-oss-forbid-overwrite": "true",
      "x-oss-security-token": "token-1",
    };
    const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
    const key = "ci/journal-p-s/seg 1.jsonl";
    expect(ossStringToSign({ method: "PUT", headers: lower, bucket: "journals", key, query: {} })).toBe(
      signUtils.buildCanonicalString("PUT", `/journals/${key}`, { headers }),
    );
    expect(
      ossStringToSign({ method: "GET", headers: lower, bucket: "journals", key: "", query: { versioning: "" } }),
    ).toBe(signUtils.buildCanonicalString("GET", "/journals/", { headers, parameters: "versioning" }));
    // List parameters are not sub-resources: they are sent but not signed.
    expect(
      ossStringToSign({
        method: "GET",
        headers: lower,
        bucket: "journals",
        key: "",
        query: { prefix: "ci/", marker: "" },
      }),
    ).toBe(signUtils.buildCanonicalString("GET", "/journals/", { headers }));
  });

  test("ali-oss's calls are accepted, and the bucket is read from the Host header it sends to an IP endpoint", async () => {
    const c = client();
    await c.put("ci/a.jsonl", Buffer.from("one\n"), { headers: { "x-oss-forbid-overwrite": "true" } });
    expect((await c.get("ci/a.jsonl")).content.toString()).toBe("one\n");
    expect((await c.list({ prefix: "ci/", "max-keys": 1000 }, {})).objects.map((o) => o.name)).toEqual(["ci/a.jsonl"]);
    await c.delete("ci/a.jsonl");
    expect(oss.keys("journals")).toEqual([]);
    expect(
      oss.requests().map((r) => [r.operation, r.method, r.bucket, r.key, r.httpStatus, r.accessKeyId, r.code]),
    ).toEqual([
      ["PutObject", "PUT", "journals", "ci/a.jsonl", 200, "LTAIEmulatorTestKey01", undefined],
      ["GetObject", "GET", "journals", "ci/a.jsonl", 200, "LTAIEmulatorTestKey01", undefined],
      ["ListObjects", "GET", "journals", "", 200, "LTAIEmulatorTestKey01", undefined],
      ["DeleteObject", "DELETE", "journals", "ci/a.jsonl", 204, "LTAIEmulatorTestKey01", undefined],
    ]);
  });

  test("a wrong secret: 403 SignatureDoesNotMatch, with OSS's message and the server's string to sign", async () => {
    const err = await failure(client({ accessKeySecret: "not-the-secret" }).get("ci/a.jsonl"));
    const [logged] = oss.requests();
    expect(err).toMatchObject({
      status: 403,
      code: "SignatureDoesNotMatch",
      message:
        "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
      requestId: logged?.requestId,
    });
    expect(logged?.requestId).toMatch(/^[0-9A-F]{24}$/);
    const date = new Date();
    const forged = await forge({ key: "ci/a.jsonl", secret: "not-the-secret", date });
    expect(forged.status).toBe(403);
    const at = date.toUTCString();
    expect(forged.body).toContain(
      `<StringToSign>GET\n\n\n${at}\nx-oss-date:${at}\n/journals/ci/a.jsonl</StringToSign>`,
    );
    expect(forged.body).toContain("<OSSAccessKeyId>LTAIEmulatorTestKey01</OSSAccessKeyId>");
  });

  test.each([
    [
      "an unknown AccessKey ID",
      { accessKeyId: "LTAINobody" },
      403,
      "InvalidAccessKeyId",
      "The OSS Access Key Id you provided does not exist in our records.",
    ],
    [
      "no Authorization",
      { unsigned: true },
      403,
      "AccessDenied",
      "You have no right to access this object because of bucket acl.",
    ],
    [
      "a date 16 minutes off",
      { date: new Date(Date.now() - 16 * 60_000) },
      403,
      "RequestTimeTooSkewed",
      "The difference between the request time and the current time is too large.",
    ],
    ["an unknown bucket", { bucket: "nobucket" }, 404, "NoSuchBucket", "The specified bucket does not exist."],
    ["a key that is not there", {}, 404, "NoSuchKey", "The specified key does not exist."],
    [
      "a Content-MD5 of other bytes",
      { method: "PUT", body: "x", headers: { "Content-MD5": "AAAAAAAAAAAAAAAAAAAAAA==" } },
      400,
      "InvalidDigest",
      "The Content-MD5 you specified is not valid.",
    ],
  ] as const)("%s is refused as OSS refuses it", async (_what, f: Forged, status, code, message) => {
    const res = await forge({ key: "ci/none.jsonl", ...f });
    expect([res.status, codeOf(res.body)]).toEqual([status, { code, message }]);
    expect(res.headers["x-oss-request-id"]).toBe(oss.requests().at(-1)?.requestId);
    expect(res.headers["content-type"]).toBe("application/xml");
  });
});

describe("STS credentials on the OSS side", () => {
  const sts = { accessKeyId: "STS.EmulatorKey", accessKeySecret: "sts-secret", securityToken: "token-A" };
  beforeEach(async () => {
    await emu.stop();
    emu = await startEmulator({ oss: true, credentials: [sts] });
    oss = emu.oss!;
    oss.createBucket("journals");
  });

  test("the token must come in x-oss-security-token; an expired one is refused with SecurityTokenExpired", async () => {
    const withToken = client({
      ...sts,
      stsToken: "token-A",
      refreshSTSToken: async () => ({ ...sts, stsToken: "token-A" }),
    });
    await withToken.put("a", Buffer.from("1"));
    const missing = await forge({ key: "a", accessKeyId: sts.accessKeyId, secret: sts.accessKeySecret });
    expect([missing.status, codeOf(missing.body).code]).toEqual([403, "InvalidSecurityToken"]);
    oss.expireSecurityToken("token-A");
    const err = await failure(withToken.get("a"));
    expect([err.status, err.code, err.message]).toEqual([
      403,
      "SecurityTokenExpired",
      "The security token you provided has expired.",
    ]);
  });
});

describe("create-only writes and versioning", () => {
  test("a second create-only PutObject of a key answers 409 FileAlreadyExists and keeps the first bytes", async () => {
    const c = client();
    const forbid = { headers: { "x-oss-forbid-overwrite": "true" } };
    await c.put("k", Buffer.from("first"), forbid);
    const err = await failure(c.put("k", Buffer.from("second"), forbid));
    expect([err.status, err.code, err.message]).toEqual([
      409,
      "FileAlreadyExists",
      "The object you specified already exists and can not be overwritten.",
    ]);
    expect(err.requestId).toBe(oss.requests().at(-1)?.requestId);
    expect(oss.object("journals", "k")).toBe("first");
    // Without the header a PutObject overwrites, as OSS's does.
    await c.put("k", Buffer.from("third"));
    expect(oss.object("journals", "k")).toBe("third");
  });

  test.each(["Enabled", "Suspended"] as const)(
    "in a bucket whose versioning is %s, x-oss-forbid-overwrite has no effect, as in OSS",
    async (versioning) => {
      oss.createBucket("versioned", { versioning });
      const c = client({ bucket: "versioned" });
      const forbid = { headers: { "x-oss-forbid-overwrite": "true" } };
      await c.put("k", Buffer.from("first"), forbid);
      await c.put("k", Buffer.from("second"), forbid);
      expect(oss.object("versioned", "k")).toBe("second");
      expect(oss.requests({ operation: "PutObject" }).map((r) => r.httpStatus)).toEqual([200, 200]);
    },
  );

  test("GetBucketVersioning answers the Status, and an empty configuration for a bucket never versioned", async () => {
    oss.createBucket("enabled", { versioning: "Enabled" });
    const never = await forge({ query: { versioning: "" } });
    expect([never.status, never.body]).toEqual([
      200,
      `<?xml version="1.0" encoding="UTF-8"?>\n<VersioningConfiguration/>\n`,
    ]);
    const enabled = await forge({ bucket: "enabled", query: { versioning: "" } });
    expect(enabled.body).toBe(
      `<?xml version="1.0" encoding="UTF-8"?>\n<VersioningConfiguration>\n  <Status>Enabled</Status>\n</VersioningConfiguration>\n`,
    );
    oss.setVersioning("enabled", "Suspended");
    const c = client() as OSS & { getBucketVersioning(b: string): Promise<{ versionStatus?: string }> };
    expect((await c.getBucketVersioning("enabled")).versionStatus).toBe("Suspended");
    expect((await c.getBucketVersioning("journals")).versionStatus).toBeUndefined();
  });
});

describe("ListObjects", () => {
  test("1,001 keys come in two pages of ali-oss's list: 1,000 then 1, with NextMarker the last key of the first", async () => {
    const keys = Array.from({ length: 1001 }, (_, i) => `ci/seg-${String(i).padStart(12, "0")}.jsonl`);
    for (const k of keys) oss.putObject("journals", k, "x");
    oss.putObject("journals", "other/x", "x");
    const c = client();
    const first = await c.list({ prefix: "ci/", "max-keys": 1000 }, {});
    expect([first.objects.length, first.isTruncated, first.nextMarker]).toEqual([1000, true, keys[999]]);
    const second = await c.list({ prefix: "ci/", marker: first.nextMarker!, "max-keys": 1000 }, {});
    expect([second.objects.map((o) => o.name), second.isTruncated, second.nextMarker]).toEqual([
      [keys[1000]],
      false,
      null,
    ]);
    expect(second.objects[0]).toMatchObject({ size: 1, type: "Normal", storageClass: "Standard" });
    // Without max-keys, OSS answers 100.
    expect((await c.list({ prefix: "ci/" } as OSS.ListObjectsQuery, {})).objects).toHaveLength(100);
  });

  test("`maxKeys` caps every page, to prove a client pages with few keys", async () => {
    await emu.stop();
    emu = await startEmulator({ oss: { maxKeys: 2 } });
    oss = emu.oss!;
    oss.createBucket("journals");
    for (const k of ["a", "b", "c"]) oss.putObject("journals", k, k);
    const page = await client().list({ "max-keys": 1000 }, {});
    expect([page.objects.map((o) => o.name), page.nextMarker]).toEqual([["a", "b"], "b"]);
  });
});

describe("faults", () => {
  test("applyThenDrop stores the object and drops the answer; drop stores nothing; serverError answers 500", async () => {
    const c = client();
    oss.scriptFaults("PutObject", "applyThenDrop", 1);
    oss.scriptFaults("PutObject", "drop", 1);
    oss.scriptFaults("PutObject", "serverError", 1);
    const dropped = await failure(c.put("landed", Buffer.from("bytes")));
    expect(dropped.status).toBe(-1);
    expect(oss.object("journals", "landed")).toBe("bytes");
    await failure(c.put("lost", Buffer.from("bytes")));
    expect(oss.object("journals", "lost")).toBeUndefined();
    const err = await failure(c.put("lost", Buffer.from("bytes")));
    expect([err.status, err.code]).toEqual([500, "InternalError"]);
    expect(oss.requests().map((r) => [r.httpStatus, r.fault, r.code])).toEqual([
      [0, "applyThenDrop", undefined],
      [0, "drop", undefined],
      [500, undefined, "InternalError"],
    ]);
  });

  test("the OSS side starts only when asked", async () => {
    const plain = await startEmulator();
    expect(plain.oss).toBeUndefined();
    await plain.stop();
  });
});
