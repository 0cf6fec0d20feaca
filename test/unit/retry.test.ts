import { backoffDelay, classifyFailure, DEFAULT_RETRY_POLICY } from "../../provider/host/retry";
import { Pacer } from "../../provider/host/pacer";

// The wire state comes from the request itself (see provider/host/wire-progress.ts); test/provider/classify.test.ts produces each
// case with a real socket. Here: the table, for every combination the SDK can throw.
const NOT_STARTED = { started: false, written: false };
const NOT_WRITTEN = { started: true, written: false };
const WRITTEN = { started: true, written: true };

describe("classifyFailure", () => {
  test.each([
    ["Throttling.User (400)", { code: "Throttling.User", statusCode: 400 }, WRITTEN, "notApplied", true, true],
    ["Throttling (503)", { code: "Throttling", statusCode: 503 }, WRITTEN, "notApplied", true, true],
    ["429", { code: "TooManyRequests", statusCode: 429 }, WRITTEN, "notApplied", true, true],
    [
      "SignatureDoesNotMatch (400)",
      { code: "SignatureDoesNotMatch", statusCode: 400 },
      WRITTEN,
      "notApplied",
      false,
      false,
    ],
    [
      "InvalidAccessKeyId.NotFound (404)",
      { code: "InvalidAccessKeyId.NotFound", statusCode: 404 },
      WRITTEN,
      "notApplied",
      false,
      false,
    ],
    [
      "ServiceUnavailable (503 JSON)",
      { code: "ServiceUnavailable", statusCode: 503 },
      WRITTEN,
      "answered",
      true,
      false,
    ],
    ["InternalError (500 JSON)", { code: "InternalError", statusCode: 500 }, WRITTEN, "answered", true, false],
    ["ECONNREFUSED", { code: "ECONNREFUSED", syscall: "connect" }, NOT_WRITTEN, "notApplied", true, false],
    [
      "ConnectTimeout before the request was out",
      { name: "RequestTimeoutError", message: "ConnectTimeout: Connect x failed." },
      NOT_WRITTEN,
      "notApplied",
      true,
      false,
    ],
    [
      "credentials",
      new Error("unable to get credentials from any of the providers in the chain"),
      NOT_STARTED,
      "notApplied",
      false,
      false,
    ],
    [
      "ReadTimeout",
      { name: "RequestTimeoutError", message: "ReadTimeout(100). POST http://127.0.0.1 failed." },
      WRITTEN,
      "unknown",
      false,
      false,
    ],
    [
      "ConnectTimeout after the request was written",
      { name: "RequestTimeoutError", message: "ConnectTimeout: Connect x failed." },
      WRITTEN,
      "unknown",
      false,
      false,
    ],
    ["ECONNRESET after sending", { code: "ECONNRESET", message: "socket hang up" }, WRITTEN, "unknown", false, false],
    [
      "a 502 HTML page",
      new SyntaxError("Unexpected token '<', \"<html>\" is not valid JSON"),
      WRITTEN,
      "unknown",
      false,
      false,
    ],
  ] as const)("%s → %s", (_name, err, wire, outcome, retryable, throttled) => {
    expect(classifyFailure(err, wire)).toEqual({ outcome, retryable, throttled });
  });
});

describe("backoffDelay", () => {
  test("doubles up to the cap, with full jitter", () => {
    const top = () => 0.999999;
    expect(backoffDelay(1, DEFAULT_RETRY_POLICY, top)).toBe(199);
    expect(backoffDelay(2, DEFAULT_RETRY_POLICY, top)).toBe(399);
    expect(backoffDelay(6, DEFAULT_RETRY_POLICY, top)).toBe(6399);
    expect(backoffDelay(12, DEFAULT_RETRY_POLICY, top)).toBe(9999);
    expect(backoffDelay(3, DEFAULT_RETRY_POLICY, () => 0)).toBe(0);
  });
});

