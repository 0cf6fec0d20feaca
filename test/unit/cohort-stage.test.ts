/**
 * `stage` of a cohort: required as soon as there is more than one stage (no default can be right, and "every stage"
 * reset a whole fleet in one update), the one stage when there is one, and `0` still selects nothing.
 */
import * as pulumi from "@pulumi/pulumi";
import { mockRegistrations } from "./program-mocks";
import { DeviceCohortReset } from "../../provider/program/cohort-reset";
import { planCohort } from "../../provider/shared/selection";
import { deviceKey } from "../../provider/shared/device-key";

const { registered, settle, refusal: refused } = mockRegistrations();

const fleet = Array.from({ length: 200 }, (_, i) => ({
  productKey: "a1Stage",
  deviceName: `dev-${String(i).padStart(4, "0")}`,
}));
const cohort = (args: Record<string, unknown>) =>
  new DeviceCohortReset("cams", { devices: fleet, campaign: "c1", batchCount: 2, ...args } as never);

/** The device keys the registered batches hold, sorted. */
const batchKeys = () =>
  registered
    .filter((r) => r.type.endsWith("DeviceBatchReset"))
    .flatMap((r) => r.inputs.devices as string[])
    .sort();

/** The value of an output, as the mocked runtime resolves it. */
const valueOf = <T>(output: pulumi.Output<T>) => new Promise<T>((resolve) => output.apply(resolve));

/** The message of the InputError the cohort of `args` throws, nothing registered. */
const refusal = async (args: Record<string, unknown>) => (await refused(() => cohort(args))).message;

describe("DeviceCohortReset `stage`", () => {
  test("several stages and no `stage` are refused before anything is registered, saying what to write", async () => {
    expect(await refusal({ stages: [1, 10, 100] })).toBe(
      'DeviceCohortReset "cams": `stage` is required when `stages` has more than one entry ([1, 10, 100]): set ' +
        "`stage: 1` to reset the first stage (1% of the fleet), and raise it in later updates.",
    );
    expect(await refusal({ stages: [5, 100] })).toBe(
      'DeviceCohortReset "cams": `stage` is required when `stages` has more than one entry ([5, 100]): set ' +
        "`stage: 1` to reset the first stage (5% of the fleet), and raise it in later updates.",
    );
  });

  test("the missing `stage` is listed with the other problems of the cohort", async () => {
    expect(await refusal({ stages: [10, 100], batchSize: 0 })).toBe(
      'DeviceCohortReset "cams" has 2 problems:\n' +
        "  `stage` is required when `stages` has more than one entry ([10, 100]): set `stage: 1` to reset the first " +
        "stage (10% of the fleet), and raise it in later updates\n" +
        "  `batchSize` must be a whole number from 1 to 5000, got the number 0",
    );
  });

  test("broken `stages` are named alone: the missing `stage` waits for them to be fixed", async () => {
    expect(await refusal({ stages: [10, 5] })).toBe(
      'DeviceCohortReset "cams": `stages` must increase (they are cumulative percentages), but stages[1] = 5 follows 10.',
    );
  });

  test("`stage: null` is refused, and left out is offered only for a single stage", async () => {
    expect(await refusal({ stages: [10, 100], stage: null })).toBe(
      'DeviceCohortReset "cams": `stage` is null; give a whole number from 0 to 2.',
    );
    expect(await refusal({ stage: null })).toBe(
      'DeviceCohortReset "cams": `stage` is null; give a whole number from 0 to 1, or leave it out for the one stage.',
    );
  });

  test("`stage`, `batchSize` and the rollout controls are plain values: an Output or a promise is refused", async () => {
    expect(await refusal({ stages: [10, 100], stage: pulumi.output(1) })).toBe(
      'DeviceCohortReset "cams": `stage` must be a whole number from 0 to 2 (how many stages are promoted), got an Output.\n' +
        "`stage` decides which devices and batches the program declares, so it is read while the program runs: give a " +
        'plain value (from stack config, e.g. `new pulumi.Config().requireNumber("stage")`), not an Output or a promise.',
    );
    expect(await refusal({ maxFailureRatio: pulumi.output(0.1), batchSize: Promise.resolve(50), stage: 1 })).toBe(
      'DeviceCohortReset "cams" has 2 problems:\n' +
        "  `batchSize` must be a whole number from 1 to 5000, got a Promise\n" +
        "  `maxFailureRatio` must be a number from 0 to 1, got an Output\n" +
        "`batchSize`, `maxFailureRatio` decide which devices and batches the program declares, so they are read while " +
        'the program runs: give a plain value (from stack config, e.g. `new pulumi.Config().requireNumber("stage")`), ' +
        "not an Output or a promise.",
    );
  });

  test("with the default `stages` ([100]) and no `stage`, the whole fleet is the one stage", async () => {
    const made = cohort({});
    await settle();
    expect(batchKeys()).toEqual(fleet.map(deviceKey).sort());
    expect(await valueOf(made.selectedCount)).toBe(200);
    expect(await valueOf(made.stageCounts)).toEqual([200]);
  });

  test("a single stage below 100% without `stage` selects that stage, not more", async () => {
    const made = cohort({ stages: [30] });
    await settle();
    const expected = planCohort(fleet, [30], 1, 500).selected.map(deviceKey).sort();
    expect(expected.length).toBeGreaterThan(0);
    expect(expected.length).toBeLessThan(200);
    expect(batchKeys()).toEqual(expected);
    expect(await valueOf(made.selectedCount)).toBe(expected.length);
  });

  test("`stage: 1` of several stages selects the first stage only; `stage: 0` selects nothing", async () => {
    const first = cohort({ stages: [10, 50, 100], stage: 1 });
    await settle();
    const expected = planCohort(fleet, [10, 50, 100], 1, 500).selected.map(deviceKey).sort();
    expect(batchKeys()).toEqual(expected);
    expect(await valueOf(first.selectedCount)).toBe(expected.length);
    expect(expected.length).toBeLessThan(40);
    registered.splice(0);
    const none = cohort({ stages: [10, 50, 100], stage: 0 });
    await settle();
    // The batches are still declared, empty, so that records of earlier resets persist.
    expect(registered.filter((r) => r.type.endsWith("DeviceBatchReset")).map((r) => r.name)).toEqual([
      "cams-b2-0",
      "cams-b2-1",
    ]);
    expect(batchKeys()).toEqual([]);
    expect(await valueOf(none.selectedCount)).toBe(0);
  });
});
