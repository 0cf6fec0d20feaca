/**
 * The write-ahead journal of resets: one log per project and stack, in a local file (journal-file.ts) or in an
 * object store beside the state (journal-objects.ts). Before each ResetThing attempt the provider appends
 * "sending" and waits until it is durable; after the answer it appends "reset" (RequestId, JobId),
 * "failed" or "unknown". The engine records a step only when the provider returns, so what a step sent before it
 * was killed is known only here: the next create or update reads the journal and records those devices instead of
 * sending them again.
 *
 * Format (version 1): a header line `{"journal":"pulumi-alicloud-iot-reset/journal","version":1,"project",
 * "stack","created"}`, then one entry per line. Entries name a scope (the campaign or triggers, the target and the
 * instance of the resource that sent them) and a device key; a device's latest scope and up to `EARLIER_SCOPES` before
 * it count, so that going back to a completed campaign records its resets instead of sending them again. A file
 * whose header is missing, of another version, or of another project or stack is refused, and so is any line that
 * is not a whole entry, except the last line when it has no newline: that is a write cut short by a crash, which
 * is dropped (the "sending" line it would follow is already on disk, so nothing sent is forgotten).
 *
 * Durability: appends are written in batches, one durable write per batch (group commit: an fdatasync, or one
 * object), so that many concurrent resets share one write. No credential is ever written: devices, scopes,
 * RequestIds, JobIds, times and error descriptions only.
 */
import * as path from "node:path";
import { assertNever, JournalError } from "../shared/errors";
import { resendMarks, resendsOf } from "../shared/records";

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
  /** A resend after an unknown outcome was sent. */
  readonly resent?: boolean;
  /** How many resends were sent (a journal of 0.1 holds `resent` alone: one). */
  readonly resends?: number;
}

/** Which resend a "sending" or "unknown" line is: its number, or `true` for the first (as 0.1 wrote it). */
type Resend = number | true;

