import { GuardClock, rampInterval, Settlement, UpdateGuard } from "../../provider/host/update-guard";
import type { AbortCriterion, RolloutControls } from "../../provider/shared/rollout-controls";
import { GuardrailError } from "../../provider/shared/errors";
import { closedAt, nextOpening } from "../../provider/shared/windows";

/** A clock the test moves: sleeps resolve when `advance` passes their time. */
class FakeClock implements GuardClock {
  private timers: Array<{ at: number; wake: () => void }> = [];
  constructor(public t: number) {}
  now(): number {
    return this.t;
  }
  sleep(ms: number): Promise<void> {
    return new Promise((wake) => this.timers.push({ at: this.t + ms, wake }));
  }
  /** Moves to the earliest pending timer (or by `ms` when none), waking it. */
  async next(): Promise<boolean> {
    const first = this.timers.sort((a, b) => a.at - b.at)[0];
    if (!first) return false;
    this.timers.shift();
    this.t = Math.max(this.t, first.at);
    first.wake();
    await flush();
    return true;
  }
}

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Drives `devices` resets through one guard as a batch does (`concurrency` workers taking devices in order), with
 * the answers coming back oldest first, one at a time: `outcome(i)` says how device i ends. Returns the devices sent,
 * in order, and the first guardrail message.
 */
async function drive(
  limits: RolloutControls,
  devices: number,
  outcome: (i: number) => Settlement,
  concurrency = 64,
): Promise<{ sent: number[]; answered: Settlement[]; error?: string; tripAt?: number }> {
  const guard = new UpdateGuard();
  const sent: number[] = [];
  const answers: Array<() => void> = [];
  let error: string | undefined;
  let tripAt: number | undefined;
  let settled = 0;
  const answered: Settlement[] = [];
  let next = 0;
  const worker = async () => {
    while (next < devices) {
      const i = next++;
      try {
        await guard.admit(limits);
      } catch (err) {
        if (!(err instanceof GuardrailError)) throw err;
        if (error === undefined) {
          error = err.message;
          tripAt = settled;
        }
        continue;
      }
      sent.push(i);
      await new Promise<void>((resolve) => answers.push(resolve));
      guard.settle(outcome(i));
      answered.push(outcome(i));
      settled++;
    }
  };
  const all = Promise.all(Array.from({ length: concurrency }, worker));
  await flush();
  for (let round = 0; answers.length > 0 && round < 100_000; round++) {
    (answers.shift() as () => void)();
    await flush();
  }
  await all;
  return { sent, answered, ...(error !== undefined ? { error } : {}), ...(tripAt !== undefined ? { tripAt } : {}) };
}

/** The first number of finished resets (in answer order) at which `c` trips, or undefined: the reference. */
function tripPoint(c: AbortCriterion, outcomes: Settlement[]): number | undefined {
  let failed = 0;
  for (let n = 1; n <= outcomes.length; n++) {
    const o = outcomes[n - 1] as Settlement;
    const type = o === false ? "businessError" : o;
    if (o !== true && (c.failureType === "any" || c.failureType === type)) failed++;
    if (n >= c.minExecuted && failed * 100 >= c.thresholdPercentage * n) return n;
  }
  return undefined;
}

