/**
 * What the journal and the end-to-end tests rely on from the S3 server they run (SeaweedFS, `engine/seaweedfs.ts`):
 * a create-only write (`If-None-Match: *`) that exactly one of many writers wins, signatures checked, listings in
 * key order, and the Pulumi CLI's DIY backend keeping a stack's state in a bucket.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { S3Server, startS3Server } from "../../engine/seaweedfs";
import { EngineStack } from "../../engine/stack";
import { pulumiCli } from "./engine";

const BUCKET = "journal";

let dir: string;
let server: S3Server | undefined;
let s3: S3Client;
beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "iot-s3-"));
  server = await startS3Server({ dir: path.join(dir, "s3") });
  s3 = server.client();
  await server.createBucket(BUCKET);
});
afterAll(async () => {
  s3?.destroy();
  await server?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The HTTP status and S3 error Code a request is refused with. */
async function refusal(request: Promise<unknown>): Promise<{ status: number | undefined; code: string }> {
  try {
    await request;
  } catch (err) {
    if (err instanceof S3ServiceException) return { status: err.$metadata.httpStatusCode, code: err.name };
    throw err;
  }
  throw new Error("the request succeeded");
}

/** A PUT that creates `key` only when it does not exist yet. */
const createOnly = (key: string, body: string) =>
  s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body, IfNoneMatch: "*" }));

const read = async (bucket: string, key: string) =>
  (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToString();

test("a create-only PUT writes a new key, and is refused with 412 PreconditionFailed once the key exists", async () => {
  const first = await createOnly("once/entry", "first");
  expect(first.$metadata.httpStatusCode).toBe(200);

  expect(await refusal(createOnly("once/entry", "second"))).toEqual({ status: 412, code: "PreconditionFailed" });
  expect(await read(BUCKET, "once/entry")).toBe("first");
});

test("of 20 concurrent create-only PUTs of one key, exactly one wins and the object is its body", async () => {
  const results = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      createOnly("race/entry", `writer ${i}`).then(
        (answer) => ({ writer: i, status: answer.$metadata.httpStatusCode, code: "" }),
        async (err: unknown) => ({ writer: i, ...(await refusal(Promise.reject(err))) }),
      ),
    ),
  );

  const winners = results.filter((r) => r.status === 200);
  expect(winners).toHaveLength(1);
  const losers = results.filter((r) => r.status !== 200);
  expect(losers).toHaveLength(19);
  // SeaweedFS checks the condition and writes under one lock per object, so a loser is always told the key
  // exists: never 409 ConditionalRequestConflict, which S3 may answer to a write that overlaps another.
  expect(new Set(losers.map((r) => `${r.status} ${r.code}`))).toEqual(new Set(["412 PreconditionFailed"]));
  expect(await read(BUCKET, "race/entry")).toBe(`writer ${winners[0]!.writer}`);
});

test("a request signed with a wrong secret key is refused with 403 SignatureDoesNotMatch, an unsigned one with 403 AccessDenied", async () => {
  const wrong = new S3Client({
    endpoint: server!.endpoint,
    region: server!.region,
    forcePathStyle: true,
    credentials: { accessKeyId: server!.accessKeyId, secretAccessKey: "not-the-secret" },
  });
  try {
    expect(await refusal(wrong.send(new ListObjectsV2Command({ Bucket: BUCKET })))).toEqual({
      status: 403,
      code: "SignatureDoesNotMatch",
    });
    expect(
      await refusal(wrong.send(new PutObjectCommand({ Bucket: BUCKET, Key: "intruder", Body: "x", IfNoneMatch: "*" }))),
    ).toEqual({ status: 403, code: "SignatureDoesNotMatch" });
  } finally {
    wrong.destroy();
  }

  const unsigned = await fetch(`${server!.endpoint}/${BUCKET}?list-type=2`);
  expect(unsigned.status).toBe(403);
  expect(await unsigned.text()).toContain("<Code>AccessDenied</Code>");
  expect(await refusal(s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: "intruder" })))).toEqual({
    status: 404,
    code: "NoSuchKey",
  });
});

test("ListObjectsV2 with a prefix lists its keys in byte order; a GET of a missing key is 404 NoSuchKey", async () => {
  for (const key of ["log/c", "log/a/2", "other/x", "log/B", "log/a/10", "log/b", "log-sibling"])
    await createOnly(key, key);

  const listing = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: "log/" }));
  expect(listing.Contents?.map((o) => o.Key)).toEqual(["log/B", "log/a/10", "log/a/2", "log/b", "log/c"]);
  expect(listing.IsTruncated).toBe(false);

  expect(await refusal(s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: "log/missing" })))).toEqual({
    status: 404,
    code: "NoSuchKey",
  });
});

test("the Pulumi CLI keeps a stack's state in a bucket of the server (the DIY S3 backend)", async () => {
  await server!.createBucket("state");
  const stack = await EngineStack.open({
    cli: await pulumiCli(),
    project: "iot-reset-s3",
    stack: "test",
    program: async () => ({ x: 1 }),
    workDir: path.join(dir, "work"),
    backendDir: path.join(dir, "backend"),
    backendUrl: server!.backendUrl("state"),
    env: server!.env(),
  });

  const up = await stack.up();
  expect(up.exitCode).toBe(0);
  expect(up.errors).toEqual([]);
  expect(up.outputs).toEqual({ x: 1 });
  expect(up.stderr).toBe("");
  const preview = await stack.preview();
  expect(preview.exitCode).toBe(0);
  expect(preview.stderr).toBe("");
  expect(preview.steps.map((s) => s.op)).toEqual(["same"]);

  const keys = (await s3.send(new ListObjectsV2Command({ Bucket: "state", Prefix: ".pulumi/stacks/" }))).Contents?.map(
    (o) => o.Key,
  );
  // The checkpoint, and the backup of the one before it that the DIY backend keeps on every save.
  expect(keys).toEqual([".pulumi/stacks/iot-reset-s3/test.json", ".pulumi/stacks/iot-reset-s3/test.json.bak"]);
  const state = JSON.parse(await read("state", ".pulumi/stacks/iot-reset-s3/test.json")) as {
    checkpoint: { latest: { resources: { type: string; outputs?: Record<string, unknown> }[] } };
  };
  expect(state.checkpoint.latest.resources.map((r) => [r.type, r.outputs])).toEqual([
    ["pulumi:pulumi:Stack", { x: 1 }],
  ]);
  // Nothing under the file backend's folder: the state is in the bucket only.
  expect(fs.existsSync(path.join(dir, "backend", ".pulumi", "stacks"))).toBe(false);
});
