// The journal's OSS bucket (ali-oss) against the emulator's OSS side: create-only writes, reads, listing, the
// versioning check, the errors a user sees, retries, STS renewal, and the segment journal opened on it.
import { startEmulator, type Emulator, type OssEmulator } from "../../emulator";
import type { JournalEntry } from "../../provider/host/journal";
import { parseJournalLocation, type BucketLocation } from "../../provider/host/journal-location";
import { openObjectJournal, type ObjectBucket, type ObjectJournalTiming } from "../../provider/host/journal-objects";
import { ossBucket, type OssBucketOptions, type OssCredential } from "../../provider/host/journal-oss";
import { ConfigurationError, JournalError } from "../../provider/shared/errors";

let emu: Emulator;
let oss: OssEmulator;
let stderr: jest.SpyInstance;

beforeEach(async () => {
  emu = await startEmulator({ oss: true });
  oss = emu.oss!;
  oss.createBucket("journals");
  stderr = jest.spyOn(process.stderr, "write").mockImplementation(() => true);
});
afterEach(async () => {
  stderr.mockRestore();
  await emu.stop();
});

/** `oss://<bucket>/ci` at the emulator, lease 10 s. */
function locationOf(bucket = "journals"): BucketLocation {
  return parseJournalLocation(`oss://${bucket}/ci?endpoint=${oss.endpoint}&lease=10`) as BucketLocation;
}

/** Retries without waiting, so a test of five attempts takes no backoff time. */
const noWait: OssBucketOptions = { sleep: async () => undefined };

function bucketOf(
  credential: () => Promise<OssCredential> = async () => emu.credentials,
  location = locationOf(),
  options: OssBucketOptions = noWait,
): ObjectBucket {
  return ossBucket(location, credential, options);
}

/** The thrown error, which must be a JournalError. */
async function journalError(call: Promise<unknown>): Promise<JournalError> {
  try {
    await call;
  } catch (err) {
    expect(err).toBeInstanceOf(JournalError);
    return err as JournalError;
  }
  throw new Error("expected a JournalError");
}

const lastRequestId = () => oss.requests().at(-1)?.requestId;

describe("the OSS bucket's calls", () => {
  test("a create-only write creates the key, then answers exists and leaves the first bytes", async () => {
    const bucket = bucketOf();
    expect(await bucket.putIfAbsent("ci/seg-1", "first")).toBe("created");
    expect(await bucket.putIfAbsent("ci/seg-1", "second")).toBe("exists");
    expect(oss.object("journals", "ci/seg-1")).toBe("first");
    expect(oss.requests({ operation: "PutObject" }).map((r) => [r.key, r.httpStatus, r.code])).toEqual([
      ["ci/seg-1", 200, undefined],
      ["ci/seg-1", 409, "FileAlreadyExists"],
    ]);
  });

  test("get answers the text, or undefined for a missing key; delete removes a key and ignores a missing one", async () => {
    const bucket = bucketOf();
    await bucket.putIfAbsent("ci/a", "línea 1\n");
    expect(await bucket.get("ci/a")).toBe("línea 1\n");
    expect(await bucket.get("ci/none")).toBeUndefined();
    await bucket.delete("ci/a");
    await bucket.delete("ci/a");
    expect(await bucket.get("ci/a")).toBeUndefined();
    expect(oss.requests().map((r) => `${r.operation} ${r.httpStatus}`)).toEqual([
      "PutObject 200",
      "GetObject 200",
      "GetObject 404",
      "DeleteObject 204",
      "DeleteObject 204",
      "GetObject 404",
    ]);
  });

  test("list reads every page: 2,001 keys under the prefix in three ListObjects of 1,000, other prefixes left out", async () => {
    const keys = Array.from({ length: 2001 }, (_, i) => `ci/seg-${String(i).padStart(12, "0")}.jsonl`);
    for (const k of keys) oss.putObject("journals", k, "x");
    oss.putObject("journals", "cj/other", "x");
    expect(await bucketOf().list("ci/")).toEqual(keys);
    expect(oss.requests({ operation: "ListObjects" })).toHaveLength(3);
  });

  test("list follows the marker when the store answers smaller pages than asked", async () => {
    await emu.stop();
    emu = await startEmulator({ oss: { maxKeys: 2 } });
    oss = emu.oss!;
    oss.createBucket("journals");
    for (const k of ["ci/a", "ci/b", "ci/c", "ci/d", "ci/e"]) oss.putObject("journals", k, k);
    expect(await bucketOf().list("ci/")).toEqual(["ci/a", "ci/b", "ci/c", "ci/d", "ci/e"]);
    expect(oss.requests({ operation: "ListObjects" })).toHaveLength(3);
  });
});