describe("abort criteria", () => {
  test("a criterion tripped by the sample stops at exactly minExecuted resets, with the counts and what to do", async () => {
    const failing = new Set([2, 5, 7]);
    const criterion: AbortCriterion = { failureType: "businessError", thresholdPercentage: 25, minExecuted: 10 };
    const run = await drive({ abortCriteria: [criterion] }, 100, (i) => (failing.has(i) ? "businessError" : true));
    expect(run.sent).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(run.error).toBe(
      "aborted by abortCriteria[0] (businessError at 25% or more of at least 10 executed): 3 of 10 resets executed in " +
        "this update failed with a business error (an answered failure, or refused after retries), 30% (7 succeeded; " +
        "failures by kind: businessError 3). No further device is reset in this update; find and fix the cause (the " +
        "failures are listed with this error), then run it again: devices already reset are recorded and will not be reset again.",
    );
  });

  test("the threshold is the smallest share that aborts: exactly 25% trips, just under does not", async () => {
    const at = await drive(
      { abortCriteria: [{ failureType: "any", thresholdPercentage: 25, minExecuted: 4 }] },
      40,
      (i) => (i === 3 ? false : true),
    );
    expect(at.sent).toHaveLength(4);
    const under = await drive(
      { abortCriteria: [{ failureType: "any", thresholdPercentage: 25.01, minExecuted: 4 }] },
      40,
      (i) => (i === 3 ? false : true),
    );
    expect(under.sent).toHaveLength(40);
    expect(under.error).toBeUndefined();
  });

  test("after the sample, the in-flight window keeps the trip exact: 3 in flight at 25% after 10 successes", async () => {
    // 10 ok, then devices 10..13 fail: 0/10, then (0+k)/(10+k) < 25% allows k = 3 in flight; the trip comes at 14
    // finished (4 of 14 = 28.6%), and no device after the 14th was sent.
    const criterion: AbortCriterion = { failureType: "businessError", thresholdPercentage: 25, minExecuted: 10 };
    const outcomes = Array.from({ length: 60 }, (_, i): Settlement => (i >= 10 && i < 30 ? "businessError" : true));
    const run = await drive({ abortCriteria: [criterion] }, 60, (i) => outcomes[i] as Settlement);
    expect(tripPoint(criterion, outcomes)).toBe(14);
    expect(run.sent).toHaveLength(14);
    expect(run.tripAt).toBe(14);
  });

  test.each([
    ["businessError", 10, 5],
    ["unknownOutcome", 5, 8],
    ["jobFailed", 10, 3],
    ["any", 15, 12],
  ] as const)(
    "%s at %i%% after %i: for seeded failure sets, the resets sent are exactly the reference trip point",
    async (failureType, thresholdPercentage, minExecuted) => {
      const criterion: AbortCriterion = { failureType, thresholdPercentage, minExecuted };
      const kinds: Settlement[] = ["businessError", "unknownOutcome", "jobFailed"];
      let trips = 0;
      for (let seed = 1; seed <= 12; seed++) {
        let x = seed * 7919;
        const rand = () => (x = (x * 48271) % 2147483647) / 2147483647;
        const outcomes = Array.from({ length: 120 }, (): Settlement =>
          rand() < 0.12 ? (kinds[Math.floor(rand() * 3)] as Settlement) : true,
        );
        const run = await drive({ abortCriteria: [criterion] }, outcomes.length, (i) => outcomes[i] as Settlement, 16);
        // Concurrent workers may send out of device order: the reference reads the answers in the order they came.
        const expected = tripPoint(criterion, run.answered);
        // When it trips, the last answer is the one that tripped it: no reset was sent after it.
        expect(run.sent).toHaveLength(expected ?? outcomes.length);
        expect(run.tripAt).toBe(expected);
        expect(new Set(run.sent).size).toBe(run.sent.length);
        if (expected !== undefined) trips++;
      }
      // The seeds exercise the trip, not only the runs that never trip.
      expect(trips).toBeGreaterThan(0);
    },
  );

  test("failures of other kinds do not count for a typed criterion", async () => {
    const run = await drive(
      { abortCriteria: [{ failureType: "jobFailed", thresholdPercentage: 10, minExecuted: 5 }] },
      30,
      (i) => (i % 2 === 0 ? "unknownOutcome" : true),
    );
    expect(run.sent).toHaveLength(30);
  });

  test("maxFailureRatio keeps its strict threshold alongside the criteria", async () => {
    // 4 of 20 is exactly 0.2: maxFailureRatio 0.2 does not abort; an abort criterion of 20% does.
    const outcomes = (i: number): Settlement => (i < 4 ? false : true);
    expect((await drive({ maxFailureRatio: 0.2 }, 50, outcomes)).sent).toHaveLength(50);
    const both = await drive(
      { maxFailureRatio: 0.2, abortCriteria: [{ failureType: "any", thresholdPercentage: 20, minExecuted: 20 }] },
      50,
      outcomes,
    );
    expect(both.sent).toHaveLength(20);
    expect(both.error).toMatch(
      /^aborted by abortCriteria\[0\] \(any at 20% or more of at least 20 executed\): 4 of 20 /,
    );
  });

  test("a reset stopped before the wire is not executed: it frees its place and counts nowhere", async () => {
    const guard = new UpdateGuard();
    await guard.admit({ maxResetsPerUpdate: 1 });
    guard.settle("unsent");
    await guard.admit({ maxResetsPerUpdate: 1 });
    expect(guard.succeeded + guard.failed).toBe(0);
  });
});

