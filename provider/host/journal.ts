/**
 * The write-ahead journal of resets: one JSON-lines file per project and stack. Before each ResetThing attempt the
 * provider appends "sending" and waits until it is on disk; after the answer it appends "reset" (RequestId, JobId),
 * "failed" or "unknown". The engine records a step only when the provider returns, so what a step sent before it
 * was killed is known only here: the next create or update reads the journal and records those devices instead of
 * sending them again.
 *
 * Format (version 1): a header line `{"journal":"pulumi-alicloud-iot-reset/journal","version":1,"project",
 * "stack","created"}`, then one entry per line. Entries name a scope (the campaign or triggers, the target and the
 * instance of the resource that sent them) and a device key; for each device only its latest scope counts. A file
 * whose header is missing, of another version, or of another project or stack is refused, and so is any line that
 * is not a whole entry, except the last line when it has no newline: that is a write cut short by a crash, which
 * is dropped (the "sending" line it would follow is already on disk, so nothing sent is forgotten).
 *
 * Durability: appends are written in batches, each batch followed by one fdatasync (group commit), so that many
 * concurrent resets share one disk flush. No credential is ever written: devices, scopes, RequestIds, JobIds,
 * times and error descriptions only.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { assertNever, JournalError } from "../shared/errors";

/** The `journal` field of the header line. */
export const JOURNAL_FORMAT = "pulumi-alicloud-iot-reset/journal";
/** The format version this package writes and reads. */
export const JOURNAL_VERSION = 1;

/** Which stack a journal belongs to. */
export interface JournalIdentity {
  /** The Pulumi project name. */
  readonly project: string;
  /** The Pulumi stack name. */
  readonly stack: string;
}

/** The first line of a journal. */
export interface JournalHeader extends JournalIdentity {
  readonly journal: typeof JOURNAL_FORMAT;
  readonly version: number;
  /** When the file was started, ISO-8601. */
  readonly created: string;
}

/** What the journal knows of one device's reset in one scope. */
export interface DeviceJournalState {
  /** `sending`: sent, no answer recorded (the process stopped); `unknown`: sent, the answer was lost. */
  readonly status: "sending" | "reset" | "failed" | "unknown" | "accepted";
  /** The latest attempt sent, counted from 1. */
  readonly attempt?: number;
  /** When the latest attempt was sent, ISO-8601. */
  readonly sentAt?: string;
  /** The RequestId of the accepted reset. */
  readonly requestId?: string;
  /** The device job of the accepted reset, when the API returned one. */
  readonly jobId?: string;
  /** What came instead of an answer, for `unknown`. */
  readonly error?: string;
  /** An attempt in this scope had an unknown outcome, so a later reset may be the device's second. */
  readonly hadUnknown?: boolean;
  /** The one resend after an unknown outcome was sent. */
  readonly resent?: boolean;
}

interface Common {
  /** When the line was written, ISO-8601. */
  readonly at: string;
  /** The campaign or triggers, target and instance of the resource that wrote the line. */
  readonly scope: string;
  /** The device key: `productKey/deviceName` or `iotId:<IotId>`. */
  readonly device: string;
}

/** One line after the header. */
export type JournalEntry =
  | (Common & { readonly ev: "sending"; readonly attempt: number; readonly resend?: true })
  | (Common & { readonly ev: "reset"; readonly requestId: string; readonly jobId?: string })
  | (Common & { readonly ev: "failed"; readonly code?: string })
  | (Common & {
      readonly ev: "unknown";
      readonly attempt: number;
      readonly sentAt: string;
      readonly error: string;
      readonly resend?: true;
    })
  | (Common & { readonly ev: "accepted" })
  | (Common & { readonly ev: "released" })
  | (Common & { readonly ev: "state"; readonly state: DeviceJournalState });

/** The default journal of a stack: `.iot-reset/journal-<project>-<stack>.jsonl` in the program directory. */
export function defaultJournalPath(programDir: string, identity: JournalIdentity): string {
  const safe = (s: string) => s.replace(/[^A-Za-z0-9._-]/g, "_");
  return path.join(programDir, ".iot-reset", `journal-${safe(identity.project)}-${safe(identity.stack)}.jsonl`);
}

