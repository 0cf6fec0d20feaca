/**
 * Rollout controls under the real Pulumi CLI: abort criteria stop the update with nothing sent after the trip,
 * windows keep requests inside them (checked right before a request leaves), and a ramp spaces the resets along its
 * curve until the quota caps them. Requests are counted, and timed, at the emulator.
 */
import { Emulator } from "../../emulator";
import { RunResult } from "../../engine/stack";
import { planCohort } from "../../provider/shared/selection";
import { deviceKey, FleetDevice } from "../../provider/shared/device-key";
import { TEST_KEY_ID, TEST_SECRET } from "../provider/support";
import { threadEmulator, ThreadEmulatorOptions } from "./emulator-thread";
import { testStack, TestStack } from "./engine";
import { cohortFleet } from "./programs/cohort";
import { rolloutProgram } from "./programs/rollout";

const secrets = { "alicloud:accessKey": TEST_KEY_ID, "alicloud:secretKey": TEST_SECRET };
const ADVICE =
  "No further device is reset in this update; find and fix the cause (the failures are listed with this error), " +
  "then run it again: devices already reset are recorded and will not be reset again.";

// Two or three `pulumi up` runs per test, on a machine shared with other work.
jest.setTimeout(150_000);

let emu: Emulator | undefined;
let t: TestStack | undefined;
afterEach(async () => {
  await emu?.stop();
  emu = undefined;
  t?.dispose();
  t = undefined;
});

/** An emulator holding `n` devices of the generated fleet (gateways with a topology job when `gateways`). */
async function fleetEmulator(n: number, options: ThreadEmulatorOptions = {}, gateways = false): Promise<Emulator> {
  emu = await threadEmulator(options);
  emu.addDevices(
    "a1Cohort",
    cohortFleet(n).map((d) => ({
      deviceName: d.deviceName,
      ...(gateways ? { gateway: true, subDeviceCount: 2001 } : {}),
    })),
  );
  return emu;
}

async function up(n: number, config: Record<string, string>): Promise<RunResult> {
  t ??= await testStack(rolloutProgram);
  await t.stack.setConfig(
    {
      "alicloud:region": "cn-shanghai",
      endpoint: (emu as Emulator).endpoint,
      devices: String(n),
      campaign: "c1",
      ...config,
    },
    secrets,
  );
  return t.stack.up();
}

/** The devices of the one batch, in the order the batch sends them. */
function batchOrder(n: number): FleetDevice[] {
  return (planCohort(cohortFleet(n), [100], 1, 500, 1).batches[0] as { devices: FleetDevice[] }).devices;
}

const resetRequests = () => (emu as Emulator).requests({ action: "ResetThing" });
const keysOf = (requests: ReturnType<typeof resetRequests>) =>
  requests.map((r) => `${r.params.ProductKey}/${r.params.DeviceName}`);