describe("the bucket check", () => {
  test("a bucket that never had versioning is accepted with one GetBucketVersioning", async () => {
    await bucketOf().check();
    expect(oss.requests().map((r) => `${r.operation} ${r.httpStatus}`)).toEqual(["GetBucketVersioning 200"]);
  });

  test.each(["Enabled", "Suspended"] as const)(
    "a bucket whose versioning is %s is refused: create-only writes do not hold there",
    async (versioning) => {
      oss.createBucket("versioned", { versioning });
      const err = await journalError(bucketOf(undefined, locationOf("versioned")).check());
      expect(err.message).toBe(
        `The reset journal's bucket oss://versioned has versioning ${versioning} (GetBucketVersioning, RequestId: ` +
          `${lastRequestId()}): OSS ignores x-oss-forbid-overwrite in a bucket whose versioning is Enabled or ` +
          `Suspended, so two updates could overwrite each other's journal; no reset is sent. Point iotReset:journal at ` +
          `a bucket that never had versioning (e.g. a new bucket for journals): versioning can be suspended but never ` +
          `turned off.`,
      );
    },
  );

  test("a missing bucket: NoSuchBucket, its RequestId, and to create it", async () => {
    const err = await journalError(bucketOf(undefined, locationOf("nobucket")).check());
    expect(err.message).toBe(
      `GetBucketVersioning of the reset journal's bucket oss://nobucket failed: NoSuchBucket: The specified bucket ` +
        `does not exist. (RequestId: ${lastRequestId()}); no further reset is sent. Create the bucket nobucket ` +
        `(without versioning) at ${oss.endpoint}, or point iotReset:journal at an existing one.`,
    );
  });
});

describe("the errors a user sees", () => {
  test("a wrong secret: SignatureDoesNotMatch with its RequestId, and never the secret", async () => {
    const secret = "WrongSecretWrongSecretWrong123";
    const err = await journalError(
      bucketOf(async () => ({ ...emu.credentials, accessKeySecret: secret })).putIfAbsent("ci/seg-1", "x"),
    );
    expect(err.message).toBe(
      `PutObject of ci/seg-1 in the reset journal's bucket oss://journals failed: SignatureDoesNotMatch: The request ` +
        `signature we calculated does not match the signature you provided. Check your key and signing method. ` +
        `(RequestId: ${lastRequestId()}); no further reset is sent. Check the Alibaba Cloud credentials the provider ` +
        `uses (alicloud:accessKey / alicloud:secretKey, ALIBABA_CLOUD_ACCESS_KEY_ID / ALIBABA_CLOUD_ACCESS_KEY_SECRET, ` +
        `or the chain's OIDC or RAM role).`,
    );
    expect(err.message).not.toContain(secret);
    expect(err.message).not.toContain(emu.credentials.accessKeySecret);
    expect(oss.requests({ operation: "PutObject" })).toHaveLength(1);
  });

  test("neither region nor endpoint: a ConfigurationError saying to add region=", () => {
    const location = parseJournalLocation("oss://journals/ci") as BucketLocation;
    expect(() => ossBucket(location, async () => emu.credentials)).toThrow(
      new ConfigurationError(
        `Stack config iotReset:journal "oss://journals/ci" names neither the region nor the endpoint of the OSS ` +
          `bucket journals: add region=<the bucket's region, e.g. cn-shanghai> to it.`,
      ),
    );
  });

  test("a credential chain that fails: a JournalError naming the bucket and what to give", async () => {
    const err = await journalError(
      bucketOf(async () => {
        throw new Error("no credential source found");
      }).get("ci/a"),
    );
    expect(err.message).toBe(
      `GetObject of ci/a in the reset journal's bucket oss://journals found no Alibaba Cloud credentials: no ` +
        `credential source found; no reset is sent. Give the provider credentials (alicloud:accessKey / ` +
        `alicloud:secretKey, ALIBABA_CLOUD_ACCESS_KEY_ID, OIDC or a RAM role).`,
    );
    expect(oss.requests()).toEqual([]);
  });
});

describe("retries", () => {
  test("5xx answers are retried: two InternalErrors, then the create lands", async () => {
    oss.scriptFaults("PutObject", "serverError", 2);
    expect(await bucketOf().putIfAbsent("ci/seg-1", "body")).toBe("created");
    expect(oss.requests({ operation: "PutObject" }).map((r) => r.httpStatus)).toEqual([500, 500, 200]);
  });

  test("a create that landed and lost its answer is retried and finds the key: exists, holding its own bytes", async () => {
    oss.scriptFaults("PutObject", "applyThenDrop", 1);
    const bucket = bucketOf();
    expect(await bucket.putIfAbsent("ci/seg-1", "mine")).toBe("exists");
    expect(await bucket.get("ci/seg-1")).toBe("mine");
    expect(oss.requests({ operation: "PutObject" }).map((r) => [r.httpStatus, r.fault, r.code])).toEqual([
      [0, "applyThenDrop", undefined],
      [409, undefined, "FileAlreadyExists"],
    ]);
  });

  test("retries are bounded: five InternalErrors are a JournalError naming the attempts", async () => {
    oss.scriptFaults("GetObject", "serverError", 6);
    const err = await journalError(bucketOf().get("ci/a"));
    expect(err.message).toMatch(
      new RegExp(
        `^GetObject of ci/a in the reset journal's bucket oss://journals failed: InternalError: We encountered an ` +
          `internal error\\. Please try again\\. \\(RequestId: ${lastRequestId()}, after 5 attempts over \\d+\\.\\d s\\); ` +
          `no further reset is sent\\. See the OSS error code reference for InternalError`,
      ),
    );
    expect(oss.requests({ operation: "GetObject" })).toHaveLength(5);
  });

  test("an STS token that expires mid-update is renewed from the credential chain and the call retried", async () => {
    const first = { accessKeyId: "STS.First", accessKeySecret: "first-secret", securityToken: "token-1" };
    const second = { accessKeyId: "STS.Second", accessKeySecret: "second-secret", securityToken: "token-2" };
    await emu.stop();
    emu = await startEmulator({ oss: true, credentials: [first, second] });
    oss = emu.oss!;
    oss.createBucket("journals");
    let asked = 0;
    // Asked when the client is made and before every request; it renews its token after the third ask, as a chain
    // whose token expired during the update and that had not noticed yet.
    const bucket = bucketOf(async () => (++asked <= 3 ? first : second));
    expect(await bucket.putIfAbsent("ci/seg-1", "a")).toBe("created");
    oss.expireSecurityToken("token-1");
    expect(await bucket.putIfAbsent("ci/seg-2", "b")).toBe("created");
    expect(oss.requests().map((r) => [r.accessKeyId, r.httpStatus, r.code])).toEqual([
      ["STS.First", 200, undefined],
      ["STS.First", 403, "SecurityTokenExpired"],
      ["STS.Second", 200, undefined],
    ]);
    expect(asked).toBe(4);
  });
});

