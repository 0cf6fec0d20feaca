/**
 * The reset journal in a local file: one JSON-lines file per project and stack (by default
 * `.iot-reset/journal-<project>-<stack>.jsonl` in the program directory), appended in batches, each batch followed by
 * one fdatasync, and locked for one process at a time by `<file>.lock`.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { JournalError } from "../shared/errors";
import {
  headerLine,
  Journal,
  JournalEntry,
  JournalHeader,
  JournalIdentity,
  JournalSink,
  parseJournal,
  replay,
  liveLines,
  stateLines,
} from "./journal";

/** Reads and checks a journal file without opening it for writing (for tests and tools). */
export function readJournal(file: string): { header: JournalHeader; entries: JournalEntry[]; tornBytes: number } {
  const text = fs.readFileSync(file, "utf8");
  const parsed = parseJournal(file, text, undefined);
  if (!parsed.header) throw new JournalError(`The reset journal ${file} is empty.`);
  return { header: parsed.header, entries: parsed.entries, tornBytes: parsed.tornBytes };
}

/** Journal files open in this process, by absolute path: one writer per file. */
const openFiles = new Map<string, Journal>();
/** The lock of each open file, released at exit should the process end without closing it. */
const heldLocks = new Set<string>();
let exitHookInstalled = false;

/**
 * Opens (creating it when missing) the journal file at `file` for `identity`, or returns the one this process
 * already has open. Throws JournalError for a file that is corrupt, foreign, or in use by another live process.
 */
export function openJournal(file: string, identity: JournalIdentity): Journal {
  const abs = path.resolve(file);
  const existing = openFiles.get(abs);
  if (existing) {
    if (existing.identity.project !== identity.project || existing.identity.stack !== identity.stack) {
      throw new JournalError(`The reset journal ${abs} is already open in this process for another stack.`);
    }
    return existing;
  }
  const journal = openFile(abs, identity);
  openFiles.set(abs, journal);
  journal.onClose = () => openFiles.delete(abs);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on("exit", () => {
      for (const lock of heldLocks) releaseLockSync(lock);
    });
  }
  return journal;
}

function openFile(file: string, identity: JournalIdentity): Journal {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const lockPath = takeLock(file);
  heldLocks.add(lockPath);
  try {
    let text = "";
    try {
      text = fs.readFileSync(file, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    const parsed = parseJournal(file, text, identity);
    const live = replay(parsed.entries);
    const created = parsed.header?.created ?? new Date().toISOString();
    if (!parsed.header) {
      // A new file, or one whose header line was cut short by a crash: start it over.
      writeAtomically(file, headerLine(identity, created));
    } else if (parsed.entries.length - liveLines(live) > Math.max(1000, liveLines(live) / 2)) {
      // Many superseded lines (each reset writes two, `sending` and `reset`): rewrite the file with one line per
      // device and scope it still knows of, so that it stays within about 1.5 times that.
      writeAtomically(
        file,
        headerLine(identity, created) +
          stateLines(live)
            .map((l) => `${l}\n`)
            .join(""),
      );
    } else if (parsed.tornBytes > 0) {
      fs.truncateSync(file, Buffer.byteLength(text) - parsed.tornBytes);
    }
    const fd = fs.openSync(file, "a");
    return new Journal(identity, new FileSink(file, fd, lockPath), live);
  } catch (err) {
    heldLocks.delete(lockPath);
    fs.rmSync(lockPath, { force: true });
    if (err instanceof JournalError) throw err;
    throw new JournalError(`The reset journal ${file} cannot be opened (${(err as Error).message}); no reset is sent.`);
  }
}

/** Appends to an open file: one write and one fdatasync per batch. */
class FileSink implements JournalSink {
  constructor(
    readonly location: string,
    private readonly fd: number,
    private readonly lockPath: string,
  ) {}

  async write(text: string): Promise<void> {
    await writeAll(this.fd, Buffer.from(text, "utf8"));
    await new Promise<void>((resolve, reject) => fs.fdatasync(this.fd, (err) => (err ? reject(err) : resolve())));
  }

  async close(): Promise<void> {
    fs.closeSync(this.fd);
    heldLocks.delete(this.lockPath);
    releaseLockSync(this.lockPath);
  }
}

/** Removes a lock file if this process holds it. */
function releaseLockSync(lockPath: string): void {
  try {
    const holder = JSON.parse(fs.readFileSync(lockPath, "utf8")) as { pid?: unknown };
    if (holder.pid === process.pid) fs.rmSync(lockPath, { force: true });
  } catch {
    // Already gone.
  }
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
