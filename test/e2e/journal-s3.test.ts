/**
 * The journal's S3 bucket against a real S3 server (SeaweedFS on 127.0.0.1): create-only writes, the probe that
 * refuses a store without them, the errors an operator sees, and one writer at a time.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { JournalError } from "../../provider/shared/errors";
import { parseJournalLocation, type BucketLocation } from "../../provider/host/journal-location";
import { openObjectJournal } from "../../provider/host/journal-objects";
import { s3Bucket } from "../../provider/host/journal-s3";
import { startS3Server, type S3Server } from "../../engine/seaweedfs";

const ME = { project: "proj", stack: "prod" };
const SCOPE = 'campaign "c1" at http://127.0.0.1:1|cn-shanghai';

let s3: S3Server;
let dir: string;
let saved: NodeJS.ProcessEnv;
beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "journal-s3-"));
  s3 = await startS3Server({ dir });
  await s3.createBucket("journals");
  saved = { ...process.env };
  Object.assign(process.env, s3.env());
}, 120_000);
afterAll(async () => {
  process.env = saved;
  await s3?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const at = (url: string) =>
  parseJournalLocation(
    `${url}${url.includes("?") ? "&" : "?"}endpoint=${s3.endpoint}&forcePathStyle=true`,
  ) as BucketLocation;

test("create-only writes: created once, then exists; get, list and delete", async () => {
  const bucket = s3Bucket(at("s3://journals/unit"));
  await bucket.check();
  expect(await bucket.putIfAbsent("unit/a", "one")).toBe("created");
  expect(await bucket.putIfAbsent("unit/a", "two")).toBe("exists");
  expect(await bucket.get("unit/a")).toBe("one");
  expect(await bucket.get("unit/missing")).toBeUndefined();
  await bucket.putIfAbsent("unit/b", "three");
  expect(await bucket.list("unit/")).toEqual(["unit/a", "unit/b"]);
  await bucket.delete("unit/a");
  await bucket.delete("unit/a");
  expect(await bucket.list("unit/")).toEqual(["unit/b"]);
});

test("a missing bucket and a wrong secret: the bucket, the call, S3's Code and RequestId, and what to do", async () => {
  const missing = s3Bucket(at("s3://no-such-bucket/p"));
  await expect(missing.get("p/x")).rejects.toThrow(
    /^The reset journal's bucket s3:\/\/no-such-bucket refused GetObject p\/x \(Code NoSuchBucket, RequestId [^:]+: .+\); no further reset is sent\. Create the bucket, or point iotReset:journal at an existing one\.$/,
  );
  process.env.AWS_SECRET_ACCESS_KEY = "not-the-secret";
  try {
    const wrong = s3Bucket(at("s3://journals/p"));
    const err = (await wrong.list("p/").catch((e: unknown) => e)) as JournalError;
    expect(err).toBeInstanceOf(JournalError);
    expect(err.message).toMatch(
      /^The reset journal's bucket s3:\/\/journals refused ListObjectsV2 p\/ \(Code SignatureDoesNotMatch/,
    );
    expect(err.message).not.toContain("not-the-secret");
  } finally {
    process.env.AWS_SECRET_ACCESS_KEY = s3.secretAccessKey;
  }
});

test("one writer: of two openings at once one writes, the other is refused; a reopen replays what was written", async () => {
  const location = at("s3://journals/race?lease=5");
  const results = await Promise.allSettled([
    openObjectJournal(s3Bucket(location), location, ME),
    openObjectJournal(s3Bucket(location), location, ME),
  ]);
  const opened = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  const refused = results.flatMap((r) => (r.status === "rejected" ? [r.reason as Error] : []));
  expect(opened).toHaveLength(1);
  expect(refused.map((e) => e.message)).toEqual([
    expect.stringMatching(/^The reset journal s3:\/\/journals\/race\/journal-proj-prod\/ is in use by another update/),
  ]);
  const journal = opened[0] as NonNullable<(typeof opened)[0]>;
  await journal.append({ ev: "sending", at: "t1", scope: SCOPE, device: "a1/d1", attempt: 1 });
  await journal.close();
  const again = await openObjectJournal(s3Bucket(location), location, ME);
  expect(again.lookup(SCOPE, "a1/d1")).toMatchObject({ status: "sending", attempt: 1 });
  await again.close();
  // The refused opening may have waited on the winner's open segment, which then wrote heartbeats meanwhile: how
  // many depends on timing, so the segments are checked by what they are and who wrote them, not by count.
  const bucket = s3Bucket(location);
  const keys = await bucket.list("race/journal-proj-prod/");
  expect(keys).toEqual(keys.map((_, i) => `race/journal-proj-prod/seg-${String(i + 1).padStart(12, "0")}.jsonl`));
  const headers = await Promise.all(
    keys.map(async (key) => {
      const text = (await bucket.get(key)) as string;
      return JSON.parse(text.split("\n")[0] as string) as { kind: string; writer: { id: string } };
    }),
  );
  expect(headers.map((h) => h.kind).join(" ")).toMatch(/^open (beat )*entries close open close$/);
  const writers = headers.map((h) => h.writer.id);
  expect(new Set(writers.slice(0, -2))).toEqual(new Set([writers[0]]));
  expect(new Set(writers.slice(-2)).size).toBe(1);
  expect(writers.at(-1)).not.toBe(writers[0]);
});
