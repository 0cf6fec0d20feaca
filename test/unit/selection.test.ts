import fc from "fast-check";
import {
  checkStages,
  defaultBatchCount,
  MAX_BATCHES,
  planCohort,
  planStages,
  splitBatchOf,
  unitHash,
} from "../../provider/shared/selection";
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

  test("the default layout: one batch per batchSize devices, at most 32, then the batches grow with the fleet", () => {
    expect(
      [1, 500, 501, 1000, 1001, 15_500, 15_501, 16_000, 100_000, 300_000].map((n) => defaultBatchCount(n, 500)),
    ).toEqual([1, 1, 2, 2, 3, 31, 32, 32, 32, 32]);
    expect(MAX_BATCHES).toBe(32);
    const plan = planCohort(fleet(5000), [100], 1, 500);
    expect(plan.buckets).toBe(10);
    expect(plan.batches.reduce((n, b) => n + b.devices.length, 0)).toBe(5000);
    // Ten batches: four hold a sixteenth of the fleet (split), six an eighth; none reaches twice the average.
    const sizes = plan.batches.map((b) => b.devices.length);
    for (const bucket of [0, 1, 8, 9]) expect(Math.abs((sizes[bucket] as number) - 5000 / 16)).toBeLessThan(80);
    for (const bucket of [2, 3, 4, 5, 6, 7]) expect(Math.abs((sizes[bucket] as number) - 5000 / 8)).toBeLessThan(110);
    const large = planCohort(fleet(100_000), [100], 1, 500);
    expect(large.buckets).toBe(32);
    for (const b of large.batches) expect(Math.abs(b.devices.length - 3125)).toBeLessThan(250);
  });

  test("from count to count + 1 batches, one batch splits: half its devices move to the new one, no other moves", () => {
    const keysOf = fleet(2000).map(deviceKey);
    let was = keysOf.map((k) => splitBatchOf(k, 1));
    for (let count = 1; count <= 40; count++) {
      const now = keysOf.map((k) => splitBatchOf(k, count + 1));
      let level = 1;
      while (level * 2 <= count) level *= 2;
      const moved = keysOf.map((_, i) => i).filter((i) => now[i] !== was[i]);
      for (const i of moved) expect([was[i], now[i]]).toEqual([count - level, count]);
      // Half of the split batch moves: within 4 standard deviations of a fair coin per device.
      const inSplit = was.filter((b) => b === count - level).length;
      expect(Math.abs(moved.length - inSplit / 2)).toBeLessThan(2 * Math.sqrt(inSplit));
      expect(Math.max(...now)).toBe(count);
      was = now;
    }
  });

  test("the default layout is fixed: these devices keep these batches in every version (deployed stacks rely on it)", () => {
    const of = (key: string) => [1, 3, 17, 32].map((count) => splitBatchOf(key, count));
    expect(of("a1Cohort/dev-00000")).toEqual([0, 0, 12, 28]);
    expect(of("a1Cohort/dev-00001")).toEqual([0, 1, 13, 13]);
    expect(of("iotId:Q7u0001")).toEqual([0, 2, 2, 18]);
    expect(of("a1Bench/cam-42")).toEqual([0, 1, 5, 21]);
  });

  test("a growing fleet: one device added changes at most one existing batch, and adds at most one", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 17_000 }), fc.integer({ min: 1, max: 3 }), (n, added) => {
        const before = planCohort(fleet(n), [100], 1, 500);
        const after = planCohort([...fleet(n), ...fleet(added, "new-")], [100], 1, 500);
        expect(after.buckets - before.buckets).toBeLessThanOrEqual(1);
        const old = new Set(fleet(n).map(deviceKey));
        const changed = after.batches.filter((b) => {
          const was = before.batches[b.bucket]?.devices.map(deviceKey) ?? [];
          return JSON.stringify(b.devices.map(deviceKey).filter((k) => old.has(k))) !== JSON.stringify(was);
        });
        // The split batch loses devices and the new batch takes them: nothing else re-forms.
        expect(changed.length).toBeLessThanOrEqual(after.buckets > before.buckets ? 2 : 0);
      }),
      { numRuns: 20 },
    );
  });

  test("each stage of a gated cohort grows the same way, from its own share of the fleet", () => {
    const before = planStages(fleet(3000), [10, 100], 2, 100);
    const after = planStages([...fleet(3000), ...fleet(1, "new-")], [10, 100], 2, 100);
    expect(before.map((s) => s.buckets)).toEqual(after.map((s) => s.buckets));
    const changed = after.flatMap((s, i) =>
      s.batches.filter(
        (b) =>
          JSON.stringify(b.devices.map(deviceKey)) !==
          JSON.stringify(before[i]?.batches[b.bucket]?.devices.map(deviceKey)),
      ),
    );
    expect(changed).toHaveLength(1);
  });

  test("a pinned batchCount keeps the layout of 0.1: the device's batch hash times the count", () => {
    const plan = planCohort(fleet(500), [100], 1, 10, 8);
    for (const b of plan.batches)
      for (const d of b.devices) expect(b.bucket).toBe(Math.floor(unitHash("batch", deviceKey(d)) * 8));
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
