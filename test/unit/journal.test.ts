import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { JournalError } from "../../provider/shared/errors";
import { EARLIER_SCOPES, type JournalEntry } from "../../provider/host/journal";
import { openJournal, readJournal } from "../../provider/host/journal-file";

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

  test("a device keeps each scope's state but a failure; a release (from earlier versions) forgets it there", async () => {
    fs.writeFileSync(
      file,
      HEADER +
        line({ ev: "sending", device: "a1/d1", attempt: 1 }) +
        line({ ev: "unknown", device: "a1/d1", attempt: 1, sentAt: "t", error: "ECONNRESET: socket hang up" }) +
        line({ ev: "sending", device: "a1/d1", attempt: 1, scope: "other" }) +
        line({ ev: "reset", device: "a1/d1", requestId: "R2", scope: "other" }) +
        line({ ev: "sending", device: "a1/d2", attempt: 1 }) +
        line({ ev: "released", device: "a1/d2" }) +
        line({ ev: "sending", device: "a1/d3", attempt: 1 }) +
        line({ ev: "failed", device: "a1/d3", code: "iot.device.NotExistedDevice" }) +
        line({ ev: "sending", device: "a1/d3", attempt: 1, scope: "other" }) +
        line({ ev: "sending", device: "a1/d4", attempt: 1, scope: "other" }) +
        line({ ev: "reset", device: "a1/d4", requestId: "R4", scope: "other" }) +
        line({ ev: "sending", device: "a1/d4", attempt: 1 }) +
        line({ ev: "reset", device: "a1/d4", requestId: "R5" }) +
        line({ ev: "released", device: "a1/d4" }),
    );
    const j = openJournal(file, ME);
    expect(j.lookup(SCOPE, "a1/d1")).toEqual({
      status: "unknown",
      attempt: 1,
      sentAt: "t",
      error: "ECONNRESET: socket hang up",
      hadUnknown: true,
    });
    expect(j.lookup("other", "a1/d1")).toMatchObject({ status: "reset", requestId: "R2" });
    expect(j.lookup(SCOPE, "a1/d2")).toBeUndefined();
    expect(j.lookup(SCOPE, "a1/d3")).toBeUndefined();
    expect(j.lookup("other", "a1/d3")).toMatchObject({ status: "sending" });
    expect(j.lookup(SCOPE, "a1/d4")).toBeUndefined();
    expect(j.lookup("other", "a1/d4")).toMatchObject({ status: "reset", requestId: "R4" });
    expect(j.size).toBe(3);
    await j.close();
  });

  test("campaign after campaign of two lines a reset: each opening rewrites what grew, every campaign kept", async () => {
    for (const campaign of ["c1", "c2", "c3"]) {
      const j = openJournal(file, ME);
      for (let i = 0; i < 1500; i++) {
        j.append({ ev: "sending", at: "t1", scope: campaign, device: `a1/d${i}`, attempt: 1 });
        j.append({ ev: "reset", at: "t2", scope: campaign, device: `a1/d${i}`, requestId: `R-${campaign}-${i}` });
      }
      await j.close();
    }
    // Opened after c1 (3,000 lines for 1,500: rewritten to 1,500), after c2 (4,500 for 3,000: kept), then after c3
    // (7,500 lines for 4,500): rewritten to one line per device and campaign.
    const j = openJournal(file, ME);
    await j.close();
    expect(readJournal(file).entries).toHaveLength(4500);
    const again = openJournal(file, ME);
    expect(["c1", "c2", "c3"].map((c) => again.lookup(c, "a1/d1499")?.requestId)).toEqual([
      "R-c1-1499",
      "R-c2-1499",
      "R-c3-1499",
    ]);
    await again.close();
  });

  test(`a device keeps ${EARLIER_SCOPES} campaigns before its latest: the oldest known reset goes first, never an unknown outcome`, async () => {
    const j = openJournal(file, ME);
    const campaigns = Array.from({ length: EARLIER_SCOPES + 3 }, (_, i) => `c${i}`);
    for (const [i, scope] of campaigns.entries()) {
      await j.append({ ev: "sending", at: "t1", scope, device: "a1/d", attempt: 1 });
      // c1's answer was lost: it is never forgotten, however many campaigns follow.
      if (i === 1)
        await j.append({ ev: "unknown", at: "t2", scope, device: "a1/d", attempt: 1, sentAt: "t1", error: "E" });
      else await j.append({ ev: "reset", at: "t2", scope, device: "a1/d", requestId: `R${i}` });
    }
    const kept = campaigns.filter((c) => j.lookup(c, "a1/d") !== undefined);
    expect(kept).toEqual(["c1", ...campaigns.slice(-EARLIER_SCOPES)]);
    expect(j.lookup("c1", "a1/d")).toMatchObject({ status: "unknown" });
    await j.close();
  });

  /** A device of `SCOPE` sent, its answer lost, then resent (as 0.1 marked a resend: `true`). */
  const lostThenResent = () =>
    line({ ev: "sending", device: "a1/d1", attempt: 1 }) +
    line({ ev: "unknown", device: "a1/d1", attempt: 1, sentAt: "t0", error: "ECONNRESET: socket hang up" }) +
    line({ ev: "sending", device: "a1/d1", attempt: 1, resend: true });

  test("a resend after an unknown outcome that failed is kept: a campaign gone back to does not send a third time", async () => {
    fs.writeFileSync(
      file,
      HEADER +
        lostThenResent() +
        line({ ev: "failed", device: "a1/d1", code: "Throttling" }) +
        line({ ev: "sending", device: "a1/d1", attempt: 1, scope: "other" }) +
        line({ ev: "reset", device: "a1/d1", requestId: "R2", scope: "other" }),
    );
    const j = openJournal(file, ME);
    expect(j.lookup(SCOPE, "a1/d1")).toEqual({ status: "failed", hadUnknown: true, resent: true, resends: 1 });
    await j.close();
  });

  test("a rewrite keeps every scope of a device, the latest last", async () => {
    const j = openJournal(file, ME);
    for (let i = 0; i < 600; i++) {
      for (const scope of ["c1", "c2"]) {
        await j.append({ ev: "sending", at: "t0", scope, device: `a1/d${i}`, attempt: 1 });
        await j.append({ ev: "sending", at: "t1", scope, device: `a1/d${i}`, attempt: 2 });
        await j.append({ ev: "reset", at: "t2", scope, device: `a1/d${i}`, requestId: `R-${scope}-${i}` });
      }
    }
    await j.close();
    // 3,600 lines for 600 devices in 2 scopes: rewritten as 1,200 state lines when opened.
    const again = openJournal(file, ME);
    await again.close();
    const entries = readJournal(file).entries;
    expect(entries).toHaveLength(1200);
    expect(entries.slice(0, 2).map((e) => [e.ev, e.scope, e.device])).toEqual([
      ["state", "c1", "a1/d0"],
      ["state", "c2", "a1/d0"],
    ]);
    const third = openJournal(file, ME);
    expect(third.lookup("c1", "a1/d599")).toMatchObject({ status: "reset", requestId: "R-c1-599" });
    expect(third.lookup("c2", "a1/d599")).toMatchObject({ status: "reset", requestId: "R-c2-599" });
    await third.append({ ev: "sending", at: "t3", scope: "c3", device: "a1/d0", attempt: 1 });
    expect(third.lookup("c1", "a1/d0")).toMatchObject({ requestId: "R-c1-0" });
    await third.close();
  });

  test("an unknown outcome and its resend: the reset that follows is marked as possibly the second", async () => {
    fs.writeFileSync(file, HEADER + lostThenResent() + line({ ev: "reset", device: "a1/d1", requestId: "R9" }));
    const j = openJournal(file, ME);
    expect(j.lookup(SCOPE, "a1/d1")).toEqual({
      status: "reset",
      attempt: 1,
      sentAt: "2026-11-26T00:00:01.000Z",
      requestId: "R9",
      hadUnknown: true,
      resent: true,
      resends: 1,
    });
    await j.close();
  });

  test("resends are counted: a resend written as `true` (0.1) is the first, a number names its own", async () => {
    fs.writeFileSync(
      file,
      HEADER +
        lostThenResent() +
        line({ ev: "unknown", device: "a1/d1", attempt: 1, sentAt: "t1", error: "ECONNRESET", resend: true }) +
        line({ ev: "sending", device: "a1/d1", attempt: 1, resend: 2 }),
    );
    const j = openJournal(file, ME);
    expect(j.lookup(SCOPE, "a1/d1")).toEqual({
      status: "sending",
      attempt: 1,
      sentAt: "2026-11-26T00:00:01.000Z",
      hadUnknown: true,
      resent: true,
      resends: 2,
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
      lines.push(line({ ev: "sending", device: `a1/d${i % 20}`, attempt: 1 }));
      lines.push(line({ ev: "reset", device: `a1/d${i % 20}`, requestId: `R${i}` }));
    }
    lines.push(line({ ev: "sending", device: "a1/u", attempt: 2 }));
    lines.push(line({ ev: "unknown", device: "a1/u", attempt: 2, sentAt: "t", error: "ECONNRESET: socket hang up" }));
    fs.writeFileSync(file, lines.join(""));
    const before = openJournal(file, ME);
    const expected = Array.from({ length: 20 }, (_, d) => before.lookup(SCOPE, `a1/d${d}`));
    await before.close();
    const rewritten = readJournal(file).entries;
    expect(rewritten).toHaveLength(21);
    expect(rewritten.every((e: JournalEntry) => e.ev === "state")).toBe(true);
    const after = openJournal(file, ME);
    expect(Array.from({ length: 20 }, (_, d) => after.lookup(SCOPE, `a1/d${d}`))).toEqual(expected);
    expect(expected[0]).toEqual({ status: "reset", attempt: 1, sentAt: "2026-11-26T00:00:01.000Z", requestId: "R580" });
    expect(after.lookup(SCOPE, "a1/u")).toMatchObject({ status: "unknown", attempt: 2, hadUnknown: true });
    await after.close();
  });
});