describe("Pacer", () => {
  function fakeClock() {
    let t = 1_000_000;
    return {
      now: () => t,
      sleep: async (ms: number) => {
        t += ms;
      },
      advance: (ms: number) => {
        t += ms;
      },
    };
  }

  /** The shortest time any run of `run` + 1 consecutive calls took, from its first call to its last. */
  function tightestRun(sent: readonly number[], run: number): number {
    let tightest = Infinity;
    for (let i = run; i < sent.length; i++)
      tightest = Math.min(tightest, (sent[i] as number) - (sent[i - run] as number));
    return tightest;
  }

  /** The most calls in any window (t - 1000, t], as the server's sliding window counts them. */
  function busiestSecond(sent: readonly number[]): number {
    let most = 0;
    for (let i = 0, j = 0; i < sent.length; i++) {
      while ((sent[i] as number) - (sent[j] as number) >= 1000) j++;
      most = Math.max(most, i - j + 1);
    }
    return most;
  }

  /**
   * Time that moves only when every caller waits: the earliest timer fires when no other work is left, as on an
   * idle event loop; `advance` inside a caller is that caller keeping the event loop busy. With `nodeTimers`, delays
   * are whole milliseconds as Node's are: a fractional delay is cut down, and one under 1 ms is 1 ms.
   */
  function virtualClock(options: { nodeTimers?: boolean } = {}) {
    let t = 1_000_000;
    let seq = 0;
    const timers: { at: number; seq: number; fire: () => void }[] = [];
    const delay = (ms: number) => (options.nodeTimers ? Math.max(1, Math.trunc(ms)) : ms);
    return {
      now: () => t,
      sleep: (ms: number) => new Promise<void>((fire) => void timers.push({ at: t + delay(ms), seq: seq++, fire })),
      advance: (ms: number) => void (t += ms),
      async run(work: Promise<unknown>): Promise<void> {
        let done = false;
        void work.then(() => (done = true));
        for (;;) {
          await new Promise((resolve) => setImmediate(resolve));
          if (done) return;
          timers.sort((x, y) => x.at - y.at || x.seq - y.seq);
          const next = timers.shift();
          if (!next) throw new Error("every caller waits and no timer is set");
          t = Math.max(t, next.at);
          next.fire();
        }
      },
    };
  }

  test("slots a short stall missed are made up at up to twice the rate; after a long one the schedule restarts from now", async () => {
    const clock = virtualClock();
    const pacer = new Pacer({ ceilingQps: 40, now: clock.now, sleep: clock.sleep });
    const interval = 1000 / 38;
    const sent: number[] = [];
    const send = async () => {
      await pacer.acquire();
      await pacer.respace();
      sent.push(clock.now());
    };
    for (let i = 0; i < 5; i++) await clock.run(send());
    // The event loop was busy for 150 ms: 5 slots missed, under the 200 ms the pacer makes up.
    const stalledAt = sent.at(-1) as number;
    clock.advance(150);
    await clock.run(Promise.all(Array.from({ length: 20 }, send)));
    // The 20 calls end where an unstalled schedule would have put them: nothing lost, and no 2 calls after a first
    // closer together than 2 half slots (twice the rate; a run at a quota of 40 is 2 calls, the room left under it).
    expect(sent.at(-1)).toBeCloseTo(stalledAt + 20 * interval, 6);
    expect(tightestRun(sent, 2)).toBeCloseTo(interval, 6);
    // Idle for a second, then 10 callers: evenly spaced from now, no credit from the idle time.
    clock.advance(1000);
    const restart = clock.now();
    sent.length = 0;
    await clock.run(Promise.all(Array.from({ length: 10 }, send)));
    expect(sent[0]).toBe(restart);
    expect(sent.at(-1)).toBeCloseTo(restart + 9 * interval, 6);
  });

  test("stalls and journal waits cost no throughput, and no one-second window holds more calls than the rate", async () => {
    const clock = virtualClock();
    const pacer = new Pacer({ ceilingQps: 500, now: clock.now, sleep: clock.sleep });
    const sent: number[] = [];
    // 3,000 calls, 64 at a time; every 100th grant finds the event loop busy for 30 ms, and each call's journal
    // line takes 0 to 9 ms before the call may leave.
    let granted = 0;
    const worker = async (w: number) => {
      for (let i = w; i < 3000; i += 64) {
        await pacer.acquire();
        if (++granted % 100 === 0) clock.advance(30);
        await clock.sleep(i % 10);
        await pacer.respace();
        sent.push(clock.now());
      }
    };
    await clock.run(Promise.all(Array.from({ length: 64 }, (_, w) => worker(w))));
    expect(sent).toHaveLength(3000);
    expect(busiestSecond(sent)).toBeLessThanOrEqual(490);
    // 3,000 calls at 490 a second take 6,120 ms from the first to the last; the stalls, 900 ms in all, cost under
    // 130 ms of it (a pacer that restarts its schedule after each stall loses nearly all 900).
    expect((sent.at(-1) as number) - (sent[0] as number)).toBeLessThan(6_250);
  });

  test("with Node's timers, the calls a stall held back are made up at twice the rate", async () => {
    const clock = virtualClock({ nodeTimers: true });
    const pacer = new Pacer({ ceilingQps: 500, now: clock.now, sleep: clock.sleep });
    const released: number[] = [];
    const sent: number[] = [];
    // 3,000 calls, 64 at a time, each call's send 0.3 ms of work; every 50th call leaves to an event loop busy for
    // 40 ms, which holds back about 20 calls due meanwhile. Together, up to 8 per timer, they are made up at twice
    // the rate; one call per timer drains them barely faster than the rate, and the run takes over 8 s.
    const worker = async (w: number) => {
      for (let i = w; i < 3000; i += 64) {
        await pacer.acquire();
        await pacer.respace();
        released.push(clock.now());
        // The calls of one run were let go together; each sends after the ones before it.
        await Promise.resolve();
        sent.push(clock.now());
        clock.advance(sent.length % 50 === 0 ? 40 : 0.3);
      }
    };
    await clock.run(Promise.all(Array.from({ length: 64 }, (_, w) => worker(w))));
    expect(sent).toHaveLength(3000);
    // Timers cut down to whole milliseconds release nothing early: no window holds more than 490 releases.
    expect(busiestSecond(released)).toBeLessThanOrEqual(490);
    // A stall in the middle of a run holds back the sends of the rest of the run (up to 7) into the next window:
    // still within the quota of 500.
    expect(busiestSecond(sent)).toBeLessThanOrEqual(490 + 7);
    // 6,120 ms at 490 a second; the 60 stalls, 2,400 ms in all, cost about 130 ms of it: each one's shortfall in the
    // server's window lasts the stall and as long again while it is made up.
    expect((sent.at(-1) as number) - (sent[0] as number)).toBeLessThan(6_260);
  });

  test("spaces calls evenly at 98% of the quota: no one-second window holds more than the quota", async () => {
    const clock = fakeClock();
    const pacer = new Pacer({ ceilingQps: 500, now: clock.now, sleep: clock.sleep });
    const sent: number[] = [];
    for (let i = 0; i < 2000; i++) {
      await pacer.acquire();
      sent.push(clock.now());
    }
    expect(busiestSecond(sent)).toBe(491);
    expect(pacer.currentQps).toBeCloseTo(490, 6);
  });

  test("scattered throttles and a stall's burst do not slow down; a real share cuts by a fifth once a second, then it recovers slowly", async () => {
    const clock = fakeClock();
    const pacer = new Pacer({ ceilingQps: 500, now: clock.now, sleep: clock.sleep });
    /** `seconds` of answers at 490 a second, every `every`-th throttled (0: none). */
    const answer = (seconds: number, every: number) => {
      for (let i = 0; i < seconds * 490; i++) {
        pacer.onAnswer(every > 0 && i % every === 0);
        clock.advance(1000 / 490);
      }
    };
    // 2% of answers throttled, scattered: retried, no slowdown.
    answer(3, 50);
    expect(pacer.currentQps).toBeCloseTo(490, 6);
    // A stall at either end: 40 calls refused together by the server's window, 2.7% of three seconds' answers.
    for (let i = 0; i < 40; i++) pacer.onAnswer(true);
    answer(1, 0);
    expect(pacer.currentQps).toBeCloseTo(490, 6);
    expect(pacer.throttled).toBe(30 + 40);
    // Another pipeline takes a share: a fifth of the answers throttled. One cut within the first second, no second
    // cut within a second of it.
    answer(0.5, 5);
    expect(pacer.currentQps).toBeCloseTo(392, 6);
    answer(0.5, 5);
    expect(pacer.currentQps).toBeCloseTo(392, 6);
    answer(0.5, 5);
    expect(pacer.currentQps).toBeCloseTo(313.6, 6);
    // No recovery until two clean seconds have passed since the last cut, then 5% of the target a second.
    clock.advance(1000);
    await pacer.acquire();
    expect(pacer.currentQps).toBeCloseTo(313.6, 6);
    clock.advance(1000);
    await pacer.acquire();
    expect(pacer.currentQps).toBeCloseTo(313.6 + 2 * 24.5, 6);
    clock.advance(10_000);
    await pacer.acquire();
    expect(pacer.currentQps).toBeCloseTo(490, 6);
  });
});

