/**
 * The reset journal in an object store, beside the state, so that a pipeline's next runner knows what a lost
 * runner sent. After Delta Lake's log and SlateDB's write-ahead log: the journal is a folder of immutable,
 * numbered segment objects, each written with a create-only conditional write, and a snapshot now and then.
 *
 *   <prefix>/journal-<project>-<stack>/seg-000000000007.jsonl   a segment: its header line, then entries
 *   <prefix>/journal-<project>-<stack>/snap-000000000005.jsonl  the state after segment 5: a header, `state` lines
 *
 * One writer at a time. A writer opens the journal by creating the next segment (an `open` segment naming it);
 * every later batch of lines is the next segment. Two writers that race collide on a segment number: the one whose
 * create finds the key taken stops before it sends anything (fencing), and names the other. A writer that finds
 * the last segment's writer still open (no `close` segment: an update under way, or a runner that was lost) waits
 * up to one lease for a new segment: one appears → that writer is alive, and this update stops; none → it was
 * lost, and this update takes the journal over. A live writer writes at least every third of its lease (a `beat`
 * segment when it has nothing else to write), and stops sending once it could not write for a whole lease, since
 * another update may then have taken over. A create retried after its first attempt landed finds its own bytes
 * there (the writer id is inside the segment) and counts as written.
 */
import { randomUUID } from "node:crypto";
import * as os from "node:os";
import { JournalError } from "../shared/errors";
import {
  headerLine,
  Journal,
  JOURNAL_FORMAT,
  JOURNAL_VERSION,
  JournalEntry,
  JournalIdentity,
  JournalSink,
  LiveDevices,
  parseEntries,
  parseJournal,
  replay,
  stateLines,
} from "./journal";
import type { BucketLocation } from "./journal-location";
import * as log from "./log";

/** The object calls the journal makes; an S3 or OSS client behind it. */
export interface ObjectBucket {
  /** Creates `key` holding `body` unless the key exists; retries transient errors itself. */
  putIfAbsent(key: string, body: string): Promise<"created" | "exists">;
  /** The object's text, or undefined when there is none. */
  get(key: string): Promise<string | undefined>;
  /** The keys under `prefix`, every page of them. */
  list(prefix: string): Promise<string[]>;
  /** Removes `key`; no error when it is gone. */
  delete(key: string): Promise<void>;
  /** Throws a JournalError naming the bucket when it cannot hold a journal (e.g. create-only writes do not hold). */
  check(): Promise<void>;
}

/** Who writes a journal: one provider process of one update. */
export interface JournalWriter {
  /** Random, new for each opening. */
  readonly id: string;
  /** The machine (a runner's host name). */
  readonly host: string;
  /** The provider process. */
  readonly pid: number;
  /** When it opened the journal, ISO-8601. */
  readonly since: string;
}

/** What a segment is for: opening, entries, a heartbeat, or the writer's release of the journal. */
type SegmentKind = "open" | "entries" | "beat" | "close";

/** The first line of a segment. */
interface SegmentHeader {
  readonly journal: typeof JOURNAL_FORMAT;
  readonly version: number;
  readonly project: string;
  readonly stack: string;
  readonly segment: number;
  readonly kind: SegmentKind;
  readonly writer: JournalWriter;
  readonly at: string;
}

/** A snapshot is written when an opening finds, or a closing writer wrote, this many segments after the latest one. */
export const COMPACT_AFTER_SEGMENTS = 64;
/**
 * How long a batch of journal lines waits for more before it becomes a segment. At 500 resets a second, 10 ms more
 * per reset's "sending" line halves the PUTs of a rollout (and the provider's CPU for them); the rate is unchanged,
 * since the pacer goes on granting while a segment is written.
 */
export const SEGMENT_LINGER_MS = 10;
/** Segments and snapshots read at once while opening. */
const READ_CONCURRENCY = 16;

const SEGMENT = /^seg-(\d{12})\.jsonl$/;
const SNAPSHOT = /^snap-(\d{12})\.jsonl$/;
const pad = (n: number) => String(n).padStart(12, "0");

/** Clocks and waits, replaceable in tests. */
export interface ObjectJournalTiming {
  /** Milliseconds, monotonic. */
  now(): number;
  /** Waits `ms`. */
  sleep(ms: number): Promise<void>;
}

