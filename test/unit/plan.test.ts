import { plannedResets, PlanError, readPlan } from "../../provider/plan/read-plan";
import { planCohort } from "../../provider/shared/selection";
import { deviceKey } from "../../provider/shared/device-key";

const BATCH = "pulumi-nodejs:dynamic/iot:DeviceBatchReset";
const DEVICE = "pulumi-nodejs:dynamic/iot:DeviceRegistrationReset";
const d = (n: number) => ({ productKey: "a1", deviceName: `cam-${String(n).padStart(4, "0")}` });

describe("plannedResets", () => {
  test("reads `pulumi preview --json`: creates and replaces reset all, batch updates only unrecorded devices", () => {
    const plan = {
      steps: [
        { op: "same", urn: "u:same", newState: { type: BATCH, inputs: { devices: [d(1)] } } },
        { op: "create", urn: "u:b1", newState: { type: BATCH, inputs: { devices: [d(2), d(3)] } } },
        {
          op: "update",
          urn: "u:b2",
          newState: { type: BATCH, inputs: { devices: [d(4), d(5), d(6)] } },
          oldState: { type: BATCH, outputs: { results: { "a1/cam-0004": { requestId: "R" } } } },
        },
        { op: "replace", urn: "u:dev", newState: { type: DEVICE, inputs: { productKey: "a1", deviceName: "gw-01" } } },
        {
          op: "create-replacement",
          urn: "u:dev",
          newState: { type: DEVICE, inputs: { productKey: "a1", deviceName: "gw-01" } },
        },
        { op: "update", urn: "u:dev2", newState: { type: DEVICE, inputs: { iotId: "Q1" } } },
        {
          op: "create",
          urn: "u:dev3",
          newState: { type: DEVICE, inputs: { iotId: "Q2", productKey: "a1", deviceName: "x-001" } },
        },
        { op: "delete", urn: "u:gone", oldState: { type: BATCH, outputs: {} } },
      ],
    };
    expect(plannedResets(plan)).toEqual([
      { urn: "u:b1", op: "create", devices: ["a1/cam-0002", "a1/cam-0003"] },
      { urn: "u:b2", op: "update", devices: ["a1/cam-0005", "a1/cam-0006"] },
      { urn: "u:dev", op: "replace", devices: ["a1/gw-01"] },
      { urn: "u:dev3", op: "create", devices: ["iotId:Q2"] },
    ]);
  });

  test("a device reset whose identity is unknown at preview is reported as unknown, not as a device", () => {
    const plan = {
      steps: [
        {
          op: "create",
          urn: "u:d",
          newState: { type: DEVICE, inputs: { iotId: "04da6b54-80e4-46f7-96ec-b56ff0331ba9" } },
        },
      ],
    };
    expect(plannedResets(plan)).toEqual([{ urn: "u:d", op: "create", devices: [], unknown: true }]);
  });

  test("a batch whose devices are unknown at preview is reported as unknown", () => {
    const plan = {
      steps: [
        {
          op: "create",
          urn: "u:b",
          newState: { type: BATCH, inputs: { devices: "04da6b54-80e4-46f7-96ec-b56ff0331ba9" } },
        },
      ],
    };
    expect(plannedResets(plan)).toEqual([{ urn: "u:b", op: "create", devices: [], unknown: true }]);
  });

  test("refuses a file that is not a plan", () => {
    expect(() => plannedResets({ resources: [] })).toThrow(
      "not a plan: expected a JSON object with a `steps` array (`pulumi preview --json`)",
    );
  });
});