describe("abort criteria under the Pulumi CLI", () => {
  const N = 60;

  test("businessError: 3 refusals among the first 10 trip at exactly 10 requests; after the fix the next update sends exactly the rest", async () => {
    const order = batchOrder(N);
    const failing = [order[1], order[4], order[6]] as FleetDevice[];
    await fleetEmulator(N);
    for (const d of failing) emu?.failDevice(d, "iot.device.NotExistedDevice");
    const criteria = [{ failureType: "businessError", thresholdPercentage: 25, minExecuted: 10 }];
    const first = await up(N, { abortCriteria: JSON.stringify(criteria) });
    expect(first.exitCode).not.toBe(0);
    expect(resetRequests()).toHaveLength(10);
    expect(keysOf(resetRequests()).sort()).toEqual(order.slice(0, 10).map(deviceKey).sort());
    const errors = first.errors.join("\n");
    expect(errors).toContain(
      "50 device(s) not sent: aborted by abortCriteria[0] (businessError at 25% or more of at least 10 executed): 3 of " +
        "10 resets executed in this update failed with a business error (an answered failure, or refused after " +
        `retries), 30% (7 succeeded; failures by kind: businessError 3). ${ADVICE}`,
    );

    for (const d of failing) emu?.healDevice(d);
    emu?.clearRequests();
    const second = await up(N, { abortCriteria: JSON.stringify(criteria) });
    expect(second.errors).toEqual([]);
    expect(keysOf(resetRequests()).sort()).toEqual(
      order
        .slice(0, 10)
        .filter((d) => failing.includes(d))
        .concat(order.slice(10))
        .map(deviceKey)
        .sort(),
    );
    for (const d of cohortFleet(N)) expect(emu?.resetCount(d)).toBe(1);
  });

  test("unknownOutcome: 3 lost answers among the first 10 trip at exactly 10 requests", async () => {
    await fleetEmulator(N);
    emu?.scriptFaults("ResetThing", "applyThenDrop", 3);
    const criteria = [{ failureType: "unknownOutcome", thresholdPercentage: 30, minExecuted: 10 }];
    const first = await up(N, { abortCriteria: JSON.stringify(criteria) });
    expect(first.exitCode).not.toBe(0);
    expect(resetRequests()).toHaveLength(10);
    expect(resetRequests().filter((r) => r.fault === "applyThenDrop")).toHaveLength(3);
    expect(first.errors.join("\n")).toContain(
      "50 device(s) not sent: aborted by abortCriteria[0] (unknownOutcome at 30% or more of at least 10 executed): 3 of " +
        "10 resets executed in this update failed with an unknown outcome (sent, no answer), 30% (7 succeeded; " +
        `failures by kind: unknownOutcome 3). ${ADVICE}`,
    );
  });

  test("jobFailed: 3 failed device jobs among the first 10 (waitForJob) trip at exactly 10 requests", async () => {
    await fleetEmulator(N, { jobDurationMs: 100 }, true);
    for (let i = 0; i < 3; i++) emu?.failNextJob("FAILED");
    const criteria = [{ failureType: "jobFailed", thresholdPercentage: 20, minExecuted: 10 }];
    const first = await up(N, {
      abortCriteria: JSON.stringify(criteria),
      waitForJob: "true",
      "iotReset:jobPollSeconds": "0.1",
    });
    expect(first.exitCode).not.toBe(0);
    expect(resetRequests()).toHaveLength(10);
    expect(emu?.jobs().filter((j) => j.status === "FAILED")).toHaveLength(3);
    expect(first.errors.join("\n")).toContain(
      "50 device(s) not sent: aborted by abortCriteria[0] (jobFailed at 20% or more of at least 10 executed): 3 of 10 " +
        "resets executed in this update failed in their device job (ended other than COMPLETED), 30% (7 succeeded; " +
        `failures by kind: jobFailed 3). ${ADVICE}`,
    );
  });

  test("any: refusals and lost answers count together; the trip comes at exactly 10 requests", async () => {
    const order = batchOrder(N);
    await fleetEmulator(N);
    emu?.failDevice(order[2] as FleetDevice, "iot.device.NotExistedDevice");
    emu?.failDevice(order[7] as FleetDevice, "iot.device.NotExistedDevice");
    emu?.scriptFaults("ResetThing", "applyThenDrop", 1);
    const criteria = [{ failureType: "any", thresholdPercentage: 20, minExecuted: 10 }];
    const first = await up(N, { abortCriteria: JSON.stringify(criteria) });
    expect(first.exitCode).not.toBe(0);
    expect(resetRequests()).toHaveLength(10);
    // The lost answer may fall on a refused device (then it is an unknown outcome, not a refusal): count from the log.
    const business = resetRequests().filter((r) => r.outcome === "business-error").length;
    const failed = business + 1;
    expect(first.errors.join("\n")).toContain(
      `50 device(s) not sent: aborted by abortCriteria[0] (any at 20% or more of at least 10 executed): ${failed} of 10 ` +
        `resets executed in this update failed (of any kind), ${failed * 10}% (${10 - failed} succeeded; failures by ` +
        `kind: businessError ${business}, unknownOutcome 1). ${ADVICE}`,
    );
  });
});

describe("rollout windows under the Pulumi CLI", () => {
  test("notBefore in the future: no request at all, and the error says when the window opens", async () => {
    const N = 20;
    await fleetEmulator(N);
    const opens = new Date(Math.ceil(Date.now() / 60_000) * 60_000 + 3_600_000).toISOString();
    const result = await up(N, { notBefore: opens });
    expect(result.exitCode).not.toBe(0);
    expect(resetRequests()).toHaveLength(0);
    expect(result.errors.join("\n")).toContain(
      `1 error occurred:\n\t* 20 device(s) not sent: outside ` +
        `the rollout window: notBefore ${opens} has not come yet, so nothing more is sent in this update; the next ` +
        `window opens at ${opens}; run the update again then (devices not reset stay pending and are reset by that update).`,
    );
  });

  test("notAfter mid-cohort: no request a second after it, the rest pending; widened, the next update sends exactly the rest", async () => {
    const N = 150;
    await fleetEmulator(N);
    t = await testStack(rolloutProgram);
    // 5 resets a second: the cohort would take 30 s; the window ends 15 s after the update starts, which leaves a
    // few seconds of sending after the CLI, the program and the provider host have started on a loaded machine.
    const closes = new Date(Date.now() + 15_000).toISOString();
    const first = await up(N, { notAfter: closes, "iotReset:resetQps": "5" });
    expect(first.exitCode).not.toBe(0);
    const sent = resetRequests();
    expect(sent.length).toBeGreaterThan(0);
    expect(sent.length).toBeLessThan(N);
    const last = Math.max(...sent.map((r) => r.time));
    process.stdout.write(
      `notAfter: ${sent.length} of ${N} sent; the last answered ${last - Date.parse(closes)} ms after notAfter\n`,
    );
    expect(last).toBeLessThan(Date.parse(closes) + 1_000);
    expect(first.errors.join("\n")).toContain(
      `${N - sent.length} device(s) not sent: outside the rollout window: notAfter ${closes} has passed, so nothing ` +
        "more is sent in this update; no window opens again: widen notAfter (or the maintenance windows) to go on " +
        "(devices not reset stay pending and are reset by that update).",
    );
    const firstKeys = new Set(keysOf(sent));

    emu?.clearRequests();
    const widened = new Date(Date.now() + 600_000).toISOString();
    const second = await up(N, { notAfter: widened, "iotReset:resetQps": "500" });
    expect(second.errors).toEqual([]);
    expect(keysOf(resetRequests()).sort()).toEqual(
      cohortFleet(N)
        .map(deviceKey)
        .filter((k) => !firstKeys.has(k))
        .sort(),
    );
    for (const d of cohortFleet(N)) expect(emu?.resetCount(d)).toBe(1);
  });
});

