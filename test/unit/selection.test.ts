import fc from "fast-check";
import { bucketCount, checkStages, planCohort } from "../../provider/shared/selection";
import { deviceKey, FleetDevice } from "../../provider/shared/device-key";

const fleet = (n: number, prefix = "dev-"): FleetDevice[] =>
  Array.from({ length: n }, (_, i) => ({
    productKey: "a1Bench",
    deviceName: `${prefix}${String(i).padStart(5, "0")}`,
  }));
const keys = (devices: readonly FleetDevice[]) => new Set(devices.map(deviceKey));
const batchOf = (plan: ReturnType<typeof planCohort>) => {
  const m = new Map<string, number>();
  for (const b of plan.batches) for (const d of b.devices) m.set(deviceKey(d), b.bucket);
  return m;
};

describe("stage selection", () => {
  test("is deterministic: the same fleet gives the same plan", () => {
    expect(planCohort(fleet(300), [1, 10, 100], 2, 50)).toEqual(planCohort(fleet(300), [1, 10, 100], 2, 50));
  });

  test("promoting a stage only adds devices", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 400 }),
        fc.uniqueArray(fc.integer({ min: 1, max: 100 }), { minLength: 1, maxLength: 5 }),
        (n, raw) => {
          const stages = [...raw].sort((a, b) => a - b);
          const devices = fleet(n);
          for (let s = 1; s < stages.length; s++) {
            const before = keys(planCohort(devices, stages, s, 100).selected);
            const after = keys(planCohort(devices, stages, s + 1, 100).selected);
            for (const k of before) expect(after.has(k)).toBe(true);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  test("with a pinned batchCount, adding or removing other devices moves no device between stages or batches", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 299 }),
        fc.integer({ min: 1, max: 250 }),
        fc.integer({ min: 0, max: 500 }),
        (removeFrom, removeCount, added) => {
          const all = fleet(300);
          const changed = [
            ...all.filter((_, i) => i < removeFrom || i >= removeFrom + removeCount),
            ...fleet(added, "new-"),
          ];
          const a = planCohort(all, [5, 30, 100], 2, 100, 8);
          const b = planCohort(changed, [5, 30, 100], 2, 100, 8);
          const inA = keys(a.selected);
          const inB = keys(b.selected);
          for (const d of all.filter((_, i) => i < removeFrom || i >= removeFrom + removeCount)) {
            expect(inB.has(deviceKey(d))).toBe(inA.has(deviceKey(d)));
          }
          const ba = batchOf(a);
          for (const [k, bucket] of batchOf(b)) if (ba.has(k)) expect(ba.get(k)).toBe(bucket);
        },
      ),
      { numRuns: 60 },
    );
  });

  test("every bucket is planned, empty ones too, so demoting and promoting again keeps each batch", () => {
    const plan = planCohort(fleet(40), [5, 100], 1, 10, 8);
    expect(plan.batches.map((b) => b.bucket)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(plan.batches.filter((b) => b.devices.length === 0).length).toBeGreaterThan(0);
  });

  test("selects a share close to the stage percentage", () => {
    const plan = planCohort(fleet(20_000), [1, 10, 50, 100], 4, 500);
    const [s1, s2, s3, s4] = plan.stageCounts as [number, number, number, number];
    // Binomial sd at 20,000 devices is under 0.4 percentage points; 1.5 points is over 3.5 sd.
    expect(Math.abs(s1 / 200 - 1)).toBeLessThan(1.5);
    expect(Math.abs(s2 / 200 - 10)).toBeLessThan(1.5);
    expect(Math.abs(s3 / 200 - 50)).toBeLessThan(1.5);
    expect(s4).toBe(20_000);
    expect(plan.selected).toHaveLength(20_000);
  });

  test("batches split the selection into buckets of about batchSize", () => {
    const plan = planCohort(fleet(5000), [100], 1, 500);
    expect(plan.buckets).toBe(16);
    expect(plan.batches.reduce((n, b) => n + b.devices.length, 0)).toBe(5000);
    for (const b of plan.batches) expect(b.devices.length).toBeLessThan(500);
    expect(bucketCount(1, 500)).toBe(1);
    expect(bucketCount(500, 500)).toBe(1);
    expect(bucketCount(501, 500)).toBe(2);
    expect(bucketCount(100_000, 500)).toBe(256);
  });

  test("stage 0 selects nothing", () => {
    expect(planCohort(fleet(50), [10, 100], 0, 10).selected).toEqual([]);
  });

  test("stages and stage break rules with a message naming them", () => {
    expect(checkStages([], 1)).toEqual(["`stages` must list at least one percentage, e.g. [1, 10, 100]"]);
    expect(checkStages([10, 5], -1)).toEqual([
      "`stages` must increase (they are cumulative percentages), but stages[1] = 5 follows 10",
      "`stage` must be a whole number from 0 to the number of stages (how many stages are promoted), got the number -1",
    ]);
    expect(checkStages([0, 100], undefined)).toEqual([
      "`stages[0]` must be a percentage in (0, 100], got the number 0",
    ]);
    expect(checkStages([10, 100], 3)).toEqual([
      "`stage` must be a whole number from 0 to 2 (how many stages are promoted), got the number 3",
    ]);
    expect(checkStages([10, 100], 2)).toEqual([]);
    expect(checkStages([100], undefined)).toEqual([]);
    expect(checkStages([10, 100], undefined)).toEqual([
      "`stage` is required when `stages` has more than one entry ([10, 100]): set `stage: 1` to reset the first stage (10% of the fleet), and raise it in later updates",
    ]);
  });
});