describe("readPlan: nothing read in part", () => {
  const batch = (urn: string | undefined, devices: unknown, op = "create") => ({
    op,
    ...(urn === undefined ? {} : { urn }),
    newState: { type: BATCH, inputs: { devices } },
  });
  const fleet = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => d(from + i));

  test("steps without a URN are each counted and named by their index (a second one used to vanish)", () => {
    const reading = readPlan({ steps: [batch(undefined, [d(1)]), batch(undefined, fleet(100, 600))] });
    expect(reading.stepsWithoutUrn).toBe(2);
    expect(reading.resets.map((r) => [r.urn, r.step, r.devices.length])).toEqual([
      ["", 0, 1],
      ["", 1, 500],
    ]);
  });

  test("steps sharing a URN are one resource with the union of their devices, each counted once", () => {
    const reading = readPlan({
      steps: [
        batch("u:b", [d(1), d(2)]),
        batch("u:b", [d(2), d(3)]),
        { op: "replace", urn: "u:dev", newState: { type: DEVICE, inputs: { iotId: "Q1" } } },
        { op: "create-replacement", urn: "u:dev", newState: { type: DEVICE, inputs: { iotId: "Q1" } } },
      ],
    });
    expect(reading.resets).toEqual([
      { urn: "u:b", op: "create", devices: ["a1/cam-0001", "a1/cam-0002", "a1/cam-0003"] },
      { urn: "u:dev", op: "replace", devices: ["iotId:Q1"] },
    ]);
  });

  test.each([
    [{ steps: [null] }, "steps[0] is null, not a step"],
    [{ steps: [{ urn: "u:b", newState: { type: BATCH, inputs: { devices: [] } } }] }, "steps[0] has no `op`"],
    [{ steps: [{ op: "create", urn: "u:b" }] }, "steps[0] (u:b) has no resource type"],
    [{ steps: [{ op: "create", urn: "u:b", newState: { type: BATCH } }] }, "steps[0] (u:b) has no inputs"],
    [
      { steps: [batch("u:b", [null])] },
      "steps[0] (u:b): devices[0] is null, not a device ({ productKey, deviceName } or { iotId })",
    ],
    [
      { steps: [batch("u:b", [d(1), { productKey: "a1" }])] },
      "steps[0] (u:b): devices[1] is an object, not a device ({ productKey, deviceName } or { iotId })",
    ],
    [
      { steps: [batch("u:b", "cam-0001")] },
      'steps[0] (u:b): `devices` is the string "cam-0001", not a list of devices',
    ],
    [
      { steps: [{ op: "create", urn: "u:d", newState: { type: DEVICE, inputs: { deviceName: "x" } } }] },
      "steps[0] (u:d): the device has no iotId or productKey/deviceName",
    ],
  ])("a malformed plan is refused: %j", (plan, message) => {
    expect(() => readPlan(plan)).toThrow(new PlanError(message));
  });

  test("a batch of a cohort counts its devices per stage, as the cohort selected them", () => {
    const devices = Array.from({ length: 400 }, (_, i) => d(i));
    const plan = planCohort(devices, [10, 100], 2, 1000, 1);
    const atStage1 = new Set(planCohort(devices, [10, 100], 1, 1000, 1).selected.map(deviceKey));
    const selected = plan.batches[0]?.devices ?? [];
    const reading = readPlan({
      steps: [
        {
          op: "create",
          urn: "u:cams-b1-0",
          newState: { type: BATCH, inputs: { devices: selected, stages: [10, 100] } },
        },
      ],
    });
    const first = selected.filter((x) => atStage1.has(deviceKey(x))).length;
    expect(first).toBeGreaterThan(0);
    expect(reading.resets[0]?.byStage).toEqual([first, 400 - first]);
    expect(reading.resets[0]?.stages).toEqual([10, 100]);
  });
});

describe("unknown outcomes in a plan", () => {
  test("a batch update lists its devices with an unknown outcome apart from the resets; a device update too", () => {
    const plan = {
      steps: [
        {
          op: "update",
          urn: "u:b",
          newState: { type: BATCH, inputs: { devices: [d(1), d(2), d(3), d(4)] } },
          oldState: {
            type: BATCH,
            outputs: {
              results: { "a1/cam-0001": { requestId: "R" } },
              unknownOutcomes: { "a1/cam-0002": { sentAt: "t", attempt: 1, error: "ECONNRESET: socket hang up" } },
            },
          },
        },
        {
          op: "update",
          urn: "u:dev",
          newState: { type: DEVICE, inputs: { productKey: "a1", deviceName: "gw-01" } },
          oldState: {
            type: DEVICE,
            outputs: { success: false, unknownOutcome: { sentAt: "t", attempt: 1, error: "x" } },
          },
        },
      ],
    };
    expect(plannedResets(plan)).toEqual([
      {
        urn: "u:b",
        op: "update",
        devices: ["a1/cam-0003", "a1/cam-0004"],
        unknownOutcome: ["a1/cam-0002"],
        resendAs: ["a1/cam-0002"],
      },
      { urn: "u:dev", op: "update", devices: [], unknownOutcome: ["a1/gw-01"], resendAs: ["a1/gw-01"] },
    ]);
  });
});