const isString = (v: unknown): v is string => typeof v === "string";
const isAttempt = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v >= 1;
const STATUSES = new Set(["sending", "reset", "failed", "unknown", "accepted"]);

/** Why a parsed line is not an entry, or undefined when it is one. */
function entryProblem(v: unknown): string | undefined {
  if (v === null || typeof v !== "object" || Array.isArray(v)) return "not a JSON object";
  const e = v as Record<string, unknown>;
  if (!isString(e.at) || !isString(e.scope) || !isString(e.device)) return "`at`, `scope` or `device` missing";
  switch (e.ev) {
    case "sending":
      return isAttempt(e.attempt) ? undefined : "`attempt` missing";
    case "reset":
      return isString(e.requestId) ? undefined : "`requestId` missing";
    case "unknown":
      return isAttempt(e.attempt) && isString(e.sentAt) && isString(e.error)
        ? undefined
        : "`attempt`, `sentAt` or `error` missing";
    case "failed":
    case "accepted":
    case "released":
      return undefined;
    case "state": {
      const s = e.state as Record<string, unknown> | null | undefined;
      return s !== null && typeof s === "object" && STATUSES.has(s.status as string) ? undefined : "`state` malformed";
    }
    default:
      return `unknown event ${JSON.stringify(e.ev)}`;
  }
}

/** Reads and checks a journal file without opening it for writing (for tests and tools). */
export function readJournal(file: string): { header: JournalHeader; entries: JournalEntry[]; tornBytes: number } {
  const text = fs.readFileSync(file, "utf8");
  const parsed = parse(file, text, undefined);
  if (!parsed.header) throw new JournalError(`The reset journal ${file} is empty.`);
  return { header: parsed.header, entries: parsed.entries, tornBytes: parsed.tornBytes };
}

interface Parsed {
  header?: JournalHeader;
  entries: JournalEntry[];
  /** Bytes of a last line without a newline (dropped). */
  tornBytes: number;
}

function notAJournal(file: string): JournalError {
  return new JournalError(
    `${file} is not a reset journal (its first line is not the header of pulumi-alicloud-iot-reset's journal); it is ` +
      `refused and no reset is sent. Point iotReset:journal elsewhere, or move the file away.`,
  );
}

function parse(file: string, text: string, identity: JournalIdentity | undefined): Parsed {
  const lines = text.split("\n");
  const last = lines.pop() as string;
  const tornBytes = Buffer.byteLength(last);
  if (lines.length === 0) {
    // Nothing but a header cut short by a crash (or an empty file) is started over; anything else is not ours.
    const prefix = `{"journal":${JSON.stringify(JOURNAL_FORMAT)},`;
    if (prefix.startsWith(last) || last.startsWith(prefix)) return { entries: [], tornBytes };
    throw notAJournal(file);
  }
  let header: unknown;
  try {
    header = JSON.parse(lines[0] as string);
  } catch {
    header = undefined;
  }
  const h = (header ?? {}) as Partial<JournalHeader>;
  if (h.journal !== JOURNAL_FORMAT) {
    throw notAJournal(file);
  }
  if (h.version !== JOURNAL_VERSION) {
    throw new JournalError(
      `The reset journal ${file} has format version ${String(h.version)}; this version of pulumi-alicloud-iot-reset ` +
        `reads version ${JOURNAL_VERSION}. It is refused and no reset is sent: upgrade the package.`,
    );
  }
  if (!isString(h.project) || !isString(h.stack) || !isString(h.created)) {
    throw new JournalError(`The reset journal ${file} has a header without project, stack or time; it is refused.`);
  }
  if (identity && (h.project !== identity.project || h.stack !== identity.stack)) {
    throw new JournalError(
      `The reset journal ${file} belongs to project "${h.project}", stack "${h.stack}", not to this update's project ` +
        `"${identity.project}", stack "${identity.stack}"; it is refused and no reset is sent. Point iotReset:journal at ` +
        `this stack's journal, or move the file away if it was copied here by mistake.`,
    );
  }
  const entries: JournalEntry[] = [];
  for (let i = 1; i < lines.length; i++) {
    let value: unknown;
    let problem: string | undefined;
    try {
      value = JSON.parse(lines[i] as string);
      problem = entryProblem(value);
    } catch (err) {
      problem = `not JSON: ${(err as Error).message}`;
    }
    if (problem) {
      throw new JournalError(
        `The reset journal ${file} is damaged at line ${i + 1} (${problem}); it is refused rather than read in part, ` +
          `and no reset is sent. Restore the file from the pipeline's cache or artifact. If it cannot be restored, move ` +
          `it aside: the next update then knows only what state records, not what an interrupted update sent.`,
      );
    }
    entries.push(value as JournalEntry);
  }
  return { header: h as JournalHeader, entries, tornBytes };
}