const realTiming: ObjectJournalTiming = {
  now: () => performance.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/** The folder of one stack's journal in the bucket, e.g. `pipelines/journal-fleet-prod/`. */
export function journalFolder(location: BucketLocation, identity: JournalIdentity): string {
  const safe = (s: string) => s.replace(/[^A-Za-z0-9._-]/g, "_");
  const base = `journal-${safe(identity.project)}-${safe(identity.stack)}/`;
  return location.prefix ? `${location.prefix}/${base}` : base;
}

function describeWriter(w: JournalWriter): string {
  return `writer ${w.id} (host ${w.host}, process ${w.pid}, open since ${w.since})`;
}

interface Loaded {
  readonly live: LiveDevices;
  /** The last segment's number and header; undefined for a journal without segments. */
  readonly last?: { readonly seq: number; readonly header: SegmentHeader };
  /** The latest snapshot's segment number (0 when none). */
  readonly snapshot: number;
  /** Segments after the snapshot. */
  readonly pending: number;
  /** When the journal was started. */
  readonly created: string;
}

/**
 * Opens the journal in a bucket for `identity`, as its one writer. Throws a JournalError, before anything is sent,
 * when another update writes it, when it is damaged or foreign, or when the bucket cannot hold it.
 */
export async function openObjectJournal(
  bucket: ObjectBucket,
  location: BucketLocation,
  identity: JournalIdentity,
  timing: ObjectJournalTiming = realTiming,
): Promise<Journal> {
  const folder = journalFolder(location, identity);
  const where = `${location.kind}://${location.bucket}/${folder}`;
  await bucket.check();
  const me: JournalWriter = {
    id: randomUUID(),
    host: os.hostname(),
    pid: process.pid,
    since: new Date().toISOString(),
  };
  const reader = new SegmentReader(bucket, folder, where, identity);
  for (let tries = 0; ; tries++) {
    const loaded = await reader.load();
    const last = loaded.last;
    if (last && last.header.kind !== "close") {
      await waitOutLease(reader, where, last, location.leaseMs, timing);
    }
    const sink = new ObjectSink(
      bucket,
      folder,
      where,
      identity,
      me,
      (last?.seq ?? loaded.snapshot) + 1,
      location.leaseMs,
      timing,
    );
    const claimed = await sink.claim();
    if (claimed !== "created") {
      // Another update opened the journal between our read and our claim.
      if (tries < 1 && claimed.kind === "close") continue;
      throw inUse(where, claimed);
    }
    const header = headerLine(identity, loaded.created);
    if (loaded.pending >= COMPACT_AFTER_SEGMENTS) {
      await compact(bucket, folder, where, header, loaded.live, sink.claimedSeq, loaded.snapshot);
      sink.snapshotAt(sink.claimedSeq, header);
    } else sink.snapshotAt(loaded.snapshot, header);
    sink.startHeartbeat();
    return new Journal(identity, sink, loaded.live);
  }
}

function inUse(where: string, other: SegmentHeader): JournalError {
  return new JournalError(
    `The reset journal ${where} is in use by another update of this stack: ${describeWriter(other.writer)} wrote ` +
      `its segment ${other.segment} at ${other.at}. This update stops before sending any reset, since two writers would ` +
      `each send what the other is sending. Let the other update finish (or, if its runner is gone, run this update ` +
      `again once it has written nothing for a lease), and keep one update per stack at a time in the pipeline.`,
  );
}

/**
 * The last segment's writer never closed the journal: wait up to one lease for it to write again. It writes → it is
 * alive, and this update stops; it stays silent → it was lost, and this update takes over.
 */
async function waitOutLease(
  reader: SegmentReader,
  where: string,
  last: { seq: number; header: SegmentHeader },
  leaseMs: number,
  timing: ObjectJournalTiming,
): Promise<void> {
  const started = timing.now();
  log.info(
    `the reset journal ${where} is open by ${describeWriter(last.header.writer)}, last written at ${last.header.at}; ` +
      `waiting up to ${Math.round(leaseMs / 1000)} s for it to write again (an update under way) or not (a lost runner)`,
  );
  const poll = Math.max(200, Math.min(2_000, leaseMs / 10));
  while (timing.now() - started < leaseMs) {
    await timing.sleep(poll);
    const newer = await reader.header(last.seq + 1);
    if (newer) {
      if (newer.kind === "close" && newer.writer.id === last.header.writer.id) return;
      throw inUse(where, newer);
    }
  }
  log.warn(
    `the reset journal ${where} was left open by ${describeWriter(last.header.writer)}, which wrote nothing for ` +
      `${Math.round(leaseMs / 1000)} s (a runner lost mid-update); this update takes it over. What that update sent ` +
      `and did not record is in the journal: those devices are not sent again.`,
  );
}

/** Reads a journal's folder: the latest snapshot, then every segment after it. */
class SegmentReader {
  constructor(
    private readonly bucket: ObjectBucket,
    private readonly folder: string,
    private readonly where: string,
    private readonly identity: JournalIdentity,
  ) {}

  /** The header of segment `seq`, or undefined when there is none. */
  async header(seq: number): Promise<SegmentHeader | undefined> {
    const key = `${this.folder}seg-${pad(seq)}.jsonl`;
    // Listed first: S3 answers a GET of a missing key 403, not 404, to a role whose list grant has conditions.
    if (!(await this.bucket.list(key)).includes(key)) return undefined;
    const text = await this.bucket.get(key);
    return text === undefined ? undefined : this.parseSegment(seq, text).header;
  }

  async load(): Promise<Loaded> {
    // A compaction may delete what a listing named: read again from the listing.
    for (let tries = 0; ; tries++) {
      const loaded = await this.tryLoad();
      if (loaded) return loaded;
      if (tries >= 4) {
        throw new JournalError(
          `The reset journal ${this.where} changed while it was read, five times over; no reset is sent. Run the update ` +
            `again; if this persists, another process is rewriting the journal's folder.`,
        );
      }
    }
  }

  private async tryLoad(): Promise<Loaded | undefined> {
    const names = (await this.bucket.list(this.folder)).map((key) => key.slice(this.folder.length));
    const numbers = (re: RegExp) =>
      names
        .map((n) => re.exec(n)?.[1])
        .filter((n): n is string => n !== undefined)
        .map(Number)
        .sort((a, b) => a - b);
    const snapshots = numbers(SNAPSHOT);
    const segments = numbers(SEGMENT);
    const snapshot = snapshots.at(-1) ?? 0;
    const after = segments.filter((n) => n > snapshot);
    const gap = after.findIndex((n, i) => n !== snapshot + 1 + i);
    if (gap >= 0) {
      const missing = snapshot + 1 + gap;
      throw new JournalError(
        `The reset journal ${this.where} lacks segment ${missing} (${after.length} segments after ` +
          `${snapshot ? `snapshot ${snapshot}` : "the start"}); it is refused rather than read in part, and no reset is ` +
          `sent. Restore the object seg-${pad(missing)}.jsonl (from the bucket's versions or a backup).`,
      );
    }
    let live: LiveDevices = new Map();
    let created: string | undefined;
    if (snapshot > 0) {
      const text = await this.bucket.get(`${this.folder}snap-${pad(snapshot)}.jsonl`);
      if (text === undefined) return undefined;
      const parsed = parseJournal(`${this.where}snap-${pad(snapshot)}.jsonl`, text, this.identity);
      live = replay(parsed.entries);
      created = parsed.header?.created;
    }
    const texts = await readAll(after, (n) => this.bucket.get(`${this.folder}seg-${pad(n)}.jsonl`));
    if (texts.some((t) => t === undefined)) return undefined;
    let last: Loaded["last"];
    for (let i = 0; i < after.length; i++) {
      const seq = after[i] as number;
      const { header, entries } = this.parseSegment(seq, texts[i] as string);
      replay(entries, live);
      created ??= header.at;
      last = { seq, header };
    }
    return {
      live,
      ...(last ? { last } : {}),
      snapshot,
      pending: after.length,
      created: created ?? new Date().toISOString(),
    };
  }

  private parseSegment(seq: number, text: string): { header: SegmentHeader; entries: JournalEntry[] } {
    const name = `${this.where}seg-${pad(seq)}.jsonl`;
    const lines = text.split("\n");
    if (lines.at(-1) === "") lines.pop();
    let header: Partial<SegmentHeader> = {};
    try {
      header = JSON.parse(lines[0] ?? "") as Partial<SegmentHeader>;
    } catch {
      // Reported below.
    }
    if (header.journal !== JOURNAL_FORMAT || header.segment !== seq || typeof header.writer?.id !== "string") {
      throw new JournalError(
        `${name} is not a segment of pulumi-alicloud-iot-reset's journal; it is refused and no reset is sent. Point ` +
          `iotReset:journal at a folder of its own.`,
      );
    }
    if (header.version !== JOURNAL_VERSION) {
      throw new JournalError(
        `The reset journal ${name} has format version ${String(header.version)}; this version of ` +
          `pulumi-alicloud-iot-reset reads version ${JOURNAL_VERSION}. It is refused and no reset is sent: upgrade the package.`,
      );
    }
    if (header.project !== this.identity.project || header.stack !== this.identity.stack) {
      throw new JournalError(
        `The reset journal ${name} belongs to project "${header.project}", stack "${header.stack}", not to this ` +
          `update's project "${this.identity.project}", stack "${this.identity.stack}"; it is refused and no reset is sent.`,
      );
    }
    const entries = parseEntries(
      lines.slice(1),
      2,
      (line, problem) =>
        new JournalError(
          `The reset journal ${name} is damaged at line ${line} (${problem}); it is refused rather than read in part, ` +
            `and no reset is sent. Restore the object from the bucket's versions or a backup.`,
        ),
    );
    return { header: header as SegmentHeader, entries };
  }
}

/** `read` of every item, a few at a time, in order. */
async function readAll<T, R>(items: readonly T[], read: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await read(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(READ_CONCURRENCY, items.length) }, worker));
  return out;
}