describe("devices a split moved to a new batch", () => {
  const key = (n: number) => deviceKey(d(n));
  const record = { requestId: "R", resetAt: "2026-12-01T00:00:00.000Z" };
  const results = (...ns: number[]) => Object.fromEntries(ns.map((n) => [key(n), record]));
  // The batch that split: `same` (seen with --show-sames), its records of the devices that left it kept.
  const split = (campaign: string, op = "same") => ({
    op,
    urn: "urn:pulumi:s::p::iot:DeviceCohortReset$pulumi-nodejs:dynamic/iot:DeviceBatchReset::fleet-b2",
    newState: { type: BATCH, inputs: { campaign, devices: [key(1), key(2)] } },
    oldState: { type: BATCH, outputs: { campaign, results: results(1, 2, 3, 4) } },
  });
  const created = (campaign: string) => ({
    op: "create",
    urn: "urn:pulumi:s::p::iot:DeviceCohortReset$pulumi-nodejs:dynamic/iot:DeviceBatchReset::fleet-b6",
    newState: { type: BATCH, inputs: { campaign, devices: [key(3), key(4), key(5)] } },
  });
  const journal = (value?: string) => (value === undefined ? {} : { config: { "iotReset:journal": value } });

  test("with the journal in a bucket they are listed apart, not counted: only the new device is a reset", () => {
    for (const location of ["s3://bucket/stacks?region=x", "oss://bucket/stacks", " S3://Bucket/stacks"]) {
      const reading = readPlan({ ...journal(location), steps: [split("c1"), created("c1")] });
      expect(reading.journal).toBe("bucket");
      expect(reading.resets).toEqual([
        {
          urn: created("c1").urn,
          op: "create",
          devices: [key(5)],
          moved: [key(3), key(4)],
          movedFrom: ["fleet-b2"],
        },
      ]);
    }
  });

  test("with the journal in a file (the default) or off they are counted, and said to have moved", () => {
    for (const [config, kind] of [
      [journal(), "file"],
      [journal(".iot-reset/j.jsonl"), "file"],
      [journal("off"), "off"],
      [journal("[secret]"), "secret"],
    ] as const) {
      const reading = readPlan({ ...config, steps: [split("c1"), created("c1")] });
      expect(reading.journal).toBe(kind);
      expect(reading.resets).toEqual([
        {
          urn: created("c1").urn,
          op: "create",
          devices: [key(3), key(4), key(5)],
          movedCounted: 2,
          movedFrom: ["fleet-b2"],
        },
      ]);
    }
  });

  test("a merge back: the devices of a deleted batch that records them are moved too", () => {
    const deleted = { ...split("c1", "delete"), newState: undefined };
    const back = {
      ...created("c1"),
      op: "update",
      oldState: { type: BATCH, outputs: { campaign: "c1", results: {} } },
    };
    const reading = readPlan({ ...journal("s3://b/p"), steps: [back, deleted] });
    expect(reading.resets.map((r) => [r.devices, r.moved])).toEqual([[[key(5)], [key(3), key(4)]]]);
  });

  test("records of another scope, a replaced batch or a secret are not this campaign's resets: every device counts", () => {
    const withInputs = (extra: object) => {
      const s = split("c1");
      return { ...s, newState: { ...s.newState, inputs: { ...s.newState.inputs, ...extra } } };
    };
    const secret = (step: ReturnType<typeof split>) => ({
      ...step,
      newState: { ...step.newState, inputs: { ...step.newState.inputs, campaign: "[secret]" } },
    });
    const createdSecret = {
      ...created("c1"),
      newState: { type: BATCH, inputs: { campaign: "[secret]", devices: [key(3), key(4), key(5)] } },
    };
    for (const steps of [
      [split("c0"), created("c1")],
      [withInputs({ region: "cn-beijing" }), created("c1")],
      [withInputs({ iotInstanceId: "iot-06z00" }), created("c1")],
      [withInputs({ endpoint: "iot.cn-beijing.aliyuncs.com" }), created("c1")],
      // A campaign change: the old batch is replaced, its records are the old scope's whatever its outputs say.
      [split("c1", "replace"), split("c1", "delete-replaced"), created("c1")],
      // `[secret]` is how the plan shows any secret: two masks are not the same campaign.
      [secret(split("c1")), createdSecret],
      [created("c1")], // a preview without --show-sames: the batch that split is not in the plan
    ]) {
      const reading = readPlan({ ...journal("s3://b/p"), steps });
      expect(reading.resets.find((r) => r.urn === created("c1").urn)).toEqual({
        urn: created("c1").urn,
        op: "create",
        devices: [key(3), key(4), key(5)],
      });
    }
  });
});

describe("the name of an unknown outcome's next resend", () => {
  test("the key for a first resend, <key>#<n> after n - 1 resends (0.1's `resent: true` is one)", () => {
    const lost = (extra: object) => ({ sentAt: "t", attempt: 1, error: "x", ...extra });
    const reading = readPlan({
      steps: [
        {
          op: "update",
          urn: "u:b",
          newState: { type: BATCH, inputs: { devices: [d(1), d(2), d(3)] } },
          oldState: {
            type: BATCH,
            outputs: {
              results: {},
              unknownOutcomes: {
                "a1/cam-0001": lost({}),
                "a1/cam-0002": lost({ resent: true }),
                "a1/cam-0003": lost({ resent: true, resends: 2 }),
              },
            },
          },
        },
        {
          op: "update",
          urn: "u:dev",
          newState: { type: DEVICE, inputs: { iotId: "Q1" } },
          oldState: { type: DEVICE, outputs: { unknownOutcome: lost({ resent: true, resends: 1 }) } },
        },
      ],
    });
    expect(reading.resets.map((r) => [r.unknownOutcome, r.resendAs])).toEqual([
      [
        ["a1/cam-0001", "a1/cam-0002", "a1/cam-0003"],
        ["a1/cam-0001", "a1/cam-0002#2", "a1/cam-0003#3"],
      ],
      [["iotId:Q1"], ["iotId:Q1#2"]],
    ]);
  });
});
