import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { JournalError } from "../../provider/shared/errors";
import { JournalEntry, openJournal, readJournal } from "../../provider/host/journal";

const ME = { project: "proj", stack: "dev" };
const SCOPE = 'campaign "c1" at http://127.0.0.1:1|cn-shanghai';
const HEADER = `{"journal":"pulumi-alicloud-iot-reset/journal","version":1,"project":"proj","stack":"dev","created":"2026-11-26T00:00:00.000Z"}\n`;

let dir: string;
let file: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "journal-unit-"));
  file = path.join(dir, "journal.jsonl");
});

const line = (e: Record<string, unknown>) =>
  `${JSON.stringify({ at: "2026-11-26T00:00:01.000Z", scope: SCOPE, ...e })}\n`;

describe("the journal file", () => {
  test("a new journal starts with its header; appends are on disk when they resolve; a reopen replays them", async () => {
    const j = openJournal(file, ME);
    expect(openJournal(file, ME)).toBe(j);
    await j.append({ ev: "sending", at: "t1", scope: SCOPE, device: "a1/d1", attempt: 1 });
    expect(fs.readFileSync(file, "utf8").split("\n")[1]).toBe(
      `{"ev":"sending","at":"t1","scope":${JSON.stringify(SCOPE)},"device":"a1/d1","attempt":1}`,
    );
    j.append({ ev: "reset", at: "t2", scope: SCOPE, device: "a1/d1", requestId: "R1" });
    await j.flush();
    await j.close();
    const again = openJournal(file, ME);
    expect(again).not.toBe(j);
    expect(again.lookup(SCOPE, "a1/d1")).toEqual({ status: "reset", attempt: 1, sentAt: "t1", requestId: "R1" });
    expect(again.lookup("another scope", "a1/d1")).toBeUndefined();
    await again.close();
    expect(readJournal(file).header).toMatchObject({ journal: "pulumi-alicloud-iot-reset/journal", version: 1, ...ME });
  });

  test("only a device's latest scope counts, and a release forgets it there", async () => {
    fs.writeFileSync(
      file,
      HEADER +
        line({ ev: "sending", device: "a1/d1", attempt: 1 }) +
        line({ ev: "unknown", device: "a1/d1", attempt: 1, sentAt: "t", error: "ECONNRESET: socket hang up" }) +
        line({ ev: "sending", device: "a1/d1", attempt: 1, scope: "other" }) +
        line({ ev: "reset", device: "a1/d1", requestId: "R2", scope: "other" }) +
        line({ ev: "sending", device: "a1/d2", attempt: 1 }) +
        line({ ev: "released", device: "a1/d2" }),
    );
    const j = openJournal(file, ME);
    expect(j.lookup(SCOPE, "a1/d1")).toBeUndefined();
    expect(j.lookup("other", "a1/d1")).toMatchObject({ status: "reset", requestId: "R2" });
    expect(j.lookup(SCOPE, "a1/d2")).toBeUndefined();
    expect(j.size).toBe(1);
    await j.close();
  });

  test("an unknown outcome and its one resend: the reset that follows is marked as possibly the second", async () => {
    fs.writeFileSync(
      file,
      HEADER +
        line({ ev: "sending", device: "a1/d1", attempt: 1 }) +
        line({ ev: "unknown", device: "a1/d1", attempt: 1, sentAt: "t0", error: "ECONNRESET: socket hang up" }) +
        line({ ev: "sending", device: "a1/d1", attempt: 1, resend: true }) +
        line({ ev: "reset", device: "a1/d1", requestId: "R9" }),
    );
    const j = openJournal(file, ME);
    expect(j.lookup(SCOPE, "a1/d1")).toEqual({
      status: "reset",
      attempt: 1,
      sentAt: "2026-11-26T00:00:01.000Z",
      requestId: "R9",
      hadUnknown: true,
      resent: true,
    });
    await j.close();
  });

  test("a last line cut short by a crash is dropped (and cut from the file); every other line counts", async () => {
    fs.writeFileSync(file, HEADER + line({ ev: "sending", device: "a1/d1", attempt: 1 }) + '{"ev":"reset","at":"2026');
    const j = openJournal(file, ME);
    expect(j.lookup(SCOPE, "a1/d1")).toMatchObject({ status: "sending" });
    await j.append({ ev: "failed", at: "t", scope: SCOPE, device: "a1/d2" });
    await j.close();
    expect(readJournal(file).entries.map((e) => e.ev)).toEqual(["sending", "failed"]);
  });

  test("a header cut short by a crash starts the journal over", async () => {
    fs.writeFileSync(file, '{"journal":"pulumi-alicloud-iot-reset/jou');
    const j = openJournal(file, ME);
    await j.close();
    expect(readJournal(file).entries).toEqual([]);
  });

  test("a damaged line is refused, naming the file and line; nothing is read in part", () => {
    fs.writeFileSync(
      file,
      HEADER +
        line({ ev: "sending", device: "a1/d1", attempt: 1 }) +
        "garbage\n" +
        line({ ev: "failed", device: "a1/d1" }),
    );
    expect(() => openJournal(file, ME)).toThrow(JournalError);
    expect(() => openJournal(file, ME)).toThrow(
      `The reset journal ${file} is damaged at line 3 (not JSON: Unexpected token 'g', "garbage" is not valid JSON); it ` +
        `is refused rather than read in part, and no reset is sent. Restore the file from the pipeline's cache or ` +
        `artifact. If it cannot be restored, move it aside: the next update then knows only what state records, not ` +
        `what an interrupted update sent.`,
    );
    fs.writeFileSync(file, HEADER + line({ ev: "reset", device: "a1/d1" }));
    expect(() => openJournal(file, ME)).toThrow(`is damaged at line 2 (\`requestId\` missing)`);
    fs.writeFileSync(file, HEADER + line({ ev: "deleted", device: "a1/d1" }));
    expect(() => openJournal(file, ME)).toThrow(`is damaged at line 2 (unknown event "deleted")`);
    // The refused file is left as it was, and not locked.
    expect(fs.existsSync(`${file}.lock`)).toBe(false);
  });

  test("a journal of another project or stack, of another version, or not a journal at all is refused", () => {
    fs.writeFileSync(file, HEADER);
    expect(() => openJournal(file, { project: "proj", stack: "prod" })).toThrow(
      `The reset journal ${file} belongs to project "proj", stack "dev", not to this update's project "proj", stack ` +
        `"prod"; it is refused and no reset is sent. Point iotReset:journal at this stack's journal, or move the file ` +
        `away if it was copied here by mistake.`,
    );
    fs.writeFileSync(file, HEADER.replace('"version":1', '"version":2'));
    expect(() => openJournal(file, ME)).toThrow(
      `The reset journal ${file} has format version 2; this version of pulumi-alicloud-iot-reset reads version 1. It ` +
        `is refused and no reset is sent: upgrade the package.`,
    );
    for (const text of ['{"name":"my-app"}\n', '{"name":"my-app"}', "state: 1\n"]) {
      fs.writeFileSync(file, text);
      expect(() => openJournal(file, ME)).toThrow(
        `${file} is not a reset journal (its first line is not the header of pulumi-alicloud-iot-reset's journal); it ` +
          `is refused and no reset is sent. Point iotReset:journal elsewhere, or move the file away.`,
      );
      expect(fs.readFileSync(file, "utf8")).toBe(text);
    }
  });

  test("a journal locked by a live process is refused; a lock left by a dead one is taken over", async () => {
    fs.writeFileSync(file, HEADER);
    fs.writeFileSync(`${file}.lock`, JSON.stringify({ pid: process.ppid, host: os.hostname(), since: "t" }));
    expect(() => openJournal(file, ME)).toThrow(
      `The reset journal ${file} is in use by process ${process.ppid} on this machine (an update still running, or ` +
        `the provider process of an update that was killed). Stop that process, then run the update again; no reset ` +
        `is sent.`,
    );
    const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]).stdout.toString();
    fs.writeFileSync(`${file}.lock`, JSON.stringify({ pid: Number(dead), host: os.hostname(), since: "t" }));
    const j = openJournal(file, ME);
    expect(JSON.parse(fs.readFileSync(`${file}.lock`, "utf8")).pid).toBe(process.pid);
    await j.close();
    expect(fs.existsSync(`${file}.lock`)).toBe(false);
  });

  test("a journal of mostly superseded lines is rewritten, one line per device, with the same meaning", async () => {
    const lines: string[] = [HEADER];
    for (let i = 0; i < 600; i++) {
      lines.push(line({ ev: "sending", device: `a1/d${i % 20}`, attempt: 1, scope: `c${i}` }));
      lines.push(line({ ev: "reset", device: `a1/d${i % 20}`, requestId: `R${i}`, scope: `c${i}` }));
    }
    lines.push(line({ ev: "sending", device: "a1/u", attempt: 2 }));
    lines.push(line({ ev: "unknown", device: "a1/u", attempt: 2, sentAt: "t", error: "ECONNRESET: socket hang up" }));
    fs.writeFileSync(file, lines.join(""));
    const before = openJournal(file, ME);
    const expected = Array.from({ length: 20 }, (_, d) => before.lookup(`c${580 + d}`, `a1/d${d}`));
    await before.close();
    const rewritten = readJournal(file).entries;
    expect(rewritten).toHaveLength(21);
    expect(rewritten.every((e: JournalEntry) => e.ev === "state")).toBe(true);
    const after = openJournal(file, ME);
    expect(Array.from({ length: 20 }, (_, d) => after.lookup(`c${580 + d}`, `a1/d${d}`))).toEqual(expected);
    expect(expected[0]).toEqual({ status: "reset", attempt: 1, sentAt: "2026-11-26T00:00:01.000Z", requestId: "R580" });
    expect(after.lookup(SCOPE, "a1/u")).toMatchObject({ status: "unknown", attempt: 2, hadUnknown: true });
    await after.close();
  });
});