/**
 * Writes the state after segment `at` as a snapshot, then deletes what the snapshot before it (`previous`) covered and
 * the snapshots before that one. What `previous` covers beyond them stays until the next compaction, so a reader that
 * listed before this snapshot still finds its segments.
 */
async function compact(
  bucket: ObjectBucket,
  folder: string,
  where: string,
  header: string,
  live: LiveDevices,
  at: number,
  previous: number,
): Promise<void> {
  try {
    await bucket.putIfAbsent(
      `${folder}snap-${pad(at)}.jsonl`,
      header +
        stateLines(live)
          .map((l) => `${l}\n`)
          .join(""),
    );
    const stale = (await bucket.list(folder)).filter((key) => {
      const name = key.slice(folder.length);
      const segment = SEGMENT.exec(name)?.[1];
      const snapshot = SNAPSHOT.exec(name)?.[1];
      return (
        (segment !== undefined && Number(segment) <= previous) ||
        (snapshot !== undefined && Number(snapshot) < previous)
      );
    });
    await readAll(stale, (key) => bucket.delete(key));
  } catch (err) {
    // The segments still hold everything; the next opening tries again.
    log.warn(`the reset journal ${where} was not compacted (${(err as Error).message})`);
  }
}

/** Writes a journal's batches as segments, as its one writer, with a heartbeat while it is open. */
class ObjectSink implements JournalSink {
  readonly lingerMs = SEGMENT_LINGER_MS;
  private lost: JournalError | undefined;
  /** When the last segment that landed was started: the lease runs from there. */
  private lastWritten: number;
  private chain: Promise<unknown> = Promise.resolve();
  private heartbeat: NodeJS.Timeout | undefined;
  private closed = false;
  /** The segment that opens the journal for this writer. */
  readonly claimedSeq: number;
  /** The latest snapshot (0 for none), and the header line of the next one. */
  private snapshot = 0;
  private snapshotHeader = "";

