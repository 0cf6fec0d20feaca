import { JournalError } from "../../provider/shared/errors";
import type { JournalEntry } from "../../provider/host/journal";
import { parseJournalLocation, type BucketLocation } from "../../provider/host/journal-location";
import {
  COMPACT_AFTER_SEGMENTS,
  openObjectJournal,
  type ObjectBucket,
  type ObjectJournalTiming,
} from "../../provider/host/journal-objects";

const ME = { project: "proj", stack: "prod" };
const SCOPE = 'campaign "c1" at http://127.0.0.1:1|cn-shanghai';
const FOLDER = "ci/journal-proj-prod/";
const location = parseJournalLocation("s3://journals/ci?region=us-east-1&lease=10") as BucketLocation;

/** A bucket in memory with S3's create-only semantics, and a log of the calls made. */
class MemoryBucket implements ObjectBucket {
  readonly objects = new Map<string, string>();
  readonly calls: string[] = [];
  /** Store the next create, then answer "exists", as a create retried after its first attempt landed does. */
  landThenLoseAnswer = false;
  /** Runs before each create (a test's other writer). */
  beforePut: ((key: string) => Promise<void> | void) | undefined;

  async putIfAbsent(key: string, body: string): Promise<"created" | "exists"> {
    await this.beforePut?.(key);
    this.calls.push(`PUT ${key}`);
    if (this.objects.has(key)) return "exists";
    this.objects.set(key, body);
    if (this.landThenLoseAnswer) {
      this.landThenLoseAnswer = false;
      return "exists";
    }
    return "created";
  }
  async get(key: string): Promise<string | undefined> {
    this.calls.push(`GET ${key}`);
    return this.objects.get(key);
  }
  async list(prefix: string): Promise<string[]> {
    this.calls.push(`LIST ${prefix}`);
    return [...this.objects.keys()].filter((k) => k.startsWith(prefix)).sort();
  }
  async delete(key: string): Promise<void> {
    this.calls.push(`DELETE ${key}`);
    this.objects.delete(key);
  }
  async check(): Promise<void> {}

  /** The kinds of the segments in order, e.g. `open entries close`. */
  kinds(): string {
    return [...this.objects.keys()]
      .filter((k) => k.includes("/seg-"))
      .sort()
      .map((k) => (JSON.parse((this.objects.get(k) as string).split("\n")[0] as string) as { kind: string }).kind)
      .join(" ");
  }
}

/** A clock that moves only when the code under test sleeps. */
function fakeTiming(onSleep?: () => Promise<void> | void): ObjectJournalTiming & { elapsed: () => number } {
  let now = 0;
  return {
    now: () => now,
    sleep: async (ms) => {
      now += ms;
      await onSleep?.();
    },
    elapsed: () => now,
  };
}

const sending = (device: string): JournalEntry => ({ ev: "sending", at: "t1", scope: SCOPE, device, attempt: 1 });

let stderr: jest.SpyInstance;
beforeEach(() => {
  stderr = jest.spyOn(process.stderr, "write").mockImplementation(() => true);
});
afterEach(() => stderr.mockRestore());
const logged = () => stderr.mock.calls.map((c) => String(c[0])).join("");

