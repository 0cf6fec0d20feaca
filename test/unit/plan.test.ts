import { plannedResets } from "../../provider/plan";

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

  test("reads the offline runner's plan", () => {
    const plan = {
      steps: [{ urn: "u:b", type: BATCH, name: "b", op: "create", custom: true, inputs: { devices: [d(7)] } }],
    };
    expect(plannedResets(plan)).toEqual([{ urn: "u:b", op: "create", devices: ["a1/cam-0007"] }]);
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
      "not a plan: expected a JSON object with a `steps` array (`pulumi preview --json`, or the offline runner's --plan-json)",
    );
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
      { urn: "u:b", op: "update", devices: ["a1/cam-0003", "a1/cam-0004"], unknownOutcome: ["a1/cam-0002"] },
      { urn: "u:dev", op: "update", devices: [], unknownOutcome: ["a1/gw-01"] },
    ]);
  });
});