describe("exponential ramp under the Pulumi CLI", () => {
  test("2,000 devices follow the ramp's curve within 10% per second until the quota caps the rate", async () => {
    const N = 2000;
    // 10/s for 50 resets, then 20, 40, 80, 160/s, then 320/s: above the quota of 200/s, which takes over.
    const ramp = { baseRatePerMinute: 600, incrementFactor: 2, increaseEveryResets: 50 };
    const quota = 200;
    await fleetEmulator(N);
    const result = await up(N, { ramp: JSON.stringify(ramp), batchCount: "4", "iotReset:resetQps": String(quota) });
    expect(result.errors).toEqual([]);
    const times = resetRequests()
      .map((r) => r.time)
      .sort((a, b) => a - b);
    expect(times).toHaveLength(N);
    // The curve: the gap before reset k is 60 s / (base × factor^floor(k / every)), until it is shorter than the
    // quota's spacing: from there the quota sets the pace.
    const slots = [0];
    let capAt = 0;
    for (let k = 1; k < N; k++) {
      const gap =
        60_000 / (ramp.baseRatePerMinute * Math.pow(ramp.incrementFactor, Math.floor(k / ramp.increaseEveryResets)));
      if (gap < 1000 / quota && capAt === 0) capAt = slots[k - 1] as number;
      slots.push((slots[k - 1] as number) + Math.max(gap, 1000 / quota));
    }
    // 49 gaps of 100 ms, then 50 each of 50, 25, 12.5 and 6.25 ms; the next, 3.125 ms, is under the quota's 5 ms.
    expect(capAt).toBe(9587.5);
    // Where the curve starts on the emulator's clock: the median lag of the k-th request behind the k-th slot (the
    // first request also waits for the connection and the journal to open, so it alone would misplace the curve).
    const lags = times
      .slice(0, 250)
      .map((x, k) => x - (slots[k] as number))
      .sort((a, b) => a - b);
    const t0 = lags[125] as number;
    const onCurve = times.map((x) => x - t0);
    // Slices of one second, their edges half a 12.5 ms gap off the slots, so that no slot sits on an edge.
    const inSlice = (list: number[], from: number) =>
      list.filter((x) => x >= from - 6.25 && x < from + 1000 - 6.25).length;
    const compared: Array<[number, number, number]> = [];
    for (let from = 0; from + 1000 <= capAt; from += 1000)
      compared.push([from / 1000, inSlice(onCurve, from), inSlice(slots, from)]);
    process.stdout.write(
      `ramp per second (s: actual/expected): ${compared.map(([s, a, e]) => `${s}: ${a}/${e}`).join(", ")}\n`,
    );
    for (const [, actual, expected] of compared) {
      expect(Math.abs(actual - expected)).toBeLessThanOrEqual(Math.max(1, Math.round(expected * 0.1)));
    }
    // Capped: no second of the rest sees more than the quota (10% for the edges of a second).
    const capped = onCurve.filter((x) => x >= capAt + 1000);
    const perSecond: number[] = [];
    for (let from = capAt + 1000; from + 1000 <= (capped[capped.length - 1] ?? 0); from += 1000) {
      perSecond.push(inSlice(capped, from));
    }
    process.stdout.write(`capped per second: ${perSecond.join(", ")}\n`);
    for (const n of perSecond) expect(n).toBeLessThanOrEqual(quota * 1.1);
  });
});