describe("the journal in a bucket", () => {
  test("opening creates an `open` segment; each batch is the next segment; closing releases it; a reopen replays", async () => {
    const bucket = new MemoryBucket();
    const j = await openObjectJournal(bucket, location, ME, fakeTiming());
    expect(j.location).toBe(`s3://journals/${FOLDER}`);
    await j.append(sending("a1/d1"));
    j.append({ ev: "reset", at: "t2", scope: SCOPE, device: "a1/d1", requestId: "R1" }).catch(() => undefined);
    await j.close();
    expect(bucket.kinds()).toBe("open entries entries close");
    expect(bucket.objects.get(`${FOLDER}seg-000000000002.jsonl`)?.split("\n")[1]).toBe(
      JSON.stringify(sending("a1/d1")),
    );

    const timing = fakeTiming();
    const again = await openObjectJournal(bucket, location, ME, timing);
    expect(timing.elapsed()).toBe(0);
    expect(again.lookup(SCOPE, "a1/d1")).toEqual({ status: "reset", attempt: 1, sentAt: "t1", requestId: "R1" });
    await again.close();
    expect(bucket.kinds()).toBe("open entries entries close open close");
  });

  test("two updates opening at once: one writes, the other stops naming the journal and the writer", async () => {
    const bucket = new MemoryBucket();
    const results = await Promise.allSettled([
      openObjectJournal(bucket, location, ME, fakeTiming()),
      openObjectJournal(bucket, location, ME, fakeTiming()),
    ]);
    const opened = results.filter((r) => r.status === "fulfilled");
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    expect(opened).toHaveLength(1);
    expect(refused).toHaveLength(1);
    expect(refused[0]?.reason).toBeInstanceOf(JournalError);
    expect(String(refused[0]?.reason.message)).toMatch(
      new RegExp(
        `^The reset journal s3://journals/${FOLDER} is in use by another update of this stack: writer [0-9a-f-]{36} ` +
          `\\(host [^,]+, process ${process.pid}, open since [^)]+\\) wrote its segment 1 at .+\\. This update stops ` +
          `before sending any reset`,
      ),
    );
    expect(bucket.kinds()).toBe("open");
  });

  test("a writer that was lost (no close, no write for a lease) is taken over; it can then write nothing", async () => {
    const bucket = new MemoryBucket();
    const lost = await openObjectJournal(bucket, location, ME, fakeTiming());
    await lost.append(sending("a1/d1"));
    const timing = fakeTiming();
    const next = await openObjectJournal(bucket, location, ME, timing);
    expect(timing.elapsed()).toBeGreaterThanOrEqual(10_000);
    expect(timing.elapsed()).toBeLessThan(12_000);
    expect(next.lookup(SCOPE, "a1/d1")).toMatchObject({ status: "sending", attempt: 1 });
    expect(logged()).toContain("which wrote nothing for 10 s (a runner lost mid-update); this update takes it over");
    await expect(lost.append(sending("a1/d2"))).rejects.toThrow(
      /^The reset journal s3:\/\/journals\/ci\/journal-proj-prod\/ was taken over by writer .+ \(its segment 3, at .+\), so this update sends no further reset/,
    );
    await next.append(sending("a1/d3"));
    expect(bucket.kinds()).toBe("open entries open entries");
    await next.close();
  });

  test("a writer still writing while the next one waits: the next one stops, naming it", async () => {
    const bucket = new MemoryBucket();
    const live = await openObjectJournal(bucket, location, ME, fakeTiming());
    let writes = 0;
    const timing = fakeTiming(async () => {
      if (writes++ === 2) await live.append(sending("a1/d1"));
    });
    await expect(openObjectJournal(bucket, location, ME, timing)).rejects.toThrow(
      /is in use by another update of this stack: writer .+ wrote its segment 2 at/,
    );
    expect(timing.elapsed()).toBeLessThan(10_000);
    expect(bucket.kinds()).toBe("open entries");
    await live.close();
  });

  test("a create retried after its first attempt landed finds its own bytes and counts as written", async () => {
    const bucket = new MemoryBucket();
    const j = await openObjectJournal(bucket, location, ME, fakeTiming());
    bucket.landThenLoseAnswer = true;
    await j.append(sending("a1/d1"));
    await j.append(sending("a1/d2"));
    await j.close();
    expect(bucket.kinds()).toBe("open entries entries close");
  });

  test("a writer that could not write for a whole lease stops sending", async () => {
    const bucket = new MemoryBucket();
    const timing = fakeTiming();
    const j = await openObjectJournal(bucket, location, ME, timing);
    await timing.sleep(10_001);
    await expect(j.append(sending("a1/d1"))).rejects.toThrow(
      "could not be written for more than its lease (10 s), so another update may have taken it over",
    );
    expect(bucket.kinds()).toBe("open");
  });

  test(`a writer that wrote ${COMPACT_AFTER_SEGMENTS} segments closes with a snapshot; the next deletes what the one before covered`, async () => {
    const bucket = new MemoryBucket();
    const fill = async (from: number) => {
      const j = await openObjectJournal(bucket, location, ME, fakeTiming());
      for (let i = from; i < from + COMPACT_AFTER_SEGMENTS; i++) await j.append(sending(`a1/d${i}`));
      await j.close();
    };
    const snapshots = () => [...bucket.objects.keys()].filter((k) => k.includes("/snap-")).sort();
    const segments = () => [...bucket.objects.keys()].filter((k) => k.includes("/seg-")).sort();
    // Segment 1 opens, 2–65 hold entries: snapshot 65, then the close (66).
    await fill(0);
    expect(snapshots()).toEqual([`${FOLDER}snap-000000000065.jsonl`]);
    expect(segments()).toHaveLength(66);
    // 67 opens, 68–131 hold entries: snapshot 131; segments 1–65 go (snapshot 65 holds them), the rest stay for a
    // reader that listed before snapshot 131.
    await fill(COMPACT_AFTER_SEGMENTS);
    expect(snapshots()).toEqual([`${FOLDER}snap-000000000065.jsonl`, `${FOLDER}snap-000000000131.jsonl`]);
    expect(segments()[0]).toBe(`${FOLDER}seg-000000000066.jsonl`);
    expect(segments()).toHaveLength(132 - 65);
    // The next opening reads the snapshot and the one segment after it.
    bucket.calls.length = 0;
    const j = await openObjectJournal(bucket, location, ME, fakeTiming());
    expect(bucket.calls.filter((c) => c.startsWith("GET"))).toEqual([
      `GET ${FOLDER}snap-000000000131.jsonl`,
      `GET ${FOLDER}seg-000000000132.jsonl`,
    ]);
    expect(j.size).toBe(2 * COMPACT_AFTER_SEGMENTS);
    expect(j.lookup(SCOPE, "a1/d0")).toMatchObject({ status: "sending" });
    await j.close();
  });

  test("a snapshot keeps every campaign of a device, the latest last: a campaign gone back to still finds its reset", async () => {
    const bucket = new MemoryBucket();
    const j = await openObjectJournal(bucket, location, ME, fakeTiming());
    for (let i = 0; i < COMPACT_AFTER_SEGMENTS; i++) {
      const scope = `campaign "c${i % 2}"`;
      await j.append({ ev: "sending", at: "t1", scope, device: "a1/d", attempt: 1 });
      await j.append({ ev: "reset", at: "t2", scope, device: "a1/d", requestId: `R${i}` });
    }
    await j.close();
    const snapshot = [...bucket.objects.keys()].find((k) => k.includes("/snap-")) as string;
    const lines = (bucket.objects.get(snapshot) as string).trim().split("\n").slice(1);
    expect(lines.map((l) => (JSON.parse(l) as { scope: string }).scope)).toEqual(['campaign "c0"', 'campaign "c1"']);
    const again = await openObjectJournal(bucket, location, ME, fakeTiming());
    expect(again.lookup('campaign "c0"', "a1/d")).toMatchObject({
      status: "reset",
      requestId: `R${COMPACT_AFTER_SEGMENTS - 2}`,
    });
    expect(again.lookup('campaign "c1"', "a1/d")).toMatchObject({
      status: "reset",
      requestId: `R${COMPACT_AFTER_SEGMENTS - 1}`,
    });
    await again.close();
  });

  test(`an opening that finds ${COMPACT_AFTER_SEGMENTS} segments after the snapshot (a writer that never closed) writes one`, async () => {
    const bucket = new MemoryBucket();
    const lost = await openObjectJournal(bucket, location, ME, fakeTiming());
    for (let i = 0; i < COMPACT_AFTER_SEGMENTS; i++) await lost.append(sending(`a1/d${i}`));
    const j = await openObjectJournal(bucket, location, ME, fakeTiming());
    // Segments 1–65 of the lost writer, then this opening's claim (66) and its snapshot of everything before.
    expect([...bucket.objects.keys()].filter((k) => k.includes("/snap-"))).toEqual([
      `${FOLDER}snap-000000000066.jsonl`,
    ]);
    expect(j.size).toBe(COMPACT_AFTER_SEGMENTS);
    await j.close();
  });

  test("a missing segment, a foreign object and another stack's segment are refused, naming the object", async () => {
    const bucket = new MemoryBucket();
    const j = await openObjectJournal(bucket, location, ME, fakeTiming());
    await j.append(sending("a1/d1"));
    await j.close();
    const two = `${FOLDER}seg-000000000002.jsonl`;
    const text = bucket.objects.get(two) as string;

    bucket.objects.delete(two);
    await expect(openObjectJournal(bucket, location, ME, fakeTiming())).rejects.toThrow(
      `The reset journal s3://journals/${FOLDER} lacks segment 2 (2 segments after the start); it is refused rather ` +
        `than read in part, and no reset is sent. Restore the object seg-000000000002.jsonl`,
    );
    bucket.objects.set(two, "hello\n");
    await expect(openObjectJournal(bucket, location, ME, fakeTiming())).rejects.toThrow(
      `s3://journals/${FOLDER}seg-000000000002.jsonl is not a segment of pulumi-alicloud-iot-reset's journal`,
    );
    bucket.objects.set(two, text.replace('"stack":"prod"', '"stack":"dev"'));
    await expect(openObjectJournal(bucket, location, ME, fakeTiming())).rejects.toThrow(
      `belongs to project "proj", stack "dev", not to this update's project "proj", stack "prod"`,
    );
    bucket.objects.set(two, `${text}{"ev":"reset"}\n`);
    await expect(openObjectJournal(bucket, location, ME, fakeTiming())).rejects.toThrow(
      `seg-000000000002.jsonl is damaged at line 3 (\`at\`, \`scope\` or \`device\` missing)`,
    );
  });
});