/** The state of one device after one more entry; undefined when the entry releases it. */
function apply(
  current: { scope: string; state: DeviceJournalState } | undefined,
  e: JournalEntry,
): { scope: string; state: DeviceJournalState } | undefined {
  if (e.ev === "released") return current && current.scope !== e.scope ? current : undefined;
  if (e.ev === "state") return { scope: e.scope, state: e.state };
  // An entry of another scope starts the device afresh: only its latest scope counts.
  const prev: DeviceJournalState | undefined = current?.scope === e.scope ? current.state : undefined;
  const carried = {
    ...(prev?.hadUnknown ? { hadUnknown: true } : {}),
    ...(prev?.resent ? { resent: true } : {}),
  };
  let state: DeviceJournalState;
  switch (e.ev) {
    case "sending":
      state = {
        ...carried,
        status: "sending",
        attempt: e.attempt,
        sentAt: e.at,
        ...(e.resend ? { resent: true, hadUnknown: true } : {}),
      };
      break;
    case "reset":
      state = {
        ...carried,
        status: "reset",
        ...(prev?.attempt !== undefined ? { attempt: prev.attempt } : {}),
        sentAt: prev?.sentAt ?? e.at,
        requestId: e.requestId,
        ...(e.jobId !== undefined ? { jobId: e.jobId } : {}),
      };
      break;
    case "failed":
      state = { ...carried, status: "failed" };
      break;
    case "unknown":
      state = {
        ...carried,
        status: "unknown",
        attempt: e.attempt,
        sentAt: e.sentAt,
        error: e.error,
        hadUnknown: true,
        ...(e.resend ? { resent: true } : {}),
      };
      break;
    case "accepted":
      state = { ...carried, status: "accepted", ...(prev?.sentAt !== undefined ? { sentAt: prev.sentAt } : {}) };
      break;
    default:
      return assertNever(e, "journal entry");
  }
  return { scope: e.scope, state };
}

/** Journals open in this process, by absolute path: one writer per file. */
const openJournals = new Map<string, Journal>();
let exitHookInstalled = false;

/**
 * Opens (creating it when missing) the journal at `file` for `identity`, or returns the one this process already
 * has open. Throws JournalError for a file that is corrupt, foreign, or in use by another live process.
 */
export function openJournal(file: string, identity: JournalIdentity): Journal {
  const abs = path.resolve(file);
  const existing = openJournals.get(abs);
  if (existing) {
    if (existing.identity.project !== identity.project || existing.identity.stack !== identity.stack) {
      throw new JournalError(`The reset journal ${abs} is already open in this process for another stack.`);
    }
    return existing;
  }
  const journal = Journal.open(abs, identity);
  openJournals.set(abs, journal);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on("exit", () => {
      for (const j of openJournals.values()) j.releaseLockSync();
    });
  }
  return journal;
}

/** A journal open for appending, with the latest state of every device it names. */
export class Journal {
  private readonly devices = new Map<string, { scope: string; state: DeviceJournalState }>();
  private pending: string[] = [];
  private waiters: Array<{ resolve: () => void; reject: (err: Error) => void }> = [];
  private draining = false;
  /** Counts since the journal was opened: batches written (one fdatasync each), lines, and time spent writing them. */
  readonly stats = { batches: 0, lines: 0, writeMs: 0 };
  private broken: JournalError | undefined;
  private closed = false;

