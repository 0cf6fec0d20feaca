/**
 * The journal's bucket in Alibaba Cloud OSS, through OSS's native API (`ali-oss`): a create-only write is a
 * PutObject with `x-oss-forbid-overwrite: true`, answered 409 FileAlreadyExists when the key exists. OSS's
 * S3-compatible API does not support `If-None-Match`, so the S3 client cannot make that write here. The header has
 * no effect in a bucket whose versioning is Enabled or Suspended, so `check` refuses such a bucket
 * (https://www.alibabacloud.com/help/en/oss/developer-reference/putobject). Credentials come from the provider's
 * Alibaba credential chain; none is ever read from stack config, and none appears in a message.
 */
import type OSS from "ali-oss";
import { ConfigurationError, IotResetError, JournalError } from "../shared/errors";
import type { BucketLocation } from "./journal-location";
import type { ObjectBucket } from "./journal-objects";

/** An Alibaba Cloud credential, as the provider's credential chain gives it. */
export interface OssCredential {
  /** The AccessKey ID. */
  readonly accessKeyId: string;
  /** The AccessKey secret. */
  readonly accessKeySecret: string;
  /** The STS token, for temporary credentials (OIDC, RAM role, STS). */
  readonly securityToken?: string;
}

/** Retry bounds and page size of the OSS bucket; every one has a default. */
export interface OssBucketOptions {
  /** Attempts of one call in all, the first included; default 5. */
  readonly maxAttempts?: number;
  /** No new attempt starts once this many ms have passed since the first; default 20,000. */
  readonly maxElapsedMs?: number;
  /** The backoff before the second attempt in ms, doubled each time (full jitter, at most 2 s); default 200. */
  readonly baseDelayMs?: number;
  /** How long one request may take before it counts as failed, in ms; default 10,000. */
  readonly timeoutMs?: number;
  /** Keys asked for per ListObjects page (OSS allows 1 to 1,000); default 1,000. */
  readonly pageSize?: number;
  /** Waits `ms`; replaceable in tests. Default `setTimeout`. */
  readonly sleep?: (ms: number) => Promise<void>;
}

/** What `ali-oss` throws: `status` -1 (network) or -2 (timeout), or the HTTP status with OSS's Code. */
interface OssFailure {
  readonly status?: number;
  readonly code?: string;
  readonly name?: string;
  readonly message?: string;
  readonly requestId?: string;
}

/** The calls of `ali-oss` this file makes; GetBucketVersioning is not in its type declarations. */
type OssClient = OSS & {
  getBucketVersioning(bucket: string): Promise<{ versionStatus?: string; res: { headers: Record<string, string> } }>;
};

/** A failure of the credential chain while ali-oss renewed an STS token: not OSS's answer. */
class CredentialFailure extends Error {}

/** Codes that a later attempt may not meet: throttling, a slow socket, an STS token renewed in between. */
const TRANSIENT_CODES = new Set(["RequestTimeout", "SecurityTokenExpired", "SlowDown", "Throttling"]);

/**
 * The OSS bucket of the journal at `location`, reached with `credential` (asked again before each request, so an
 * STS token the chain renews mid-update is used at once). Throws a ConfigurationError when neither the region nor
 * the endpoint is known.
 */
export function ossBucket(
  location: BucketLocation,
  credential: () => Promise<OssCredential>,
  options: OssBucketOptions = {},
): ObjectBucket {
  if (location.region === undefined && location.endpoint === undefined) {
    throw new ConfigurationError(
      `Stack config iotReset:journal "${location.url}" names neither the region nor the endpoint of the OSS bucket ` +
        `${location.bucket}: add region=<the bucket's region, e.g. cn-shanghai> to it.`,
    );
  }
  // Loaded here, in the provider host only: the program side never needs ali-oss.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ossClass = require("ali-oss") as typeof OSS;
  return new OssBucket(ossClass, location, credential, options);
}

class OssBucket implements ObjectBucket {
  private client: Promise<OssClient> | undefined;
  private readonly maxAttempts: number;
  private readonly maxElapsedMs: number;
  private readonly baseDelayMs: number;
  private readonly sleep: (ms: number) => Promise<void>;
  /** `oss://bucket`, for messages. */
  private readonly where: string;

  constructor(
    private readonly ossClass: typeof OSS,
    private readonly location: BucketLocation,
    private readonly credential: () => Promise<OssCredential>,
    private readonly options: OssBucketOptions,
  ) {
    this.maxAttempts = options.maxAttempts ?? 5;
    this.maxElapsedMs = options.maxElapsedMs ?? 20_000;
    this.baseDelayMs = options.baseDelayMs ?? 200;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.where = `oss://${location.bucket}`;
  }