  constructor(
    private readonly bucket: ObjectBucket,
    private readonly folder: string,
    readonly location: string,
    private readonly identity: JournalIdentity,
    private readonly writer: JournalWriter,
    private next: number,
    private readonly leaseMs: number,
    private readonly timing: ObjectJournalTiming,
  ) {
    this.claimedSeq = next;
    this.lastWritten = timing.now();
  }

  /** Creates the `open` segment: "created", or the header of the segment another writer created there first. */
  claim(): Promise<"created" | SegmentHeader> {
    return this.put("open", "");
  }

  write(text: string): Promise<void> {
    return this.serial(async () => {
      if (this.lost) throw this.lost;
      if (this.timing.now() - this.lastWritten > this.leaseMs) {
        this.lost = new JournalError(
          `The reset journal ${this.location} could not be written for more than its lease ` +
            `(${Math.round(this.leaseMs / 1000)} s), so another update may have taken it over; no further reset is sent ` +
            `in this update. Run \`pulumi up\` again: it reads what this update recorded.`,
        );
        throw this.lost;
      }
      const result = await this.put("entries", text);
      if (result !== "created") throw this.takenOver(result);
    });
  }

  /** The latest snapshot once the journal is open, and the header a snapshot written at closing starts with. */
  snapshotAt(seq: number, header: string): void {
    this.snapshot = seq;
    this.snapshotHeader = header;
  }

