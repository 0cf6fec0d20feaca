/**
 * A cohort's totals over its batches (`resetCount`, `unknownOutcomeCount`), so that a program does not sum batches.
 * The batches' outputs come from the mocked runtime, as their provider would have recorded them.
 */
import * as pulumi from "@pulumi/pulumi";
import { mockRegistrations } from "./program-mocks";
import { DeviceCohortReset } from "../../provider/program/cohort-reset";

/** What each batch (by resource name) recorded: its `results` and its `unknownOutcomes`. */
const recorded: Record<string, Record<string, unknown>> = {};
const lost = (at: string) => ({ sentAt: at, attempt: 1, error: "read ECONNRESET" });
const { registered, settle } = mockRegistrations((args) => recorded[args.name] ?? {});

const fleet = Array.from({ length: 64 }, (_, i) => ({ iotId: `Q7u${String(i).padStart(4, "0")}` }));
/** The records of `count` devices from `from` on, as a batch's `results`. */
const results = (from: number, count: number) =>
  Object.fromEntries(
    Array.from({ length: count }, (_, i) => [
      `iotId:Q7u${String(from + i).padStart(4, "0")}`,
      { requestId: "R", resetAt: "2026-12-07T01:00:00Z" },
    ]),
  );
const valueOf = <T>(output: pulumi.Output<T>) => new Promise<T>((resolve) => output.apply(resolve));

beforeEach(() => {
  for (const name of Object.keys(recorded)) delete recorded[name];
});

test("resetCount and unknownOutcomeCount count the devices over every batch, empty and unrecorded batches as 0", async () => {
  recorded["cams-b4-0"] = {
    results: results(10, 7),
    unknownOutcomes: { "iotId:Q7u0001": lost("2026-12-07T01:00:00Z") },
  };
  recorded["cams-b4-1"] = { results: results(20, 11) };
  recorded["cams-b4-2"] = {
    results: {},
    unknownOutcomes: { "iotId:Q7u0002": lost("2026-12-07T01:00:01Z"), "iotId:Q7u0003": lost("2026-12-07T01:00:02Z") },
  };
  // cams-b4-3 recorded nothing (a batch whose provider gave no count yet).
  const made = new DeviceCohortReset("cams", { devices: fleet, campaign: "c1", batchCount: 4 });
  await settle();
  expect(
    registered
      .filter((r) => r.type.endsWith("DeviceBatchReset"))
      .map((r) => r.name)
      .sort(),
  ).toEqual(["cams-b4-0", "cams-b4-1", "cams-b4-2", "cams-b4-3"]);
  expect(await valueOf(made.resetCount)).toBe(18);
  expect(await valueOf(made.unknownOutcomeCount)).toBe(3);
});

test("a gated cohort counts the batches of every stage", async () => {
  recorded["cams-s1-b1-0"] = { results: results(0, 5) };
  recorded["cams-s2-b1-0"] = {
    results: results(5, 40),
    unknownOutcomes: { "iotId:Q7u0050": lost("2026-12-07T01:00:00Z") },
  };
  const made = new DeviceCohortReset("cams", {
    devices: fleet,
    campaign: "c1",
    stages: [10, 100],
    stage: 2,
    batchCount: 1,
    promotionGate: { minOnlineRatio: 0.9, waitMinutes: 5 },
  });
  await settle();
  expect(made.batches).toHaveLength(2);
  expect(await valueOf(made.resetCount)).toBe(45);
  expect(await valueOf(made.unknownOutcomeCount)).toBe(1);
});

test("a device recorded by two batches counts once: a split batch keeps the records of the devices that moved out", async () => {
  // 64 devices at batchSize 20 make 4 batches; the records of 5 devices that moved from batch 0 to batch 3 are in both.
  recorded["cams-b0"] = { results: results(0, 12), unknownOutcomes: { "iotId:Q7u0040": lost("2026-12-07T01:00:00Z") } };
  recorded["cams-b3"] = {
    results: { ...results(7, 5), ...results(30, 4) },
    unknownOutcomes: { "iotId:Q7u0040": lost("2026-12-07T01:00:00Z") },
  };
  const made = new DeviceCohortReset("cams", { devices: fleet, campaign: "c1", batchSize: 20 });
  await settle();
  expect(made.batches).toHaveLength(4);
  expect(await valueOf(made.resetCount)).toBe(16);
  expect(await valueOf(made.unknownOutcomeCount)).toBe(1);
});

test("an unknown outcome decided in the device's new batch no longer counts, though the batch it left keeps it", async () => {
  recorded["cams-b0"] = { results: results(0, 12), unknownOutcomes: { "iotId:Q7u0040": lost("2026-12-07T01:00:00Z") } };
  recorded["cams-b3"] = { results: { ...results(7, 5), ...results(40, 1) } };
  const made = new DeviceCohortReset("cams", { devices: fleet, campaign: "c1", batchSize: 20 });
  await settle();
  expect(await valueOf(made.resetCount)).toBe(13);
  expect(await valueOf(made.unknownOutcomeCount)).toBe(0);
});

test("with the journal off and no batchCount, the cohort warns that a split resets the moved devices again", async () => {
  const warn = jest.spyOn(console, "warn").mockImplementation(() => undefined);
  try {
    pulumi.runtime.setConfig("iotReset:journal", "off");
    new DeviceCohortReset("cams", { devices: fleet, campaign: "c1", batchSize: 20 });
    new DeviceCohortReset("pinned", { devices: fleet, campaign: "c1", batchCount: 4 });
    await settle();
    expect(warn.mock.calls.map((c) => String(c[0]))).toEqual([
      "warning: [runtime] iotReset:journal is off, and batchCount is not set: when the fleet grows past a batch, " +
        "about half of one batch's devices move to a new batch and are reset again. Pin `batchCount`, or keep the journal.",
    ]);
  } finally {
    pulumi.runtime.setConfig("iotReset:journal", "");
    warn.mockRestore();
  }
});
