import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const CLI = path.resolve(__dirname, "..", "..", "lib", "provider", "plan-cli.js");
const BATCH = "pulumi-nodejs:dynamic/iot:DeviceBatchReset";

function planFile(plan: unknown): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "plan-")), "plan.json");
  fs.writeFileSync(file, JSON.stringify(plan));
  return file;
}

const plan = {
  steps: [
    {
      op: "create",
      urn: "urn:b1",
      newState: { type: BATCH, inputs: { devices: [{ productKey: "a1", deviceName: "cam-0001" }, { iotId: "Q7u9" }] } },
    },
  ],
};

describe("iot-reset-plan", () => {
  test("prints every device the plan would reset and a count", () => {
    expect(execFileSync(process.execPath, [CLI, planFile(plan)], { encoding: "utf8" })).toBe(
      "# create urn:b1\na1/cam-0001\niotId:Q7u9\n2 device(s) would be reset by 1 resource(s).\n",
    );
  });

  test("devices with an unknown outcome are listed as such, apart from the resets", () => {
    const withLost = {
      steps: [
        {
          op: "update",
          urn: "urn:b2",
          newState: {
            type: BATCH,
            inputs: { devices: [{ productKey: "a1", deviceName: "cam-0001" }, { iotId: "Q7u9" }] },
          },
          oldState: {
            type: BATCH,
            outputs: { results: {}, unknownOutcomes: { "iotId:Q7u9": { sentAt: "t", attempt: 1, error: "x" } } },
          },
        },
      ],
    };
    expect(execFileSync(process.execPath, [CLI, planFile(withLost)], { encoding: "utf8" })).toBe(
      "# update urn:b2\na1/cam-0001\n" +
        "# unknown outcome (sent, no answer; sent again only if iotReset:resendUnknown names it): iotId:Q7u9\n" +
        "1 device(s) would be reset by 1 resource(s).\n1 device(s) have an unknown outcome and wait for a decision.\n",
    );
  });

  test("--max: exit 1 with a message past the limit, 0 within it", () => {
    const file = planFile(plan);
    const over = spawnSync(process.execPath, [CLI, file, "--max", "1"], { encoding: "utf8" });
    expect(over.status).toBe(1);
    expect(over.stderr).toBe(
      "iot-reset-plan: the update would reset 2 devices, more than --max 1; split the rollout into smaller stages or raise --max.\n",
    );
    expect(spawnSync(process.execPath, [CLI, file, "--max", "2"]).status).toBe(0);
  });

  test("--json prints the count and the resets", () => {
    expect(JSON.parse(execFileSync(process.execPath, [CLI, planFile(plan), "--json"], { encoding: "utf8" }))).toEqual({
      count: 2,
      resets: [{ urn: "urn:b1", op: "create", devices: ["a1/cam-0001", "iotId:Q7u9"] }],
    });
  });

  test("bad input: exit 2 naming the problem", () => {
    const notPlan = spawnSync(process.execPath, [CLI, planFile({ resources: [] })], { encoding: "utf8" });
    expect(notPlan.status).toBe(2);
    expect(notPlan.stderr).toMatch(
      /^iot-reset-plan: .*plan\.json: not a plan: expected a JSON object with a `steps` array/,
    );
    const badMax = spawnSync(process.execPath, [CLI, planFile(plan), "--max", "x"], { encoding: "utf8" });
    expect(badMax.status).toBe(2);
    expect(badMax.stderr).toBe('iot-reset-plan: --max must be a whole number, 0 or more, got "x"\n');
  });
});