describe("Pacer order", () => {
  test("each slot goes to the oldest batch waiting, so batches sharing the rate end one after another", async () => {
    let t = 1_000_000;
    const pacer = new Pacer({ ceilingQps: 100, now: () => t, sleep: async (ms) => void (t += ms) });
    const served: string[] = [];
    // Two batches' callers arrive interleaved (batch 1 first); after the first slot, a caller of batch 0 arrives.
    const waiting = Array.from({ length: 6 }, (_, i) => {
      const order = i % 2 === 0 ? 1 : 2;
      return pacer.acquire(order).then(() => served.push(`b${order}-${i}`));
    });
    await waiting[0];
    waiting.push(pacer.acquire(0).then(() => served.push("b0")));
    waiting.push(pacer.acquire().then(() => served.push("unordered")));
    await Promise.all(waiting);
    expect(served).toEqual(["b1-0", "b0", "b1-2", "b1-4", "b2-1", "b2-3", "b2-5", "unordered"]);
  });
});

describe("Pacer.respace", () => {
  test("calls released together after the journal leave 8 at a time, at twice the rate", async () => {
    let t = 1_000_000;
    const pacer = new Pacer({ ceilingQps: 500, now: () => t, sleep: async (ms) => void (t += ms) });
    const start = t;
    const sent: number[] = [];
    // Twenty granted calls whose journal line was written in one batch reach respace at the same moment.
    for (let i = 0; i < 20; i++) {
      await pacer.respace();
      sent.push(t - start);
    }
    const run = (8 * 1000) / 490 / 2;
    expect(sent.map((s) => Math.round((s / run) * 1e6) / 1e6)).toEqual([
      ...Array<number>(8).fill(0),
      ...Array<number>(8).fill(1),
      ...Array<number>(4).fill(2),
    ]);
    // Later than one slot: no wait.
    t += 100;
    const before = t;
    await pacer.respace();
    expect(t).toBe(before);
  });

  test("at small quotas a run is no larger than the room left in the server's window", async () => {
    /** When each of `count` calls released together leaves, in half slots from the first. */
    const leaving = async (ceilingQps: number, count: number) => {
      let t = 1_000_000;
      const pacer = new Pacer({ ceilingQps, now: () => t, sleep: async (ms) => void (t += ms) });
      const start = t;
      const halfSlot = 1000 / pacer.currentQps / 2;
      const out: number[] = [];
      for (let i = 0; i < count; i++) {
        await pacer.respace();
        out.push(Math.round(((t - start) / halfSlot) * 1e6) / 1e6);
      }
      return out;
    };
    // 300 a second: paced at 294, 6 calls of room, so 6 at a time.
    expect(await leaving(300, 14)).toEqual([...Array<number>(6).fill(0), ...Array<number>(6).fill(6), 12, 12]);
    // BatchGetDeviceState, 50 a second: paced at 48, 2 calls of room, so 2 at a time.
    expect(await leaving(50, 6)).toEqual([0, 0, 2, 2, 4, 4]);
    // QueryJob, 5 a second: paced at 4, 1 call of room, so one at a time, half a slot apart, then the window.
    expect(await leaving(5, 5)).toEqual([0, 1, 2, 3, 8]);
  });

  test("a full second's worth of calls waits until the oldest of them is a second old", async () => {
    let t = 1_000_000;
    const pacer = new Pacer({ ceilingQps: 500, now: () => t, sleep: async (ms) => void (t += ms) });
    const start = t;
    for (let i = 0; i < 490; i++) await pacer.respace();
    // 490 calls at twice the rate, 8 at a time, took 61 runs of 8 half slots; the 491st leaves when the first leaves
    // the window.
    expect(t).toBeCloseTo(start + (61 * 8 * 1000) / 490 / 2, 6);
    await pacer.respace();
    expect(t).toBe(start + 1000);
  });
});