const resendNumber = (resend: Resend): number => (resend === true ? 1 : resend);

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
  | (Common & { readonly ev: "sending"; readonly attempt: number; readonly resend?: Resend })
  | (Common & { readonly ev: "reset"; readonly requestId: string; readonly jobId?: string })
  | (Common & { readonly ev: "failed"; readonly code?: string })
  | (Common & {
      readonly ev: "unknown";
      readonly attempt: number;
      readonly sentAt: string;
      readonly error: string;
      readonly resend?: Resend;
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
export function entryProblem(v: unknown): string | undefined {
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

/** A journal's text, read and checked. */
export interface Parsed {
  header?: JournalHeader;
  entries: JournalEntry[];
  /** Bytes of a last line without a newline (dropped). */
  tornBytes: number;
}

function notAJournal(where: string): JournalError {
  return new JournalError(
    `${where} is not a reset journal (its first line is not the header of pulumi-alicloud-iot-reset's journal); it is ` +
      `refused and no reset is sent. Point iotReset:journal elsewhere, or move the file away.`,
  );
}

/**
 * The entries of `lines` (whole lines, the first being line `first` of its journal); throws what `damaged` makes of
 * the first line that is not an entry, since a journal read in part could forget what was sent.
 */
export function parseEntries(
  lines: readonly string[],
  first: number,
  damaged: (line: number, problem: string) => JournalError,
): JournalEntry[] {
  return lines.map((text, i) => {
    let value: unknown;
    let problem: string | undefined;
    try {
      value = JSON.parse(text);
      problem = entryProblem(value);
    } catch (err) {
      problem = `not JSON: ${(err as Error).message}`;
    }
    if (problem) throw damaged(first + i, problem);
    return value as JournalEntry;
  });
}

/** Parses a journal's text (a file, or a snapshot): header, entries, and a torn last line; throws JournalError. */
export function parseJournal(where: string, text: string, identity: JournalIdentity | undefined): Parsed {
  const lines = text.split("\n");
  const last = lines.pop() as string;
  const tornBytes = Buffer.byteLength(last);
  if (lines.length === 0) {
    // Nothing but a header cut short by a crash (or an empty file) is started over; anything else is not ours.
    const prefix = `{"journal":${JSON.stringify(JOURNAL_FORMAT)},`;
    if (prefix.startsWith(last) || last.startsWith(prefix)) return { entries: [], tornBytes };
    throw notAJournal(where);
  }
  let header: unknown;
  try {
    header = JSON.parse(lines[0] as string);
  } catch {
    header = undefined;
  }
  const h = (header ?? {}) as Partial<JournalHeader>;
  if (h.journal !== JOURNAL_FORMAT) {
    throw notAJournal(where);
  }
  if (h.version !== JOURNAL_VERSION) {
    throw new JournalError(
      `The reset journal ${where} has format version ${String(h.version)}; this version of pulumi-alicloud-iot-reset ` +
        `reads version ${JOURNAL_VERSION}. It is refused and no reset is sent: upgrade the package.`,
    );
  }
  if (!isString(h.project) || !isString(h.stack) || !isString(h.created)) {
    throw new JournalError(`The reset journal ${where} has a header without project, stack or time; it is refused.`);
  }
  if (identity && (h.project !== identity.project || h.stack !== identity.stack)) {
    throw new JournalError(
      `The reset journal ${where} belongs to project "${h.project}", stack "${h.stack}", not to this update's project ` +
        `"${identity.project}", stack "${identity.stack}"; it is refused and no reset is sent. Point iotReset:journal at ` +
        `this stack's journal, or move the file away if it was copied here by mistake.`,
    );
  }
  const entries = parseEntries(lines.slice(1), 2, (line, problem) => {
    return new JournalError(
      `The reset journal ${where} is damaged at line ${line} (${problem}); it is refused rather than read in part, ` +
        `and no reset is sent. Restore the file from the pipeline's cache or artifact. If it cannot be restored, move ` +
        `it aside: the next update then knows only what state records, not what an interrupted update sent.`,
    );
  });
  return { header: h as JournalHeader, entries, tornBytes };
}

/**
 * How many scopes before its latest a device keeps: a campaign gone back to further than this is reset again. It
 * bounds the journal at about this many lines per device once rewritten, whatever the number of campaigns.
 */
export const EARLIER_SCOPES = 8;

/** Whether a state may be forgotten to make room: one that reset nothing, or whose reset is known. */
const forgettable = (state: DeviceJournalState) =>
  (state.status === "failed" && !state.hadUnknown) || state.status === "reset";

/**
 * The state of one device after one more entry; undefined when the entry releases it. A device keeps what it had in
 * each earlier scope (a campaign gone back to finds its resets), except a failure that followed no unknown outcome
 * (nothing was reset), up to `EARLIER_SCOPES` of them: the oldest known reset goes first, never an unknown outcome.
 */
function apply(current: LiveDevice | undefined, e: JournalEntry): LiveDevice | undefined {
  // Written by earlier versions when a resource was deleted: it forgets the device in that scope.
  if (e.ev === "released") return current && release(current, e.scope);
  let earlier = current?.earlier;
  let prev: DeviceJournalState | undefined = current?.state;
  if (current && current.scope !== e.scope) {
    earlier ??= new Map();
    if (current.state.status !== "failed" || current.state.hadUnknown) earlier.set(current.scope, current.state);
    prev = earlier.get(e.scope);
    earlier.delete(e.scope);
    if (earlier.size > EARLIER_SCOPES) {
      const oldest = [...earlier].find(([, state]) => forgettable(state));
      if (oldest) earlier.delete(oldest[0]);
    }
    if (earlier.size === 0) earlier = undefined;
  }
  const next = (state: DeviceJournalState): LiveDevice => ({ scope: e.scope, state, ...(earlier ? { earlier } : {}) });
  if (e.ev === "state") return next(e.state);
  const carried = {
    ...(prev?.hadUnknown ? { hadUnknown: true } : {}),
    ...resendMarks(prev ? resendsOf(prev) : 0),
  };
  let state: DeviceJournalState;
  switch (e.ev) {
    case "sending":
      state = {
        ...carried,
        status: "sending",
        attempt: e.attempt,
        sentAt: e.at,
        ...(e.resend ? { ...resendMarks(resendNumber(e.resend)), hadUnknown: true } : {}),
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
        ...(e.resend ? resendMarks(resendNumber(e.resend)) : {}),
      };
      break;
    case "accepted":
      state = { ...carried, status: "accepted", ...(prev?.sentAt !== undefined ? { sentAt: prev.sentAt } : {}) };
      break;
    default:
      return assertNever(e, "journal entry");
  }
  return next(state);
}

/** `device` without what it had in `scope`; undefined when nothing is left. */
function release(device: LiveDevice, scope: string): LiveDevice | undefined {
  if (device.scope !== scope) {
    device.earlier?.delete(scope);
    return device;
  }
  const rest = [...(device.earlier ?? [])];
  const latest = rest.pop();
  if (!latest) return undefined;
  return { scope: latest[0], state: latest[1], ...(rest.length > 0 ? { earlier: new Map(rest) } : {}) };
}

/** What the journal knows of one device: its latest scope and state, and its state in each earlier scope. */
export interface LiveDevice {
  /** The scope of the device's latest entry. */
  readonly scope: string;
  /** The device's state there. */
  readonly state: DeviceJournalState;
  /** Its state in the scopes before, oldest first; absent when there were none (or only failures). */
  readonly earlier?: Map<string, DeviceJournalState>;
}

/** What the journal knows of each device after `entries`, in order. */
export type LiveDevices = Map<string, LiveDevice>;

/** How many `state` lines `live` takes: one per device and scope. */
export function liveLines(live: LiveDevices): number {
  let n = 0;
  for (const device of live.values()) n += 1 + (device.earlier?.size ?? 0);
  return n;
}

/** Replays `entries` onto `live` (a new map by default) and returns it. */
export function replay(entries: Iterable<JournalEntry>, live: LiveDevices = new Map()): LiveDevices {
  for (const e of entries) {
    const next = apply(live.get(e.device), e);
    if (next) live.set(e.device, next);
    else live.delete(e.device);
  }
  return live;
}

/**
 * One `state` line per device and scope, the latest scope last: what a rewritten file or a snapshot holds instead of
 * the entries it replaces.
 */
export function stateLines(live: LiveDevices, at: string = new Date().toISOString()): string[] {
  const lines: string[] = [];
  const line = (device: string, scope: string, state: DeviceJournalState) =>
    lines.push(JSON.stringify({ ev: "state", at, scope, device, state } satisfies JournalEntry));
  for (const [device, { scope, state, earlier }] of live) {
    for (const [s, st] of earlier ?? []) line(device, s, st);
    line(device, scope, state);
  }
  return lines;
}

/** The header line of a journal file or snapshot. */
export function headerLine(identity: JournalIdentity, created: string): string {
  const header: JournalHeader = {
    journal: JOURNAL_FORMAT,
    version: JOURNAL_VERSION,
    project: identity.project,
    stack: identity.stack,
    created,
  };
  return `${JSON.stringify(header)}\n`;
}

/** Where a journal's batches of lines are made durable: a file, or an object store. */
export interface JournalSink {
  /** Where the journal is, for messages: a file's absolute path, or `s3://bucket/prefix/…`. */
  readonly location: string;
  /**
   * How long a batch waits for more lines before it is written, in ms: 0 for a file, a few for a bucket, where each
   * write is a request that costs CPU and money.
   */
  readonly lingerMs?: number;
  /** Makes `text` (whole lines) durable after everything written before; throws when it cannot. */
  write(text: string): Promise<void>;
  /**
   * Releases the journal for the next writer, after the last write; `live` is what it holds by then, absent when a
   * write failed (what is in memory may then be more than what was written).
   */
  close(live?: LiveDevices): Promise<void>;
}

/** A journal open for appending, with the latest state of every device it names. */
export class Journal {
  private pending: string[] = [];
  private waiters: Array<{ resolve: () => void; reject: (err: Error) => void }> = [];
  private draining = false;
  /** Counts since the journal was opened: batches written (one durable write each), lines, and time spent writing them. */
  readonly stats = { batches: 0, lines: 0, writeMs: 0 };
  private broken: JournalError | undefined;
  private closed = false;
  /** Called once closed (the registry of open journals forgets it). */
  onClose: (() => void) | undefined;

  constructor(
    /** The project and stack in its header. */
    readonly identity: JournalIdentity,
    private readonly sink: JournalSink,
    private readonly devices: LiveDevices,
  ) {}

  /** Where the journal is: a file's absolute path, or an object store's URL. */
  get location(): string {
    return this.sink.location;
  }

  /** What the journal says of `device` in `scope` (its latest, or an earlier one); undefined when it has none. */
  lookup(scope: string, device: string): DeviceJournalState | undefined {
    const entry = this.devices.get(device);
    if (!entry) return undefined;
    return entry.scope === scope ? entry.state : entry.earlier?.get(scope);
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
   * Appends an entry; resolves once it is durable. The in-memory state changes at once. After a write error every
   * append rejects with the same JournalError.
   */
  append(entry: JournalEntry): Promise<void> {
    if (this.broken) return Promise.reject(this.broken);
    if (this.closed) return Promise.reject(new JournalError(`The reset journal ${this.location} is closed.`));
    replay([entry], this.devices);
    this.pending.push(`${JSON.stringify(entry)}\n`);
    return this.barrier();
  }

  /** Resolves once everything appended so far is durable; rejects if a write failed. */
  flush(): Promise<void> {
    if (this.broken) return Promise.reject(this.broken);
    if (this.pending.length === 0 && !this.draining) return Promise.resolve();
    return this.barrier();
  }

  /** Flushes, then releases the journal for the next writer; this process may then open it again. */
  async close(): Promise<void> {
    if (this.closed) return;
    try {
      await this.flush();
    } finally {
      this.closed = true;
      this.onClose?.();
      await this.sink.close(this.broken ? undefined : this.devices);
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

  /** Writes what is pending, one durable write per batch, until nothing is left. */
  private async drain(): Promise<void> {
    for (;;) {
      if (this.waiters.length === 0) {
        // Cleared in the same step that saw nothing left, so an append that follows starts a new drain.
        this.draining = false;
        return;
      }
      // A write that costs more than an fdatasync (an object store's PUT) waits a moment for more lines to join it.
      if (this.sink.lingerMs) await new Promise((resolve) => setTimeout(resolve, this.sink.lingerMs));
      const lines = this.pending.length;
      const text = this.pending.join("");
      const waiters = this.waiters;
      this.pending = [];
      this.waiters = [];
      try {
        if (this.broken) throw this.broken;
        if (text !== "") {
          const started = performance.now();
          await this.sink.write(text);
          this.stats.batches++;
          this.stats.lines += lines;
          this.stats.writeMs += performance.now() - started;
        }
        for (const w of waiters) w.resolve();
      } catch (err) {
        this.broken ??=
          err instanceof JournalError
            ? err
            : new JournalError(
                `The reset journal ${this.location} cannot be written (${(err as Error).message}); no further reset ` +
                  `is sent in this update.`,
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