  async putIfAbsent(key: string, body: string): Promise<"created" | "exists"> {
    // A retried create whose first attempt landed also finds the key taken: the caller compares the bytes.
    return this.call(
      "PutObject",
      key,
      async (c) => {
        await c.put(key, Buffer.from(body, "utf8"), {
          headers: { "x-oss-forbid-overwrite": "true" },
          mime: "application/x-ndjson",
        });
        return "created" as const;
      },
      (e) => (e.code === "FileAlreadyExists" ? "exists" : undefined),
    );
  }

  async get(key: string): Promise<string | undefined> {
    // Wrapped, since `accept` answering undefined means "not an expected failure".
    const found = await this.call<{ text: string | undefined }>(
      "GetObject",
      key,
      async (c) => ({ text: Buffer.from((await c.get(key)).content as Buffer).toString("utf8") }),
      (e) => (e.code === "NoSuchKey" ? { text: undefined } : undefined),
    );
    return found.text;
  }

  async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let marker = "";
    for (;;) {
      const page = await this.call("ListObjects", `${prefix}*`, (c) =>
        c.list({ prefix, marker, "max-keys": this.options.pageSize ?? 1000 }, {}),
      );
      for (const o of page.objects ?? []) keys.push(o.name);
      if (!page.isTruncated) return keys;
      const next = page.nextMarker ?? keys.at(-1) ?? "";
      // A marker that does not move would list the same page for ever.
      if (next <= marker) {
        throw new JournalError(
          `ListObjects of ${prefix}* in the reset journal's bucket ${this.where} answered a truncated page without a ` +
            `next marker; no reset is sent. Check that iotReset:journal's endpoint is Alibaba Cloud OSS.`,
        );
      }
      marker = next;
    }
  }

  async delete(key: string): Promise<void> {
    await this.call(
      "DeleteObject",
      key,
      async (c) => {
        await c.delete(key);
        return true;
      },
      (e) => (e.code === "NoSuchKey" ? true : undefined),
    );
  }

  /** Refuses a bucket whose versioning is or was ever enabled: OSS then ignores `x-oss-forbid-overwrite`. */
  async check(): Promise<void> {
    const answer = await this.call("GetBucketVersioning", "", (c) => c.getBucketVersioning(this.location.bucket));
    const status = answer.versionStatus;
    if (!status) return;
    throw new JournalError(
      `The reset journal's bucket ${this.where} has versioning ${status} (GetBucketVersioning, RequestId: ` +
        `${answer.res.headers["x-oss-request-id"] ?? "none"}): OSS ignores x-oss-forbid-overwrite in a bucket whose ` +
        `versioning is Enabled or Suspended, so two updates could overwrite each other's journal; no reset is sent. ` +
        `Point iotReset:journal at a bucket that never had versioning (e.g. a new bucket for journals): versioning can ` +
        `be suspended but never turned off.`,
    );
  }

  /**
   * Runs `run` on the client, retrying transient failures within the bounds; `accept` turns an expected failure
   * (FileAlreadyExists, NoSuchKey) into a result. Any other failure is a JournalError naming the call and the key.
   */
  private async call<T>(
    op: string,
    key: string,
    run: (client: OssClient) => Promise<T>,
    accept: (failure: OssFailure) => T | undefined = () => undefined,
  ): Promise<T> {
    const started = Date.now();
    for (let attempt = 1; ; attempt++) {
      let failure: OssFailure;
      try {
        return await run(await this.connect());
      } catch (err) {
        if (err instanceof IotResetError) throw err;
        failure = (err ?? {}) as OssFailure;
        const accepted = failure instanceof CredentialFailure ? undefined : accept(failure);
        if (accepted !== undefined) return accepted;
      }
      const delay = Math.random() * Math.min(2_000, this.baseDelayMs * 2 ** (attempt - 1));
      const elapsed = Date.now() - started;
      if (!transient(failure) || attempt >= this.maxAttempts || elapsed + delay >= this.maxElapsedMs) {
        throw this.failure(op, key, failure, attempt, elapsed);
      }
      await this.sleep(delay);
    }
  }

  /** The client, made with the chain's first credential; ali-oss asks `renew` before each later request. */
  private connect(): Promise<OssClient> {
    this.client ??= this.fresh().then((first) => {
      const { region, endpoint } = this.location;
      const ossRegion = region === undefined ? undefined : region.startsWith("oss-") ? region : `oss-${region}`;
      return new this.ossClass({
        ...first,
        // ali-oss renews an STS token only when the client has one; a plain AccessKey never changes.
        ...(first.stsToken ? { refreshSTSToken: () => this.fresh(), refreshSTSTokenInterval: 0 } : {}),
        bucket: this.location.bucket,
        ...(ossRegion !== undefined ? { region: ossRegion } : {}),
        ...(endpoint !== undefined ? { endpoint } : { secure: true }),
        timeout: this.options.timeoutMs ?? 10_000,
      }) as OssClient;
    });
    // A chain that failed once may succeed on the next call: do not keep the rejection.
    this.client.catch(() => (this.client = undefined));
    return this.client;
  }

  private async fresh(): Promise<{ accessKeyId: string; accessKeySecret: string; stsToken: string }> {
    let c: OssCredential;
    try {
      c = await this.credential();
    } catch (err) {
      if (err instanceof IotResetError) throw err;
      throw new CredentialFailure((err as Error)?.message ?? String(err));
    }
    if (!c.accessKeyId || !c.accessKeySecret) throw new CredentialFailure("the credential chain gave no AccessKey");
    return { accessKeyId: c.accessKeyId, accessKeySecret: c.accessKeySecret, stsToken: c.securityToken ?? "" };
  }

  private failure(op: string, key: string, f: OssFailure, attempts: number, elapsedMs: number): JournalError {
    const subject = key
      ? `${op} of ${key} in the reset journal's bucket ${this.where}`
      : `${op} of the reset journal's bucket ${this.where}`;
    if (f instanceof CredentialFailure) {
      return new JournalError(
        `${subject} found no Alibaba Cloud credentials: ${f.message}; no reset is sent. Give the provider ` +
          `credentials (alicloud:accessKey / alicloud:secretKey, ALIBABA_CLOUD_ACCESS_KEY_ID, OIDC or a RAM role).`,
      );
    }
    const network = unanswered(f);
    const code = f.code ?? f.name ?? "Error";
    // The first line only: urllib appends the request's URL and agent state on later lines.
    const message = (f.message ?? "no message").split("\n")[0]?.slice(0, 300);
    const tries = attempts > 1 ? `, after ${attempts} attempts over ${(elapsedMs / 1000).toFixed(1)} s` : "";
    return new JournalError(
      `${subject} failed: ${code}: ${message} (RequestId: ${f.requestId || "none"}${tries}); no further reset is ` +
        `sent. ${network ? `Check that ${this.endpoint()} is reachable from this machine, then run the update again.` : this.advice(code)}`,
    );
  }

  private advice(code: string): string {
    const b = this.location.bucket;
    const prefix = this.location.prefix ? `${this.location.prefix}/` : "";
    if (code === "AccessDenied") {
      return (
        `Allow oss:PutObject, oss:GetObject, oss:ListObjects, oss:DeleteObject and oss:GetBucketVersioning on ` +
        `acs:oss:*:*:${b} and acs:oss:*:*:${b}/${prefix}* in the RAM policy of the provider's Alibaba Cloud identity.`
      );
    }
    if (code === "NoSuchBucket") {
      return `Create the bucket ${b} (without versioning) at ${this.endpoint()}, or point iotReset:journal at an existing one.`;
    }
    if (/^(InvalidAccessKeyId|SignatureDoesNotMatch|InvalidSecurityToken|SecurityTokenExpired)$/.test(code)) {
      return (
        `Check the Alibaba Cloud credentials the provider uses (alicloud:accessKey / alicloud:secretKey, ` +
        `ALIBABA_CLOUD_ACCESS_KEY_ID / ALIBABA_CLOUD_ACCESS_KEY_SECRET, or the chain's OIDC or RAM role).`
      );
    }
    if (code === "RequestTimeTooSkewed") {
      return "Set this machine's clock right (OSS refuses a request dated more than 15 minutes off), then run the update again.";
    }
    return `See the OSS error code reference for ${code}, and check iotReset:journal's bucket, region and endpoint.`;
  }

  private endpoint(): string {
    return this.location.endpoint ?? `https://oss-${(this.location.region ?? "").replace(/^oss-/, "")}.aliyuncs.com`;
  }
}

/**
 * Whether the request got no answer: ali-oss says so with status -1 (network) or -2 (timeout), or, for its own
 * timers, with a name and no status.
 */
function unanswered(f: OssFailure): boolean {
  return (
    f.status === -1 ||
    f.status === -2 ||
    (f.status === undefined && /^(ResponseTimeout|ConnectionTimeout)Error$/.test(f.name ?? ""))
  );
}

/** Whether another attempt may succeed: no answer, a 5xx or 429, or a transient Code. */
function transient(f: OssFailure): boolean {
  if (f instanceof CredentialFailure) return false;
  const status = f.status ?? 0;
  return unanswered(f) || status === 429 || status >= 500 || TRANSIENT_CODES.has(f.code ?? "");
}
