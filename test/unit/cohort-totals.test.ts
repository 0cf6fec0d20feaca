/**
 * A cohort's totals over its batches (`resetCount`, `unknownOutcomeCount`), so that a program does not sum batches.
 * The batches' outputs come from the mocked runtime, as their provider would have recorded them.
 */
import * as pulumi from "@pulumi/pulumi";
import { mockRegistrations } from "./program-mocks";
import { DeviceCohortReset } from "../../provider/program/cohort-reset";

/** What each batch (by resource name) recorded: its `resetCount` and its `unknownOutcomes`. */
const recorded: Record<string, Record<string, unknown>> = {};
const lost = (at: string) => ({ sentAt: at, attempt: 1, error: "read ECONNRESET" });
const { registered, settle } = mockRegistrations((args) => recorded[args.name] ?? {});

const fleet = Array.from({ length: 64 }, (_, i) => ({ iotId: `Q7u${String(i).padStart(4, "0")}` }));
const valueOf = <T>(output: pulumi.Output<T>) => new Promise<T>((resolve) => output.apply(resolve));

beforeEach(() => {
  for (const name of Object.keys(recorded)) delete recorded[name];
});

test("resetCount and unknownOutcomeCount are the sums over every batch, empty and unrecorded batches as 0", async () => {
  recorded["cams-b4-0"] = { resetCount: 7, unknownOutcomes: { "iotId:Q7u0001": lost("2026-12-07T01:00:00Z") } };
  recorded["cams-b4-1"] = { resetCount: 11 };
  recorded["cams-b4-2"] = {
    resetCount: 0,
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
  recorded["cams-s1-b1-0"] = { resetCount: 5 };
  recorded["cams-s2-b1-0"] = { resetCount: 40, unknownOutcomes: { "iotId:Q7u0009": lost("2026-12-07T01:00:00Z") } };
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
