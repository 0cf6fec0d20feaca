// The stop switch the host flips when the engine is gone or the update is cancelled: no attempt leaves after it,
// the resets in flight finish and are recorded, and the devices not sent are left for the next update (not unknown).
import { Emulator } from "../../emulator";
import * as batch from "../../provider/host/batch-reset";
import { SendGate } from "../../provider/host/iot-api";
import { Pacer, Pacers } from "../../provider/host/pacer";
import { PartialResetError, SendingStoppedError } from "../../provider/shared/errors";
import { openJournal, readJournal } from "../../provider/host/journal-file";
import { journaledReset } from "../../provider/host/exactly-once";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { configFor, context, directApi, journalPath, slowEmulatorWith, testFleet } from "./support";

const N = 120;
const fleet = testFleet("a1Stop", N);

let emu: Emulator;
beforeEach(async () => {
  emu = await slowEmulatorWith(fleet, 100);
});
afterEach(() => emu.stop());

test("after stopSending nothing more is sent; what was in flight is recorded; the rest is left for the next update", async () => {
  const config = configFor(emu, { "iotReset:resetQps": "100" });
  const inputs = { campaign: "c", devices: fleet, endpoint: emu.endpoint };
  const ctx = context(config);
  const running = batch.create(ctx, inputs).catch((e) => e);
  while (emu.totalResets() < 20) await new Promise((r) => setTimeout(r, 5));
  ctx.stopSending("the engine is gone");
  const error = await running;
  const sentByThen = emu.requests({ action: "ResetThing" }).length;
  await new Promise((r) => setTimeout(r, 300));
  expect(emu.requests({ action: "ResetThing" })).toHaveLength(sentByThen);
  expect(sentByThen).toBeLessThan(N);

  expect(error).toBeInstanceOf(PartialResetError);
  const recorded = Object.keys(error.properties.results);
  expect(recorded).toHaveLength(sentByThen);
  expect(error.properties.unknownOutcomes).toBeUndefined();
  expect(error.message.split("\n")[0]).toBe(
    `${sentByThen} of ${N} devices of this batch reset and recorded; ${N - sentByThen} left for the next update:`,
  );
  expect(error.reasons).toEqual([`${N - sentByThen} device(s) not sent: sending stopped: the engine is gone`]);
  // Every "sending" line has its answer: a device stopped after its line was written is marked not sent.
  const last = new Map<string, string>();
  for (const e of readJournal(journalPath(emu)).entries) last.set(e.device, e.ev);
  expect([...last.values()].filter((ev) => ev === "sending")).toEqual([]);
  expect([...last.values()].filter((ev) => ev === "reset")).toHaveLength(sentByThen);

  // The next update sends exactly the devices not sent.
  emu.clearRequests();
  const next = await batch.update(context(config), error.id, error.properties, inputs);
  expect(emu.requests({ action: "ResetThing" })).toHaveLength(N - sentByThen);
  expect(next.outs?.resetCount).toBe(N);
  for (const d of fleet) expect(emu.resetCount(d)).toBe(1);
});

test("resets waiting for their ramp slots when sending stops end at once: a stopped update does not wait out the ramp", async () => {
  const config = configFor(emu);
  // 60 a minute: each waiting reset holds a slot a second after the one before, 29 seconds ahead for the last.
  const ramp = { baseRatePerMinute: 60, incrementFactor: 1, increaseEveryResets: 1000 };
  const inputs = { campaign: "c", devices: fleet.slice(0, 30), endpoint: emu.endpoint, ramp };
  const ctx = context(config);
  const running = batch.create(ctx, inputs).catch((e) => e);
  while (emu.totalResets() < 2) await new Promise((r) => setTimeout(r, 5));
  const stoppedAt = Date.now();
  ctx.stopSending("the update was cancelled");
  const error = await running;
  const ended = Date.now() - stoppedAt;
  const sent = emu.requests({ action: "ResetThing" }).length;
  // The next slot was at most a second away: well under the 27 s the last waiting reset would have slept.
  expect(ended).toBeLessThan(5_000);
  expect(error).toBeInstanceOf(PartialResetError);
  expect(Object.keys(error.properties.results)).toHaveLength(sent);
  expect(error.reasons).toEqual([`${30 - sent} device(s) not sent: sending stopped: the update was cancelled`]);
  // The stopped resets are not failures: the guardrails count only what was sent.
  expect({ succeeded: ctx.guard.succeeded, failed: ctx.guard.failed }).toEqual({ succeeded: sent, failed: 0 });
});