describe("rollout windows", () => {
  const at = (iso: string) => Date.parse(iso);
  // 2026-11-27 is a Friday.
  test("notBefore in the future: closed, opening at notBefore", () => {
    expect(closedAt({ notBefore: "2026-11-27T10:00:00+08:00" }, at("2026-11-27T01:00:00Z"))).toEqual({
      reason: "notBefore 2026-11-27T10:00:00+08:00 has not come yet",
      nextOpening: at("2026-11-27T02:00:00Z"),
    });
    expect(closedAt({ notBefore: "2026-11-27T10:00:00+08:00" }, at("2026-11-27T02:00:00Z"))).toBeUndefined();
  });

  test("notAfter passed: closed with no next opening", () => {
    expect(closedAt({ notAfter: "2026-11-27T02:00:00Z" }, at("2026-11-27T02:00:00Z"))).toEqual({
      reason: "notAfter 2026-11-27T02:00:00Z has passed",
    });
    expect(closedAt({ notAfter: "2026-11-27T02:00:00Z" }, at("2026-11-27T01:59:59.999Z"))).toBeUndefined();
  });

  test("a daily window: open inside, the next opening the same day or the next", () => {
    const w = { maintenanceWindows: [{ start: "02:00", durationMinutes: 60 }] };
    expect(closedAt(w, at("2026-11-27T02:30:00Z"))).toBeUndefined();
    expect(closedAt(w, at("2026-11-27T03:00:00Z"))?.nextOpening).toBe(at("2026-11-28T02:00:00Z"));
    expect(closedAt(w, at("2026-11-27T01:59:00Z"))?.nextOpening).toBe(at("2026-11-27T02:00:00Z"));
  });

  test("a window across midnight is open after midnight on the day after its start day", () => {
    const w = { maintenanceWindows: [{ start: "23:00", durationMinutes: 120, days: ["Fri" as const] }] };
    expect(closedAt(w, at("2026-11-28T00:59:00Z"))).toBeUndefined(); // Saturday, in Friday's window
    expect(closedAt(w, at("2026-11-28T01:00:00Z"))?.nextOpening).toBe(at("2026-12-04T23:00:00Z"));
    expect(closedAt(w, at("2026-11-27T22:00:00Z"))?.nextOpening).toBe(at("2026-11-27T23:00:00Z"));
  });

  test("weekdays only: from Friday evening the next opening is Monday", () => {
    const w = {
      maintenanceWindows: [{ start: "01:30", durationMinutes: 30, days: ["Mon", "Tue", "Wed", "Thu", "Fri"] as const }],
    };
    expect(closedAt(w, at("2026-11-27T18:00:00Z"))).toEqual({
      reason: "no maintenance window is open",
      nextOpening: at("2026-11-30T01:30:00Z"),
    });
  });

  test("several windows: the earliest opening wins; notBefore inside a window opens at notBefore", () => {
    const w = {
      maintenanceWindows: [
        { start: "20:00", durationMinutes: 60 },
        { start: "06:00", durationMinutes: 180 },
      ],
    };
    expect(nextOpening(w, at("2026-11-27T12:00:00Z"))).toBe(at("2026-11-27T20:00:00Z"));
    expect(nextOpening(w, at("2026-11-27T21:00:00Z"))).toBe(at("2026-11-28T06:00:00Z"));
    expect(closedAt({ ...w, notBefore: "2026-11-28T07:15:00Z" }, at("2026-11-27T21:00:00Z"))?.nextOpening).toBe(
      at("2026-11-28T07:15:00Z"),
    );
    expect(closedAt({ ...w, notBefore: "2026-11-28T10:00:00Z" }, at("2026-11-27T21:00:00Z"))).toEqual({
      reason: "notBefore 2026-11-28T10:00:00Z has not come yet (and no maintenance window is open then)",
      nextOpening: at("2026-11-28T20:00:00Z"),
    });
  });

  test("no opening before notAfter: none is named", () => {
    const w = { maintenanceWindows: [{ start: "02:00", durationMinutes: 60 }], notAfter: "2026-11-28T01:00:00Z" };
    expect(closedAt(w, at("2026-11-27T12:00:00Z"))).toEqual({ reason: "no maintenance window is open" });
  });

  test("the guard refuses outside the window with the opening time, and stops mid-update when the window ends", async () => {
    const clock = new FakeClock(at("2026-11-27T01:00:00Z"));
    const guard = new UpdateGuard(clock);
    const limits: RolloutControls = { notBefore: "2026-11-27T02:00:00Z", notAfter: "2026-11-27T02:00:05Z" };
    await expect(guard.admit(limits)).rejects.toThrow(
      "outside the rollout window: notBefore 2026-11-27T02:00:00Z has not come yet, so nothing more is sent in this " +
        "update; the next window opens at 2026-11-27T02:00:00.000Z; run the update again then (devices not reset stay " +
        "pending and are reset by that update).",
    );
    clock.t = at("2026-11-27T02:00:04.999Z");
    await guard.admit(limits);
    expect(() => guard.checkWindow(limits)).not.toThrow();
    clock.t = at("2026-11-27T02:00:05Z");
    expect(() => guard.checkWindow(limits)).toThrow(
      "outside the rollout window: notAfter 2026-11-27T02:00:05Z has passed, so nothing more is sent in this update; " +
        "no window opens again: widen notAfter (or the maintenance windows) to go on (devices not reset stay pending " +
        "and are reset by that update).",
    );
  });
});