  private constructor(
    /** The absolute path of the file. */
    readonly path: string,
    /** The project and stack in its header. */
    readonly identity: JournalIdentity,
    private readonly fd: number,
    private readonly lockPath: string,
  ) {}

  /** @internal Use openJournal. */
  static open(file: string, identity: JournalIdentity): Journal {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const lockPath = takeLock(file);
    try {
      let text = "";
      try {
        text = fs.readFileSync(file, "utf8");
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      }
      const parsed = parse(file, text, identity);
      const live = new Map<string, { scope: string; state: DeviceJournalState }>();
      for (const e of parsed.entries) {
        const next = apply(live.get(e.device), e);
        if (next) live.set(e.device, next);
        else live.delete(e.device);
      }
      const created = parsed.header?.created ?? new Date().toISOString();
      if (!parsed.header) {
        // A new file, or one whose header line was cut short by a crash: start it over.
        writeAtomically(file, headerLine(identity, created));
      } else if (parsed.entries.length > 1000 && parsed.entries.length > 2 * live.size) {
        // Mostly superseded lines: rewrite the file with one line per device it still knows of.
        const at = new Date().toISOString();
        const lines = [...live].map(([device, { scope, state }]) =>
          JSON.stringify({ ev: "state", at, scope, device, state } satisfies JournalEntry),
        );
        writeAtomically(file, headerLine(identity, created) + lines.map((l) => `${l}\n`).join(""));
      } else if (parsed.tornBytes > 0) {
        fs.truncateSync(file, Buffer.byteLength(text) - parsed.tornBytes);
      }
      const fd = fs.openSync(file, "a");
      const journal = new Journal(file, identity, fd, lockPath);
      for (const [device, entry] of live) journal.devices.set(device, entry);
      return journal;
    } catch (err) {
      fs.rmSync(lockPath, { force: true });
      if (err instanceof JournalError) throw err;
      throw new JournalError(
        `The reset journal ${file} cannot be opened (${(err as Error).message}); no reset is sent.`,
      );
    }
  }

  /** What the journal says of `device` in `scope`; undefined when its latest scope is another, or it has none. */
  lookup(scope: string, device: string): DeviceJournalState | undefined {
    const entry = this.devices.get(device);
    return entry && entry.scope === scope ? entry.state : undefined;
  }

  /** False once closed. */
  get isOpen(): boolean {
    return !this.closed;
  }

  /** How many devices the journal knows of (in their latest scope). */
  get size(): number {
    return this.devices.size;
  }

  /**
   * Appends an entry; resolves once it is on disk. The in-memory state changes at once. After a write error every
   * append rejects with the same JournalError.
   */
  append(entry: JournalEntry): Promise<void> {
    if (this.broken) return Promise.reject(this.broken);
    if (this.closed) return Promise.reject(new JournalError(`The reset journal ${this.path} is closed.`));
    const next = apply(this.devices.get(entry.device), entry);
    if (next) this.devices.set(entry.device, next);
    else this.devices.delete(entry.device);
    this.pending.push(`${JSON.stringify(entry)}\n`);
    return this.barrier();
  }

  /** Resolves once everything appended so far is on disk; rejects if a write failed. */
  flush(): Promise<void> {
    if (this.broken) return Promise.reject(this.broken);
    if (this.pending.length === 0 && !this.draining) return Promise.resolve();
    return this.barrier();
  }

  /** Flushes, closes the file and releases the lock; this process may then open it again. */
  async close(): Promise<void> {
    if (this.closed) return;
    try {
      await this.flush();
    } finally {
      this.closed = true;
      openJournals.delete(this.path);
      fs.closeSync(this.fd);
      this.releaseLockSync();
    }
  }

  /** @internal Removes the lock file if this process holds it (at exit). */
  releaseLockSync(): void {
    try {
      const holder = JSON.parse(fs.readFileSync(this.lockPath, "utf8")) as { pid?: unknown };
      if (holder.pid === process.pid) fs.rmSync(this.lockPath, { force: true });
    } catch {
      // Already gone.
    }
  }

