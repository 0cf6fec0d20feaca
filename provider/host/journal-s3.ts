/**
 * The journal's bucket in AWS S3 or an S3-compatible store, through the AWS SDK: create-only writes are PutObject
 * with `If-None-Match: *` (412 when the key exists; 409 ConditionalRequestConflict while a concurrent write of
 * the key is in flight, retried). Credentials come from the AWS SDK's default chain (environment, profile, web
 * identity, container or instance role); none is ever read from stack config.
 */
import { randomUUID } from "node:crypto";
import type * as S3 from "@aws-sdk/client-s3";
import { ConfigurationError, JournalError } from "../shared/errors";
import type { BucketLocation } from "./journal-location";
import type { ObjectBucket } from "./journal-objects";

/** How often a create-only write that met a concurrent write of its key is tried, in all. */
const CONFLICT_ATTEMPTS = 5;

interface AwsError {
  readonly name?: string;
  readonly message?: string;
  readonly $metadata?: { readonly httpStatusCode?: number; readonly requestId?: string };
}

const statusOf = (err: unknown) => (err as AwsError).$metadata?.httpStatusCode;

/** A bucket of AWS S3 or an S3-compatible store for the journal at `location`. */
export function s3Bucket(location: BucketLocation, env: NodeJS.ProcessEnv = process.env): ObjectBucket {
  const region = location.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  if (region === undefined) {
    throw new ConfigurationError(
      `Stack config iotReset:journal "${location.url}" names no region, and neither AWS_REGION nor ` +
        `AWS_DEFAULT_REGION is set: add region=<the bucket's region> to it.`,
    );
  }
  return new S3JournalBucket(location, region);
}

class S3JournalBucket implements ObjectBucket {
  // Loaded here, in the provider host only: the program side never needs the SDK.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  private readonly sdk = require("@aws-sdk/client-s3") as typeof S3;
  private readonly client: S3.S3Client;
  private readonly bucket: string;

  constructor(
    private readonly location: BucketLocation,
    region: string,
  ) {
    this.bucket = location.bucket;
    this.client = new this.sdk.S3Client({
      region,
      ...(location.endpoint !== undefined ? { endpoint: location.endpoint } : {}),
      forcePathStyle: location.pathStyle,
      maxAttempts: 5,
      // A segment is small and its create is conditional: no CRC of each body is needed, nor asked for of answers.
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    });
  }

  async putIfAbsent(key: string, body: string): Promise<"created" | "exists"> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.client.send(
          new this.sdk.PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, IfNoneMatch: "*" }),
        );
        return "created";
      } catch (err) {
        if (statusOf(err) === 412) return "exists";
        if (statusOf(err) === 409 && attempt < CONFLICT_ATTEMPTS) {
          await new Promise((resolve) => setTimeout(resolve, 20 * 2 ** attempt));
          continue;
        }
        throw this.failure("PutObject", key, err);
      }
    }
  }

  async get(key: string): Promise<string | undefined> {
    try {
      const out = await this.client.send(new this.sdk.GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return (await out.Body?.transformToString("utf8")) ?? "";
    } catch (err) {
      const name = (err as AwsError).name;
      if (name === "NoSuchKey" || (statusOf(err) === 404 && name !== "NoSuchBucket")) return undefined;
      throw this.failure("GetObject", key, err);
    }
  }

  async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      try {
        const page = await this.client.send(
          new this.sdk.ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: prefix,
            ...(token ? { ContinuationToken: token } : {}),
          }),
        );
        for (const o of page.Contents ?? []) if (o.Key !== undefined) keys.push(o.Key);
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } catch (err) {
        throw this.failure("ListObjectsV2", prefix, err);
      }
    } while (token);
    return keys;
  }

  async delete(key: string): Promise<void> {
    try {
      await this.client.send(new this.sdk.DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (err) {
      if (statusOf(err) !== 404) throw this.failure("DeleteObject", key, err);
    }
  }

  /**
   * A store that ignores `If-None-Match` would let two writers overwrite each other's segments: one create-only
   * write of a fresh key, then a second of the same key, must answer 412.
   */
  async check(): Promise<void> {
    const probe = `${this.location.prefix ? `${this.location.prefix}/` : ""}.journal-probe-${randomUUID()}`;
    const first = await this.putIfAbsent(probe, "probe");
    const second = first === "created" ? await this.putIfAbsent(probe, "probe") : first;
    await this.delete(probe);
    if (first !== "created" || second !== "exists") {
      throw new JournalError(
        `The reset journal's bucket s3://${this.bucket} does not refuse a second create-only write of one key ` +
          `(PutObject with If-None-Match: *), so two updates could overwrite each other's journal; no reset is sent. ` +
          `Use a store that implements conditional writes (AWS S3 does), or oss:// for Alibaba Cloud OSS.`,
      );
    }
  }

  /** A JournalError naming the bucket, the call, S3's Code and RequestId, and what to do. */
  private failure(call: string, key: string, err: unknown): JournalError {
    const e = err as AwsError;
    const code = e.name ?? "Error";
    const requestId = e.$metadata?.requestId;
    const advice =
      code === "NoSuchBucket"
        ? "Create the bucket, or point iotReset:journal at an existing one."
        : code === "AccessDenied" || statusOf(err) === 403
          ? `Allow s3:PutObject, s3:GetObject, s3:ListBucket and s3:DeleteObject on ${this.bucket} (and its prefix) ` +
            `to the identity of the AWS credential chain.`
          : code === "CredentialsProviderError"
            ? "Give the update AWS credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile, or a role."
            : "Check the bucket's endpoint and region, then run the update again.";
    return new JournalError(
      `The reset journal's bucket s3://${this.bucket} refused ${call} ${key} (Code ${code}` +
        `${requestId ? `, RequestId ${requestId}` : ""}: ${e.message ?? "no message"}); no further reset is sent. ${advice}`,
    );
  }
}