test("a call journaled and waiting to leave when sending stops does not leave, and a shutdown waits for it to end", async () => {
  // The pacer holds the call after its journal line was written, as it does while a backlog drains.
  let parked!: () => void;
  const isParked = new Promise<void>((resolve) => (parked = resolve));
  let release!: () => void;
  class HeldPacer extends Pacer {
    override respace(): Promise<void> {
      parked();
      return new Promise<void>((resolve) => (release = resolve));
    }
  }
  const pacer = new HeldPacer({ ceilingQps: 500 });
  const pacers = new (class extends Pacers {
    override of(): Pacer {
      return pacer;
    }
  })();
  const gate = new SendGate();
  const api = directApi(emu.endpoint, { gate, pacers });
  const journaled: number[] = [];
  const call = api
    .resetThing(fleet[0] as { productKey: string; deviceName: string }, {
      beforeAttempt: async (attempt) => void journaled.push(attempt),
    })
    .catch((e) => e);
  await isParked;
  gate.stop("interrupted");
  // A shutdown waits for the journaled attempt to end: an exit now would leave its journal line without an answer.
  let idle = false;
  const settled = gate.idle().then(() => (idle = true));
  await new Promise((resolve) => setTimeout(resolve, 50));
  expect(idle).toBe(false);
  release();
  await settled;
  const error = await call;
  expect(error).toBeInstanceOf(SendingStoppedError);
  expect(error.message).toBe("sending stopped: interrupted");
  expect(journaled).toEqual([1]);
  expect(emu.requests({ action: "ResetThing" })).toEqual([]);
});

test("a journaled reset stopped in its backoff after a throttled answer: the shutdown waits for its outcome line, not for the backoff", async () => {
  // Full jitter at 0.5 of a 60 s cap: a 30 s backoff after the throttled first attempt.
  const random = jest.spyOn(Math, "random").mockReturnValue(0.5);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "stop-backoff-"));
  try {
    emu.scriptFaults("ResetThing", "throttle", 1);
    const gate = new SendGate();
    const retry = { maxAttempts: 8, maxElapsedMs: 120_000, baseDelayMs: 60_000, maxDelayMs: 60_000 };
    const api = directApi(emu.endpoint, { gate, settings: { retry } });
    const file = path.join(dir, "journal.jsonl");
    const journal = openJournal(file, { project: "p", stack: "s" });
    const call = journaledReset(api, journal, "c", "a1Stop/dev-0000", fleet[0]!, 0).catch((e) => e);
    while (emu.requests({ action: "ResetThing" }).length === 0) await new Promise((r) => setTimeout(r, 5));
    // The throttled answer is in; the call now waits out its backoff with only "sending" in the journal.
    await new Promise((r) => setTimeout(r, 50));
    const stoppedAt = Date.now();
    gate.stop("the engine is gone");
    // What the host does before it exits (ProviderContext.settle): wait for the gate, then flush the journal.
    await gate.idle();
    await journal.flush();
    expect(Date.now() - stoppedAt).toBeLessThan(5_000);
    expect(readJournal(file).entries.map((e) => e.ev)).toEqual(["sending", "failed"]);
    const error = await call;
    expect(error).toBeInstanceOf(SendingStoppedError);
    // The emulator logs a scripted fault as "fault"; its answer was the gateway's Throttling error.
    expect(emu.requests({ action: "ResetThing" }).map((r) => r.outcome)).toEqual(["fault"]);
    await journal.close();
  } finally {
    random.mockRestore();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