describe("the segment journal in an OSS bucket", () => {
  const ME = { project: "proj", stack: "prod" };
  const SCOPE = 'campaign "c1" at http://127.0.0.1:1|cn-shanghai';
  const FOLDER = "ci/journal-proj-prod/";
  const sending = (device: string): JournalEntry => ({ ev: "sending", at: "t1", scope: SCOPE, device, attempt: 1 });
  /** A clock that moves only when the journal sleeps. */
  const fakeTiming = (): ObjectJournalTiming => {
    let now = 0;
    return { now: () => now, sleep: async (ms) => void (now += ms) };
  };

  test("append, close, and a reopen replays what was recorded", async () => {
    const location = locationOf();
    const j = await openObjectJournal(bucketOf(), location, ME, fakeTiming());
    expect(j.location).toBe(`oss://journals/${FOLDER}`);
    await j.append(sending("a1/d1"));
    await j.append({ ev: "reset", at: "t2", scope: SCOPE, device: "a1/d1", requestId: "R1" });
    await j.close();
    const segments = oss.keys("journals");
    expect(segments[0]).toBe(`${FOLDER}seg-000000000001.jsonl`);
    expect(oss.object("journals", `${FOLDER}seg-000000000002.jsonl`)?.split("\n")[1]).toBe(
      JSON.stringify(sending("a1/d1")),
    );

    const again = await openObjectJournal(bucketOf(), location, ME, fakeTiming());
    expect(again.lookup(SCOPE, "a1/d1")).toEqual({ status: "reset", attempt: 1, sentAt: "t1", requestId: "R1" });
    await again.close();
    expect(oss.keys("journals")).toHaveLength(segments.length + 2);
  });

  test("two writers racing for one journal: one opens it, the other is refused by the create-only write", async () => {
    // Both list the empty folder before either creates its `open` segment: the race the create-only write decides.
    let listed = 0;
    let release = () => {};
    const bothListed = new Promise<void>((resolve) => (release = resolve));
    const racer = (): ObjectBucket => {
      const inner = bucketOf();
      return {
        check: () => inner.check(),
        get: (key) => inner.get(key),
        delete: (key) => inner.delete(key),
        list: async (prefix) => {
          const keys = await inner.list(prefix);
          if (++listed === 2) release();
          return keys;
        },
        putIfAbsent: async (key, body) => {
          await bothListed;
          return inner.putIfAbsent(key, body);
        },
      };
    };
    const location = locationOf();
    const results = await Promise.allSettled([
      openObjectJournal(racer(), location, ME, fakeTiming()),
      openObjectJournal(racer(), location, ME, fakeTiming()),
    ]);
    const opened = results.filter((r) => r.status === "fulfilled");
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    expect([opened.length, refused.length]).toEqual([1, 1]);
    expect(refused[0]?.reason).toBeInstanceOf(JournalError);
    expect(String(refused[0]?.reason.message)).toMatch(
      new RegExp(
        `^The reset journal oss://journals/${FOLDER} is in use by another update of this stack: writer [0-9a-f-]{36} ` +
          `\\(host [^,]+, process ${process.pid}, open since [^)]+\\) wrote its segment 1 at .+\\. This update stops ` +
          `before sending any reset`,
      ),
    );
    const puts = oss.requests({ operation: "PutObject" });
    expect(puts.map((r) => r.key)).toEqual([`${FOLDER}seg-000000000001.jsonl`, `${FOLDER}seg-000000000001.jsonl`]);
    expect(puts.map((r) => r.httpStatus).sort()).toEqual([200, 409]);
    await (opened[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof openObjectJournal>>>).value.close();
  });
});