  /** Writes a `beat` segment every third of the lease in which nothing else was written. */
  startHeartbeat(): void {
    const every = this.leaseMs / 3;
    this.heartbeat = setInterval(() => {
      if (this.lost || this.closed || this.timing.now() - this.lastWritten < every) return;
      void this.serial(async () => {
        const result = await this.put("beat", "");
        if (result !== "created") this.takenOver(result);
      }).catch((err: Error) => {
        if (!(err instanceof JournalError))
          log.warn(`the reset journal ${this.location}: heartbeat failed (${err.message})`);
      });
    }, every);
    this.heartbeat.unref();
  }

  /**
   * Releases the journal with a `close` segment; after a long update, first writes a snapshot of `live` (everything
   * up to the last segment, all of it written by now), so the next opening reads one object instead of thousands.
   */
  async close(live?: LiveDevices): Promise<void> {
    this.closed = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    await this.serial(async () => {
      if (this.lost) return;
      const last = this.next - 1;
      if (live && last - this.snapshot >= COMPACT_AFTER_SEGMENTS) {
        await compact(this.bucket, this.folder, this.location, this.snapshotHeader, live, last, this.snapshot);
      }
      const result = await this.put("close", "");
      if (result !== "created") this.takenOver(result);
    }).catch((err: Error) => {
      // The next update waits out the lease instead of finding the journal released.
      log.warn(`the reset journal ${this.location} was not released (${err.message})`);
    });
  }

  private takenOver(other: SegmentHeader): JournalError {
    this.lost ??= new JournalError(
      `The reset journal ${this.location} was taken over by ${describeWriter(other.writer)} (its segment ` +
        `${other.segment}, at ${other.at}), so this update sends no further reset: two writers would each send what ` +
        `the other is sending. Keep one update per stack at a time; the other update records what this one sent.`,
    );
    return this.lost;
  }

  private serial<T>(run: () => Promise<T>): Promise<T> {
    const result = this.chain.then(run);
    this.chain = result.catch(() => undefined);
    return result;
  }

  /** Creates the next segment: "created" (also when a retried create finds its own bytes), or the other's header. */
  private async put(kind: SegmentKind, text: string): Promise<"created" | SegmentHeader> {
    const seq = this.next;
    const header: SegmentHeader = {
      journal: JOURNAL_FORMAT,
      version: JOURNAL_VERSION,
      project: this.identity.project,
      stack: this.identity.stack,
      segment: seq,
      kind,
      writer: this.writer,
      at: new Date().toISOString(),
    };
    const body = `${JSON.stringify(header)}\n${text}`;
    const key = `${this.folder}seg-${pad(seq)}.jsonl`;
    const started = this.timing.now();
    if ((await this.bucket.putIfAbsent(key, body)) === "exists") {
      const there = await this.bucket.get(key);
      if (there !== body) {
        const other = there === undefined ? undefined : (JSON.parse(there.split("\n")[0] ?? "{}") as SegmentHeader);
        if (other?.writer?.id !== undefined) return other;
        throw new JournalError(
          `The reset journal ${this.location} holds an unreadable ${key}; no further reset is sent.`,
        );
      }
    }
    this.next = seq + 1;
    this.lastWritten = started;
    return "created";
  }
}
