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

  test("after a stall, overdue callers do not burst: the schedule restarts from now", async () => {
    const clock = fakeClock();
    const pacer = new Pacer({ ceilingQps: 40, now: clock.now, sleep: clock.sleep });
    const sent: number[] = [];
    const waiting = Array.from({ length: 30 }, () => pacer.acquire().then(() => sent.push(clock.now())));
    clock.advance(500); // the event loop was busy for half a second before any grant ran
    await Promise.all(waiting);
    const gaps = sent.slice(1).map((t, i) => t - (sent[i] as number));
    expect(Math.min(...gaps)).toBeCloseTo(1000 / 38, 6);
  });

  test("spaces calls evenly at 98% of the quota: no one-second window holds more than the quota", async () => {
    const clock = fakeClock();
    const pacer = new Pacer({ ceilingQps: 500, now: clock.now, sleep: clock.sleep });
    const sent: number[] = [];
    for (let i = 0; i < 2000; i++) {
      await pacer.acquire();
      sent.push(clock.now());
    }
    let maxInWindow = 0;
    for (let i = 0, j = 0; i < sent.length; i++) {
      while ((sent[i] as number) - (sent[j] as number) >= 1000) j++;
      maxInWindow = Math.max(maxInWindow, i - j + 1);
    }
    expect(maxInWindow).toBe(491);
    expect(pacer.currentQps).toBeCloseTo(490, 6);
  });

  test("scattered throttles do not slow down; a real share cuts by a fifth once a second, then it recovers slowly", async () => {
    const clock = fakeClock();
    const pacer = new Pacer({ ceilingQps: 100, now: clock.now, sleep: clock.sleep });
    // 2% of answers throttled, scattered: retried, no slowdown.
    for (let i = 0; i < 600; i++) {
      pacer.onAnswer(i % 50 === 0);
      clock.advance(3);
    }
    expect(pacer.currentQps).toBeCloseTo(98, 6);
    clock.advance(1000);
    // 10 of 60 answers throttled within a second: over quota, one cut only.
    for (let i = 0; i < 60; i++) pacer.onAnswer(i % 6 === 0);
    expect(pacer.currentQps).toBeCloseTo(78.4, 6);
    expect(pacer.throttled).toBe(22);
    clock.advance(1000);
    for (let i = 0; i < 30; i++) pacer.onAnswer(true);
    expect(pacer.currentQps).toBeCloseTo(62.72, 6);
    // No recovery until two clean seconds have passed since the last cut, then 5% of the target a second.
    clock.advance(1000);
    await pacer.acquire();
    expect(pacer.currentQps).toBeCloseTo(62.72, 6);
    clock.advance(1000);
    await pacer.acquire();
    expect(pacer.currentQps).toBeCloseTo(62.72 + 2 * 4.9, 6);
    clock.advance(10_000);
    await pacer.acquire();
    expect(pacer.currentQps).toBeCloseTo(98, 6);
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
  test("calls released together after the journal are spaced again, just faster than the grants", async () => {
    let t = 1_000_000;
    const pacer = new Pacer({ ceilingQps: 500, now: () => t, sleep: async (ms) => void (t += ms) });
    const sent: number[] = [];
    // Ten granted calls whose journal line was written in one batch reach respace at the same moment.
    for (let i = 0; i < 10; i++) {
      await pacer.respace();
      sent.push(t);
    }
    const gaps = sent.slice(1).map((s, i) => s - (sent[i] as number));
    expect(gaps.every((g) => Math.abs(g - (1000 / 490) * 0.99) < 1e-9)).toBe(true);
    // Later than one slot: no wait.
    t += 100;
    const before = t;
    await pacer.respace();
    expect(t).toBe(before);
  });
});
