/**
 * A local Alibaba Cloud OSS, only what the reset journal uses, for tests: PutObject (create-only with
 * `x-oss-forbid-overwrite: true`), GetObject, ListObjects (prefix, marker, max-keys), DeleteObject and
 * GetBucketVersioning, with OSS's XML answers and error Codes. `ali-oss` talks to it as to the cloud: its V1
 * signature is checked (see oss-signature.ts) with the IoT emulator's credentials.
 *
 * As in the real service, `x-oss-forbid-overwrite` holds only in a bucket whose versioning was never enabled: in an
 * Enabled or Suspended bucket a create-only write overwrites the object (the journal refuses such a bucket).
 *
 * ali-oss given an IP endpoint sends the bucket in the Host header (`<bucket>.oss-cn-hangzhou.aliyuncs.com`) and
 * the key as the path; a Host that is an IP or `localhost` means path style (`/<bucket>/<key>`).
 */
import { createHash, randomBytes } from "node:crypto";
import * as http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { CredentialSpec } from "./auth";
import { errorXml, OSS_ERRORS, xmlEscape, type OssErrorName } from "./oss-errors";
import { ossSignature, ossSignaturesEqual, ossStringToSign, parseOssAuthorization } from "./oss-signature";
import { readBody } from "./server";
import { parseQueryString } from "./signature";

/** The OSS operations the emulator answers. */
export type OssOperation = "PutObject" | "GetObject" | "DeleteObject" | "ListObjects" | "GetBucketVersioning";

/** A bucket's versioning: never enabled (undefined), Enabled, or Suspended (once enabled, never back to none). */
export type OssVersioning = "Enabled" | "Suspended";

/**
 * A scripted fault: `serverError` answers 500 InternalError without running the operation; `drop` destroys the
 * connection without running it; `applyThenDrop` runs it (a PUT stores the object) and then destroys the connection,
 * so the client cannot tell whether it was applied.
 */
export type OssFault = "serverError" | "drop" | "applyThenDrop";

/** One request as the OSS side saw and answered it. */
export interface OssRecordedRequest {
  /** The operation, or "" for a request that named none the emulator knows. */
  readonly operation: OssOperation | "";
  /** The HTTP method. */
  readonly method: string;
  /** The bucket, from the Host header or the path. */
  readonly bucket: string;
  /** The object key ("" for a bucket call). */
  readonly key: string;
  /** The HTTP status answered; 0 when the connection was dropped. */
  readonly httpStatus: number;
  /** The OSS error Code, for an error answer. */
  readonly code?: string;
  /** The fault applied, if any. */
  readonly fault?: OssFault;
  /** The AccessKey ID from the Authorization header, when there was one (never the secret). */
  readonly accessKeyId?: string;
  /** The `x-oss-request-id` answered. */
  readonly requestId: string;
}

/** Options of the OSS side; every one has a default. */
export interface OssEmulatorOptions {
  /** The interface to bind; default "127.0.0.1". */
  host?: string;
  /** The port; default 0 (a free one). */
  port?: number;
  /** The accepted AccessKeys (STS ones with `securityToken`, sent as `x-oss-security-token`). */
  credentials: readonly CredentialSpec[];
  /** The largest page a ListObjects answers, whatever max-keys asks (OSS's limit is 1,000); default 1,000. */
  maxKeys?: number;
  /** The largest accepted distance between the request's date and the emulator's clock, in ms; default 15 minutes. */
  clockSkewMs?: number;
  /** The emulator's clock, in ms since the epoch; default `Date.now`. */
  clock?: () => number;
}