  private barrier(): Promise<void> {
    const done = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    if (!this.draining) {
      this.draining = true;
      void this.drain();
    }
    return done;
  }

  /** Writes what is pending, one write and one fdatasync per batch, until nothing is left. */
  private async drain(): Promise<void> {
    for (;;) {
      if (this.waiters.length === 0) {
        // Cleared in the same step that saw nothing left, so an append that follows starts a new drain.
        this.draining = false;
        return;
      }
      const lines = this.pending.length;
      const text = this.pending.join("");
      const waiters = this.waiters;
      this.pending = [];
      this.waiters = [];
      try {
        if (text !== "") {
          const started = performance.now();
          await writeAll(this.fd, Buffer.from(text, "utf8"));
          await new Promise<void>((resolve, reject) => fs.fdatasync(this.fd, (err) => (err ? reject(err) : resolve())));
          this.stats.batches++;
          this.stats.lines += lines;
          this.stats.writeMs += performance.now() - started;
        }
        for (const w of waiters) w.resolve();
      } catch (err) {
        this.broken = new JournalError(
          `The reset journal ${this.path} cannot be written (${(err as Error).message}); no further reset is sent in ` +
            `this update.`,
        );
        for (const w of [...waiters, ...this.waiters]) w.reject(this.broken);
        this.waiters = [];
        this.pending = [];
        this.draining = false;
        return;
      }
    }
  }
}

function headerLine(identity: JournalIdentity, created: string): string {
  const header: JournalHeader = {
    journal: JOURNAL_FORMAT,
    version: JOURNAL_VERSION,
    project: identity.project,
    stack: identity.stack,
    created,
  };
  return `${JSON.stringify(header)}\n`;
}

async function writeAll(fd: number, data: Buffer): Promise<void> {
  let offset = 0;
  while (offset < data.length) {
    offset += await new Promise<number>((resolve, reject) =>
      fs.write(fd, data, offset, data.length - offset, null, (err, n) => (err ? reject(err) : resolve(n))),
    );
  }
}

/** Replaces `file` with `text`: a synced temporary file renamed over it, then the directory synced. */
function writeAtomically(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = fs.openSync(tmp, "w");
  try {
    fs.writeSync(fd, text);
    fs.fdatasyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  syncDirectory(path.dirname(file));
}

function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, "r");
    fs.fsyncSync(fd);
  } catch {
    // Some platforms cannot sync a directory; the rename is still atomic.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/**
 * Takes `<file>.lock` for this process. A lock left by a process that is gone (or on another machine: a cache
 * restored from elsewhere) is taken over; one held by a live process on this machine is refused, since two
 * writers would each send what the other is sending.
 */
function takeLock(file: string): string {
  const lockPath = `${file}.lock`;
  const mine = JSON.stringify({ pid: process.pid, host: os.hostname(), since: new Date().toISOString() });
  for (let tries = 0; tries < 3; tries++) {
    try {
      fs.writeFileSync(lockPath, mine, { flag: "wx" });
      return lockPath;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") {
        throw new JournalError(
          `The reset journal ${file} cannot be locked (${(err as Error).message}); no reset is sent.`,
        );
      }
    }
    let holder: { pid?: unknown; host?: unknown } = {};
    try {
      holder = JSON.parse(fs.readFileSync(lockPath, "utf8")) as typeof holder;
    } catch {
      // Unreadable or just removed: stale.
    }
    if (
      typeof holder.pid === "number" &&
      holder.pid !== process.pid &&
      holder.host === os.hostname() &&
      isAlive(holder.pid)
    ) {
      throw new JournalError(
        `The reset journal ${file} is in use by process ${holder.pid} on this machine (an update still running, or the ` +
          `provider process of an update that was killed). Stop that process, then run the update again; no reset is sent.`,
      );
    }
    fs.rmSync(lockPath, { force: true });
  }
  throw new JournalError(`The reset journal ${file} could not be locked; no reset is sent.`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
