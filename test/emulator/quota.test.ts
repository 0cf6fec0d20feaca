// Per-account QPS quotas: a sliding one-second window, so no one-second window ever holds more
// successes than the quota; the excess gets the gateway's Throttling.User.
import * as fc from "fast-check";
import { QueryJobRequest, ResetThingRequest } from "@alicloud/iot20180120";
import { startEmulator, type RecordedRequest } from "../../emulator";
import { QuotaLimiter } from "../../emulator/quota";
import { sdkClient, sdkError } from "./helpers";

/** The largest number of records whose times fall within any one-second window [t, t + 1000). */
function maxInAnySecond(records: readonly Pick<RecordedRequest, "time">[]): number {
  const times = records.map((r) => r.time).sort((a, b) => a - b);
  let best = 0;
  let lo = 0;
  for (let hi = 0; hi < times.length; hi++) {
    while ((times[hi] as number) - (times[lo] as number) >= 1000) lo++;
    best = Math.max(best, hi - lo + 1);
  }
  return best;
}

test("the limiter never admits more than the quota in any one-second window (property)", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 20 }),
      fc.array(fc.integer({ min: 0, max: 400 }), { minLength: 1, maxLength: 300 }),
      (qps, gaps) => {
        const limiter = new QuotaLimiter({ X: qps });
        let now = 1_000_000;
        const admitted: Array<{ time: number }> = [];
        for (const gap of gaps) {
          now += gap;
          if (limiter.admit("acct", "X", now)) admitted.push({ time: now });
        }
        return maxInAnySecond(admitted) <= qps;
      },
    ),
    { numRuns: 200 },
  );
});

/** What a strict sliding one-second window admits, given the arrival times in order (the oracle). */
function strictWindowAdmits(times: readonly number[], qps: number): number {
  const admitted: number[] = [];
  for (const t of times) {
    if (admitted.filter((a) => a > t - 1000).length < qps) admitted.push(t);
  }
  return admitted.length;
}

test("a burst of 1,000 ResetThing calls within one second: exactly 500 succeed, the other 500 get Throttling.User", async () => {
  // The emulator's clock stands still, so every call arrives in the same second however slowly this machine
  // sends them: the outcome depends on the quota alone.
  const instant = Date.now();
  const emu = await startEmulator({
    fleet: { products: [{ productKey: "a1Bench", generate: { prefix: "dev-", count: 1000, pad: 5 } }] },
    clock: () => instant,
  });
  try {
    const client = sdkClient(emu);
    // Sent 50 at a time: a thousand sockets opened at once on a loaded machine hit the SDK's own connect timeout,
    // and the clock standing still makes the pace irrelevant.
    const results: PromiseSettledResult<unknown>[] = [];
    let next = 0;
    const worker = async () => {
      while (next < 1000) {
        const i = next++;
        const name = `dev-${String(i).padStart(5, "0")}`;
        results[i] = await client.resetThing(new ResetThingRequest({ productKey: "a1Bench", deviceName: name })).then(
          (value) => ({ status: "fulfilled" as const, value }),
          (reason: unknown) => ({ status: "rejected" as const, reason }),
        );
      }
    };
    await Promise.all(Array.from({ length: 50 }, worker));
    const all = emu.requests({ action: "ResetThing" });
    expect(all).toHaveLength(1000);
    const successes = emu.requests({ action: "ResetThing", outcome: "success" });
    const throttled = emu.requests({ action: "ResetThing", outcome: "throttled" });
    const expected = 500;
    expect(
      strictWindowAdmits(
        all.map((r) => r.time),
        500,
      ),
    ).toBe(expected);
    expect(successes).toHaveLength(expected);
    expect(throttled).toHaveLength(1000 - expected);
    expect(maxInAnySecond(successes)).toBe(500);
    expect(emu.totalResets()).toBe(expected);
    // The counters agree with the log, and outlive a cleared log.
    emu.clearRequests();
    expect([emu.countOf("ResetThing", "success"), emu.countOf("ResetThing", "throttled")]).toEqual([500, 500]);
    expect(emu.countOf("QueryJob", "success")).toBe(0);
    expect(throttled.every((r) => r.httpStatus === 400 && r.code === "Throttling.User")).toBe(true);
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    expect(rejected).toHaveLength(1000 - expected);
    const reason = rejected[0]?.reason as { code: string; statusCode: number; data: { Message: string } };
    expect([reason.code, reason.statusCode, reason.data.Message]).toEqual([
      "Throttling.User",
      400,
      "Request was denied due to user flow control.",
    ]);
    // A throttled call changed nothing: exactly the successful devices were reset.
    const resetDevices = successes.map((r) => r.params["DeviceName"] as string);
    expect(resetDevices.every((name) => emu.resetCount({ productKey: "a1Bench", deviceName: name }) === 1)).toBe(true);
    expect(
      throttled.every(
        (r) => emu.resetCount({ productKey: "a1Bench", deviceName: r.params["DeviceName"] as string }) === 0,
      ),
    ).toBe(true);
  } finally {
    await emu.stop();
  }
});

test("QueryJob allows 5 calls per second per account, and a quota set at run time applies at once", async () => {
  const emu = await startEmulator();
  try {
    const client = sdkClient(emu);
    const outcomes = await Promise.allSettled(
      Array.from({ length: 7 }, () =>
        client.queryJob(new QueryJobRequest({ jobId: "0123456789abcdef0123456789abcdef" })),
      ),
    );
    // Business errors (an unknown JobId) still count against the quota, as at the gateway.
    expect(outcomes.filter((o) => o.status === "fulfilled")).toHaveLength(5);
    expect(emu.requests({ outcome: "throttled" })).toHaveLength(2);
    expect(emu.quota("QueryJob")).toBe(5);
    emu.setQuota("ResetThing", 0);
    const err = await sdkError(
      client.resetThing(new ResetThingRequest({ productKey: "a1DemoProduct", deviceName: "sensor-001" })),
    );
    expect([err.statusCode, err.code]).toEqual([400, "Throttling.User"]);
    expect(emu.resetCount({ productKey: "a1DemoProduct", deviceName: "sensor-001" })).toBe(0);
  } finally {
    await emu.stop();
  }
});

test("keys of one account share the quota; another account has its own", async () => {
  const emu = await startEmulator({
    quotas: { ResetThing: 2 },
    credentials: [
      { accessKeyId: "LTAIramUserA", accessKeySecret: "secretA" },
      { accessKeyId: "LTAIramUserB", accessKeySecret: "secretB" },
      { accessKeyId: "LTAIotherAcct", accessKeySecret: "secretC", accountId: "9999" },
    ],
  });
  try {
    const call = (id: string, secret: string) =>
      sdkClient(emu, { accessKeyId: id, accessKeySecret: secret })
        .resetThing(new ResetThingRequest({ productKey: "a1DemoProduct", deviceName: "sensor-001" }))
        .then(
          () => "ok",
          (e: { code: string }) => e.code,
        );
    expect(await call("LTAIramUserA", "secretA")).toBe("ok");
    expect(await call("LTAIramUserB", "secretB")).toBe("ok");
    expect(await call("LTAIramUserA", "secretA")).toBe("Throttling.User");
    expect(await call("LTAIotherAcct", "secretC")).toBe("ok");
  } finally {
    await emu.stop();
  }
});