/** The OSS side of a running emulator. */
export interface OssEmulator {
  /** The base URL, e.g. "http://127.0.0.1:41235": the `endpoint` of ali-oss and of `oss://bucket?endpoint=…`. */
  readonly endpoint: string;
  /** The port it listens on. */
  readonly port: number;
  /** Creates an empty bucket, optionally with versioning Enabled or Suspended; throws if it exists. */
  createBucket(name: string, options?: { versioning?: OssVersioning }): void;
  /** Sets a bucket's versioning (as PutBucketVersioning would; it cannot go back to never enabled). */
  setVersioning(bucket: string, status: OssVersioning): void;
  /** An object's text, or undefined when there is none. */
  object(bucket: string, key: string): string | undefined;
  /** Stores an object directly, bypassing HTTP (to seed a test). */
  putObject(bucket: string, key: string, body: string): void;
  /** A bucket's keys, sorted. */
  keys(bucket: string): string[];
  /** The recorded requests, oldest first, optionally only one operation. */
  requests(filter?: { operation?: OssOperation }): OssRecordedRequest[];
  /** Empties the request log. */
  clearRequests(): void;
  /** The next `count` requests of `operation` get `fault`. */
  scriptFaults(operation: OssOperation, fault: OssFault, count: number): void;
  /** From now on, a request carrying this STS token is answered 403 SecurityTokenExpired. */
  expireSecurityToken(token: string): void;
  /** Closes the server and every open socket. */
  stop(): Promise<void>;
}

interface StoredObject {
  readonly body: Buffer;
  readonly etag: string;
  readonly lastModified: number;
  readonly contentType: string;
}

interface Bucket {
  versioning: OssVersioning | undefined;
  readonly objects: Map<string, StoredObject>;
}

/** What one request is, once parsed. */
interface OssCall {
  readonly method: string;
  readonly bucket: string;
  readonly key: string;
  readonly query: Record<string, string>;
  readonly headers: Record<string, string | undefined>;
  readonly body: Buffer;
  readonly operation: OssOperation | "";
}

/** An error answer: which one, and the extra elements of its body. */
class OssAnswerError extends Error {
  constructor(
    readonly errorName: OssErrorName,
    readonly extra: Record<string, string> = {},
  ) {
    super(OSS_ERRORS[errorName].message);
  }
}

/** A segment of the journal is a few KB; 16 MiB leaves room without letting a client fill the memory. */
const MAX_BODY_BYTES = 16 << 20;
/** OSS's owner of every listed object, as ListObjects names it. */
const OWNER_ID = "1234567890123456";

/** Starts the OSS side on 127.0.0.1 (unless told otherwise) and resolves once it listens. */
export async function startOssEmulator(options: OssEmulatorOptions): Promise<OssEmulator> {
  const server = new OssServer(options);
  const port = await server.listen(options.host ?? "127.0.0.1", options.port ?? 0);
  const host = options.host ?? "127.0.0.1";
  return {
    endpoint: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
    port,
    createBucket: (name, opts = {}) => server.createBucket(name, opts.versioning),
    setVersioning: (bucket, status) => {
      server.bucket(bucket).versioning = status;
    },
    object: (bucket, key) => server.bucket(bucket).objects.get(key)?.body.toString("utf8"),
    putObject: (bucket, key, body) => server.store(server.bucket(bucket), key, Buffer.from(body, "utf8"), ""),
    keys: (bucket) => [...server.bucket(bucket).objects.keys()].sort(),
    requests: (filter = {}) =>
      server.log
        .filter((r) => filter.operation === undefined || r.operation === filter.operation)
        .map((r) => ({ ...r })),
    clearRequests: () => {
      server.log.length = 0;
    },
    scriptFaults: (operation, fault, count) => {
      for (let i = 0; i < count; i++) server.faults.push({ operation, fault });
    },
    expireSecurityToken: (token) => server.expiredTokens.add(token),
    stop: () => server.stop(),
  };
}

class OssServer {
  readonly log: OssRecordedRequest[] = [];
  readonly faults: Array<{ operation: OssOperation; fault: OssFault }> = [];
  readonly expiredTokens = new Set<string>();
  private readonly buckets = new Map<string, Bucket>();
  private readonly keys = new Map<string, CredentialSpec>();
  private readonly server: http.Server;
  private readonly sockets = new Set<Socket>();
  private readonly clock: () => number;
  private readonly clockSkewMs: number;
  private readonly maxKeys: number;
  private stopping: Promise<void> | undefined;