describe("exponential ramp", () => {
  test("admissions are evenly spaced at the current rate, multiplied after every increaseEveryResets", async () => {
    const start = Date.parse("2026-11-27T00:00:00Z");
    const clock = new FakeClock(start);
    const guard = new UpdateGuard(clock);
    const ramp = { baseRatePerMinute: 60, incrementFactor: 2, increaseEveryResets: 3 };
    const times: number[] = [];
    const workers = Array.from({ length: 4 }, async () => {
      for (let k = 0; k < 3; k++) {
        await guard.admit({ ramp });
        times.push(clock.now() - start);
        guard.settle(true);
      }
    });
    await flush();
    for (let i = 0; i < 100 && (await clock.next()); i++);
    await Promise.all(workers);
    // 60/min (1 s apart) for the first 3 gaps... the gap before reset k is 60 s / (60 × 2^floor(k/3)).
    expect(times).toEqual([0, 1000, 2000, 2500, 3000, 3500, 3750, 4000, 4250, 4375, 4500, 4625]);
    expect(rampInterval(ramp, 3)).toBe(500);
  });

  test("an idle ramp does not bank slots: after a pause the next admission waits one interval, not zero", async () => {
    const clock = new FakeClock(0);
    const guard = new UpdateGuard(clock);
    const ramp = { baseRatePerMinute: 600, incrementFactor: 1, increaseEveryResets: 10 };
    await guard.admit({ ramp });
    guard.settle(true);
    clock.t = 60_000;
    await guard.admit({ ramp }); // the slot (100 ms) is long past: goes at once
    guard.settle(true);
    const third = guard.admit({ ramp });
    let done = false;
    void third.then(() => (done = true));
    await flush();
    expect(done).toBe(false);
    await clock.next();
    expect(clock.now()).toBe(60_100);
    expect(done).toBe(true);
  });
});
