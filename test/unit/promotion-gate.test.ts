/**
 * The promotion gate's pure parts: the per-stage plan, what counts as "came back", the gate's diff, and the cohort
 * arguments that declare it.
 */
import { mockRegistrations } from "./program-mocks";
import { DeviceCohortReset } from "../../provider/program/cohort-reset";
import { InputError } from "../../provider/shared/errors";
import { cameBack, diff } from "../../provider/host/promotion-gate";
import { planCohort, planStages, rolloutPosition } from "../../provider/shared/selection";
import { deviceKey } from "../../provider/shared/device-key";

const { registered, settle } = mockRegistrations();

const fleet = Array.from({ length: 400 }, (_, i) => ({
  productKey: "a1Gate",
  deviceName: `dev-${String(i).padStart(4, "0")}`,
}));
const stages = [5, 25, 100];

describe("planStages", () => {
  test("each stage holds the devices between its percentage and the previous one; promoted stages only are filled", () => {
    const plan = planStages(fleet, stages, 2, 50);
    expect(plan.map((s) => [s.stage, s.promoted])).toEqual([
      [1, true],
      [2, true],
      [3, false],
    ]);
    const stageOf = (key: string) => stages.findIndex((p) => rolloutPosition(key) < p) + 1;
    for (const s of plan) {
      const keys = s.batches.flatMap((b) => b.devices.map(deviceKey));
      if (s.promoted) {
        expect(keys.sort()).toEqual(
          fleet
            .map(deviceKey)
            .filter((k) => stageOf(k) === s.stage)
            .sort(),
        );
      } else expect(keys).toEqual([]);
    }
    // Together the promoted stages select exactly what the unstaged plan selects.
    const promoted = plan.flatMap((s) => s.batches.flatMap((b) => b.devices.map(deviceKey)));
    expect(promoted.sort()).toEqual(planCohort(fleet, stages, 2, 50).selected.map(deviceKey).sort());
  });

  test("bucket counts follow each stage's share of the fleet, or batchCount; unpromoted stages keep their buckets", () => {
    const sizes = stages.map(
      (p, i) =>
        fleet.filter((d) => {
          const x = rolloutPosition(deviceKey(d));
          return x < p && x >= (i === 0 ? 0 : (stages[i - 1] as number));
        }).length,
    );
    const plan = planStages(fleet, stages, 1, 50);
    expect(plan.map((s) => s.buckets)).toEqual(sizes.map((n) => Math.min(32, Math.max(1, Math.ceil(n / 50)))));
    expect(plan.map((s) => s.batches.length)).toEqual(plan.map((s) => s.buckets));
    expect(planStages(fleet, stages, 0, 50, 4).map((s) => s.buckets)).toEqual([4, 4, 4]);
  });
});

describe("cameBack", () => {
  const reset = Date.parse("2026-11-27T03:00:00.000Z");
  test("ONLINE with a status change at or after the reset", () => {
    expect(cameBack({ status: "ONLINE", changedAt: reset }, reset)).toBe(true);
    expect(cameBack({ status: "ONLINE", changedAt: reset + 5_000 }, reset)).toBe(true);
  });
  test("not back: online since before the reset, offline, unactive, or no change time given", () => {
    expect(cameBack({ status: "ONLINE", changedAt: reset - 1 }, reset)).toBe(false);
    expect(cameBack({ status: "OFFLINE", changedAt: reset + 5_000 }, reset)).toBe(false);
    expect(cameBack({ status: "UNACTIVE", changedAt: reset + 5_000 }, reset)).toBe(false);
    expect(cameBack({ status: "ONLINE" }, reset)).toBe(false);
  });
});

describe("the gate's diff", () => {
  const base = { cohort: "fleet", campaign: "c1", stage: 2, minOnlineRatio: 0.9, waitMinutes: 5, promoted: true };
  test("an open gate stays open: new resets or a new rule change nothing", () => {
    const olds = { ...base, passed: true };
    expect(diff("id", olds, { ...base, minOnlineRatio: 0.5, resets: { "a/b": "x" } })).toEqual({
      changes: false,
      replaces: [],
      deleteBeforeReplace: false,
    });
  });
  test("a promotion is an update (the gate checks); a demotion too (it closes); a new campaign replaces", () => {
    expect(diff("id", { ...base, promoted: false, passed: false }, base).changes).toBe(true);
    expect(diff("id", { ...base, passed: true }, { ...base, promoted: false }).changes).toBe(true);
    expect(diff("id", { ...base, passed: true }, { ...base, campaign: "c2" })).toEqual({
      changes: true,
      replaces: ["campaign"],
      deleteBeforeReplace: false,
    });
  });
  test("an unpromoted gate with nothing changed is a no-op", () => {
    const closed = { ...base, promoted: false };
    expect(diff("id", { ...closed, passed: false }, closed).changes).toBe(false);
  });
});

describe("DeviceCohortReset with promotionGate, in the program", () => {
  const cohort = (args: Record<string, unknown>) => () =>
    new DeviceCohortReset("cams", {
      devices: fleet,
      campaign: "c1",
      stages,
      stage: 1,
      batchSize: 50,
      ...args,
    } as never);

  test("batches are formed per stage, each stage after the first waits for its gate", async () => {
    const made = cohort({ stage: 2, promotionGate: { minOnlineRatio: 0.95, waitMinutes: 10 } })();
    await settle();
    const names = registered.filter((r) => r.type.endsWith("DeviceBatchReset")).map((r) => r.name);
    const plan = planStages(fleet, stages, 2, 50);
    expect(names.sort()).toEqual(plan.flatMap((s) => s.batches.map((b) => `cams-s${s.stage}-b${b.bucket}`)).sort());
    const gates = registered.filter((r) => r.type.endsWith("DevicePromotionGate"));
    expect(
      gates.map((g) => [g.name, g.inputs.stage, g.inputs.promoted, g.inputs.minOnlineRatio, g.inputs.waitMinutes]),
    ).toEqual([
      ["cams-gate-s2", 2, true, 0.95, 10],
      ["cams-gate-s3", 3, false, 0.95, 10],
    ]);
    expect(made.gates).toHaveLength(2);
  });

  test("a promotionGate that breaks a rule is refused, naming the field", async () => {
    const refused = async (value: unknown) => {
      let error: unknown;
      try {
        cohort({ promotionGate: value })();
      } catch (err) {
        error = err;
      }
      await settle();
      expect(registered).toHaveLength(0);
      expect(error).toBeInstanceOf(InputError);
      return (error as Error).message;
    };
    expect(await refused({ minOnlineRatio: 1.5, waitMinutes: 10 })).toBe(
      'DeviceCohortReset "cams": `promotionGate.minOnlineRatio` must be a number from 0 to 1, got the number 1.5.',
    );
    expect(await refused({ minOnlineRatio: 0.9 })).toBe(
      'DeviceCohortReset "cams": `promotionGate.waitMinutes` is required (a number from 0 to 1440).',
    );
    expect(await refused(true)).toBe(
      'DeviceCohortReset "cams": `promotionGate` must be an object such as { minOnlineRatio: 0.95, waitMinutes: 30 }, got the boolean true.',
    );
  });
});