  constructor(options: OssEmulatorOptions) {
    for (const c of options.credentials) this.keys.set(c.accessKeyId, c);
    this.clock = options.clock ?? Date.now;
    this.clockSkewMs = options.clockSkewMs ?? 15 * 60_000;
    this.maxKeys = options.maxKeys ?? 1000;
    if (!(Number.isInteger(this.maxKeys) && this.maxKeys >= 1 && this.maxKeys <= 1000))
      throw new RangeError(`\`oss.maxKeys\` must be an integer from 1 to 1000, got ${this.maxKeys}`);
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent && !res.destroyed)
          this.sendError(res, "internalError", newRequestId(), req.headers.host ?? "");
        process.emitWarning(`oss emulator: ${(err as Error).stack ?? String(err)}`);
      });
    });
    this.server.keepAliveTimeout = 65_000;
    this.server.on("connection", (socket: Socket) => {
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
    });
  }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, host, () => {
        this.server.off("error", reject);
        resolve((this.server.address() as AddressInfo).port);
      });
    });
  }

  stop(): Promise<void> {
    this.stopping ??= new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      for (const socket of this.sockets) socket.destroy();
      this.sockets.clear();
    });
    return this.stopping;
  }

  createBucket(name: string, versioning: OssVersioning | undefined): void {
    if (this.buckets.has(name)) throw new Error(`createBucket: the bucket ${name} exists`);
    this.buckets.set(name, { versioning, objects: new Map() });
  }

  bucket(name: string): Bucket {
    const b = this.buckets.get(name);
    if (!b) throw new Error(`no bucket ${name}: create it with createBucket`);
    return b;
  }

  store(bucket: Bucket, key: string, body: Buffer, contentType: string): StoredObject {
    const etag = `"${createHash("md5").update(body).digest("hex").toUpperCase()}"`;
    const stored = { body, etag, lastModified: this.clock(), contentType };
    bucket.objects.set(key, stored);
    return stored;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const requestId = newRequestId();
    const body = await readBody(req, MAX_BODY_BYTES);
    if (body === undefined) {
      req.socket.destroy();
      return;
    }
    const call = parseCall(req, body);
    const hostId = req.headers.host ?? "";
    const accessKeyId = parseOssAuthorization(call.headers["authorization"])?.accessKeyId;
    const record = (httpStatus: number, extra: { code?: string; fault?: OssFault } = {}) =>
      this.log.push({
        operation: call.operation,
        method: call.method,
        bucket: call.bucket,
        key: call.key,
        httpStatus,
        ...extra,
        ...(accessKeyId !== undefined ? { accessKeyId } : {}),
        requestId,
      });
    try {
      this.authenticate(call);
      if (call.operation === "") throw new OssAnswerError("notImplemented");
      const index = this.faults.findIndex((f) => f.operation === call.operation);
      const fault = index >= 0 ? this.faults.splice(index, 1)[0]?.fault : undefined;
      if (fault === "serverError") throw new OssAnswerError("internalError");
      if (fault === "drop") {
        record(0, { fault });
        req.socket.destroy();
        return;
      }
      const answer = this.operate(call);
      if (fault === "applyThenDrop") {
        record(0, { fault });
        req.socket.destroy();
        return;
      }
      res.writeHead(answer.status, {
        server: "AliyunOSS",
        "x-oss-request-id": requestId,
        "content-length": answer.body.length,
        ...answer.headers,
      });
      res.end(answer.body);
      record(answer.status);
    } catch (err) {
      if (!(err instanceof OssAnswerError)) throw err;
      this.sendError(res, err.errorName, requestId, hostId, err.extra);
      record(OSS_ERRORS[err.errorName].status, { code: OSS_ERRORS[err.errorName].code });
    }
  }

  private sendError(
    res: http.ServerResponse,
    name: OssErrorName,
    requestId: string,
    hostId: string,
    extra: Record<string, string> = {},
  ): void {
    const text = errorXml(name, requestId, hostId, extra);
    res.writeHead(OSS_ERRORS[name].status, {
      server: "AliyunOSS",
      "content-type": "application/xml",
      "content-length": Buffer.byteLength(text),
      "x-oss-request-id": requestId,
    });
    res.end(text);
  }

  /** OSS's checks, in its order: a V1 Authorization, a known key, its STS token, the date, the signature. */
  private authenticate(call: OssCall): void {
    const auth = parseOssAuthorization(call.headers["authorization"]);
    if (!auth) throw new OssAnswerError("accessDenied");
    const key = this.keys.get(auth.accessKeyId);
    if (!key) throw new OssAnswerError("invalidAccessKeyId", { OSSAccessKeyId: auth.accessKeyId });
    const token = call.headers["x-oss-security-token"];
    if (token !== undefined && this.expiredTokens.has(token)) throw new OssAnswerError("securityTokenExpired");
    if (key.securityToken !== undefined && token !== key.securityToken)
      throw new OssAnswerError("invalidSecurityToken");
    const date = call.headers["x-oss-date"] ?? call.headers["date"];
    const at = date === undefined ? NaN : Date.parse(date);
    if (Number.isNaN(at)) throw new OssAnswerError("invalidDate");
    const now = this.clock();
    if (Math.abs(now - at) > this.clockSkewMs) {
      throw new OssAnswerError("requestTimeTooSkewed", {
        RequestTime: date as string,
        ServerTime: new Date(now).toISOString(),
        MaxAllowedSkewMilliseconds: String(this.clockSkewMs),
      });
    }
    const toSign = ossStringToSign(call);
    if (!ossSignaturesEqual(ossSignature(key.accessKeySecret, toSign), auth.signature)) {
      throw new OssAnswerError("signatureDoesNotMatch", {
        StringToSign: toSign,
        SignatureProvided: auth.signature,
        OSSAccessKeyId: auth.accessKeyId,
      });
    }
  }

  private operate(call: OssCall): { status: number; headers: Record<string, string>; body: Buffer } {
    const bucket = this.buckets.get(call.bucket);
    if (!bucket) throw new OssAnswerError("noSuchBucket", { BucketName: call.bucket });
    const empty = Buffer.alloc(0);
    switch (call.operation) {
      case "PutObject": {
        const md5 = call.headers["content-md5"];
        if (md5 !== undefined && md5 !== createHash("md5").update(call.body).digest("base64"))
          throw new OssAnswerError("invalidDigest");
        // The header is honoured only while versioning was never enabled, as OSS documents for PutObject.
        const forbid =
          call.headers["x-oss-forbid-overwrite"]?.toLowerCase() === "true" && bucket.versioning === undefined;
        if (forbid && bucket.objects.has(call.key)) throw new OssAnswerError("fileAlreadyExists");
        const stored = this.store(bucket, call.key, call.body, call.headers["content-type"] ?? "");
        return { status: 200, headers: { etag: stored.etag }, body: empty };
      }
      case "GetObject": {
        const o = bucket.objects.get(call.key);
        if (!o) throw new OssAnswerError("noSuchKey", { Key: call.key });
        return {
          status: 200,
          headers: {
            etag: o.etag,
            "last-modified": new Date(o.lastModified).toUTCString(),
            "content-type": o.contentType || "application/octet-stream",
          },
          body: o.body,
        };
      }
      case "DeleteObject":
        bucket.objects.delete(call.key);
        return { status: 204, headers: {}, body: empty };
      case "ListObjects":
        return { status: 200, headers: { "content-type": "application/xml" }, body: this.list(call, bucket) };
      case "GetBucketVersioning": {
        const xml = bucket.versioning
          ? `<VersioningConfiguration>\n  <Status>${bucket.versioning}</Status>\n</VersioningConfiguration>\n`
          : `<VersioningConfiguration/>\n`;
        return {
          status: 200,
          headers: { "content-type": "application/xml" },
          body: Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>\n${xml}`),
        };
      }
      case "":
        throw new OssAnswerError("notImplemented");
    }
  }

  /** One page of ListObjects (V1): keys after `marker` that start with `prefix`, at most max-keys (default 100). */
  private list(call: OssCall, bucket: Bucket): Buffer {
    const prefix = call.query["prefix"] ?? "";
    const marker = call.query["marker"] ?? "";
    const asked = Number(call.query["max-keys"] ?? 100);
    const limit = Math.min(Number.isInteger(asked) && asked > 0 ? asked : 100, this.maxKeys);
    const all = [...bucket.objects.keys()].filter((k) => k.startsWith(prefix) && k > marker).sort();
    const page = all.slice(0, limit);
    const truncated = all.length > page.length;
    const contents = page.map((key) => {
      const o = bucket.objects.get(key) as StoredObject;
      return (
        `  <Contents>\n    <Key>${xmlEscape(key)}</Key>\n` +
        `    <LastModified>${new Date(o.lastModified).toISOString()}</LastModified>\n` +
        `    <ETag>${xmlEscape(o.etag)}</ETag>\n    <Type>Normal</Type>\n    <Size>${o.body.length}</Size>\n` +
        `    <StorageClass>Standard</StorageClass>\n` +
        `    <Owner>\n      <ID>${OWNER_ID}</ID>\n      <DisplayName>${OWNER_ID}</DisplayName>\n    </Owner>\n  </Contents>\n`
      );
    });
    return Buffer.from(
      `<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult>\n  <Name>${xmlEscape(call.bucket)}</Name>\n` +
        `  <Prefix>${xmlEscape(prefix)}</Prefix>\n  <Marker>${xmlEscape(marker)}</Marker>\n` +
        `  <MaxKeys>${limit}</MaxKeys>\n  <Delimiter></Delimiter>\n  <IsTruncated>${truncated}</IsTruncated>\n` +
        (truncated ? `  <NextMarker>${xmlEscape(page.at(-1) ?? "")}</NextMarker>\n` : "") +
        contents.join("") +
        `</ListBucketResult>\n`,
    );
  }
}

/** Bucket, key, query and operation of a request. */
function parseCall(req: http.IncomingMessage, body: Buffer): OssCall {
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    headers[name.toLowerCase()] = Array.isArray(value) ? value.join(",") : value;
  }
  const raw = req.url ?? "/";
  const q = raw.indexOf("?");
  const path = q < 0 ? raw : raw.slice(0, q);
  const query = parseQueryString(q < 0 ? "" : raw.slice(q + 1));
  const hostname = (headers["host"] ?? "").replace(/:\d+$/, "").replace(/^\[|\]$/g, "");
  const pathStyle = hostname === "localhost" || /^[\d.]+$/.test(hostname) || hostname.includes(":");
  let bucket: string;
  let rawKey: string;
  if (pathStyle) {
    const slash = path.indexOf("/", 1);
    bucket = slash < 0 ? path.slice(1) : path.slice(1, slash);
    rawKey = slash < 0 ? "" : path.slice(slash + 1);
  } else {
    bucket = hostname.split(".")[0] ?? "";
    rawKey = path.slice(1);
  }
  const key = safeDecode(rawKey);
  const method = (req.method ?? "GET").toUpperCase();
  return { method, bucket, key, query, headers, body, operation: operationOf(method, key, query) };
}

function operationOf(method: string, key: string, query: Record<string, string>): OssOperation | "" {
  if (key === "") {
    if (method !== "GET") return "";
    if ("versioning" in query) return "GetBucketVersioning";
    // ListObjectsV2 (list-type=2) and other bucket sub-resources are not implemented.
    return Object.keys(query).every((k) => ["prefix", "marker", "max-keys", "encoding-type"].includes(k))
      ? "ListObjects"
      : "";
  }
  if (Object.keys(query).length > 0) return "";
  return method === "PUT" ? "PutObject" : method === "GET" ? "GetObject" : method === "DELETE" ? "DeleteObject" : "";
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** A request ID as OSS writes them: 24 upper-case hex digits. */
function newRequestId(): string {
  return randomBytes(12).toString("hex").toUpperCase();
}
