/**
 * What the real engine adds around the provider: `pulumi preview --json` read by `iot-reset-plan`, `refresh`,
 * a partial failure at fleet scale carried to the next update, and credentials in stack config.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { Emulator } from "../../emulator";
import { planCohort } from "../../provider/shared/selection";
import { deviceKey } from "../../provider/shared/device-key";
import { TEST_KEY_ID, TEST_SECRET } from "../provider/support";
import { threadEmulator } from "./emulator-thread";
import { runInChild, testStack, TestStack } from "./engine";
import { cohortFleet, cohortProgram } from "./programs/cohort";
import { deviceProgram } from "./programs/device";

const ROOT = path.resolve(__dirname, "..", "..");
const PLAN_CLI = path.join(ROOT, "lib", "provider", "plan", "cli.js");

let emu: Emulator;
let t: TestStack | undefined;
beforeEach(async () => {
  emu = await threadEmulator({ jobDurationMs: 300 });
});
afterEach(async () => {
  await emu.stop();
  t?.dispose();
  t = undefined;
});

const secrets = { "alicloud:accessKey": TEST_KEY_ID, "alicloud:secretKey": TEST_SECRET };

async function cohortStack(devices: number, config: Record<string, string> = {}): Promise<TestStack> {
  emu.addDevices(
    "a1Cohort",
    cohortFleet(devices).map((d) => ({ deviceName: d.deviceName })),
  );
  t = await testStack(cohortProgram);
  await t.stack.setConfig(
    {
      "alicloud:region": "cn-shanghai",
      endpoint: emu.endpoint,
      devices: String(devices),
      campaign: "c1",
      stage: "1",
      ...config,
    },
    secrets,
  );
  return t;
}

/** `iot-reset-plan` on a plan file, as a pipeline runs it. */
function planTool(planFile: string, args: string[] = []): { code: number; stdout: string; stderr: string } {
  try {
    const stdout = execFileSync(process.execPath, [PLAN_CLI, planFile, ...args], { encoding: "utf8", stdio: "pipe" });
    return { code: 0, stdout, stderr: "" };
  } catch (err) {
    const e = err as { status: number; stdout: string; stderr: string };
    return { code: e.status, stdout: e.stdout, stderr: e.stderr };
  }
}

test("iot-reset-plan reads a real `pulumi preview --json`: exactly the devices the promotion would reset, nothing sent", async () => {
  const stack = (await cohortStack(120)).stack;
  expect((await stack.up()).errors).toEqual([]);
  emu.clearRequests();
  await stack.mergeConfig({ stage: "2" });
  const preview = await stack.preview({ json: true });
  expect(preview.exitCode).toBe(0);
  expect(emu.requests()).toHaveLength(0);
  const planFile = path.join((t as TestStack).dir, "plan.json");
  fs.writeFileSync(planFile, preview.stdout);
  const fleet = cohortFleet(120);
  const at = (stage: number) => new Set(planCohort(fleet, [10, 50, 100], stage, 20).selected.map(deviceKey));
  const added = [...at(2)].filter((k) => !at(1).has(k)).sort();
  const listed = planTool(planFile);
  expect(listed.code).toBe(0);
  const devices = listed.stdout.split("\n").filter((l) => l && !l.startsWith("#") && !l.includes(" would be reset"));
  expect(devices.sort()).toEqual(added);
  expect(listed.stdout).toContain(`${added.length} device(s) would be reset by `);
  const capped = planTool(planFile, ["--max", String(added.length - 1)]);
  expect(capped.code).toBe(1);
  expect(capped.stderr).toBe(
    `iot-reset-plan: the update would reset ${added.length} devices, more than --max ${added.length - 1}; split the rollout into smaller stages or raise --max.\n`,
  );
  expect(emu.requests()).toHaveLength(0);
});

test("refresh keeps every recorded reset and sends no ResetThing", async () => {
  const stack = (await cohortStack(120)).stack;
  const up = await stack.up();
  expect(up.errors).toEqual([]);
  const before = await stack.resources();
  emu.clearRequests();
  const refreshed = await stack.refresh();
  expect(refreshed.exitCode).toBe(0);
  expect(emu.requests({ action: "ResetThing" })).toHaveLength(0);
  const strip = (rs: typeof before) =>
    rs.map((r) => ({ urn: r.urn, results: r.outputs?.results, resetCount: r.outputs?.resetCount }));
  expect(strip(await stack.resources())).toEqual(strip(before));
  const again = await stack.up();
  expect(again.steps.filter((s) => s.op !== "same")).toEqual([]);
  expect(emu.requests({ action: "ResetThing" })).toHaveLength(0);
});

test.each([
  ["5,000 devices in batches of 500", 5000, { batchSize: "500" }],
  // The default layout keeps 32 batches past 16,000 devices: at 1,000,000 each holds 31,250.
  ["one batch of 31,250 devices, as the default layout forms at 1,000,000,", 31250, { batchCount: "1" }],
])(
  "%s with 1%% failing: failures named, 100 a batch, the rest counted; the next update resets exactly what is left, the third nothing",
  async (_, n, layout) => {
    const fleet = cohortFleet(n);
    const stack = (await cohortStack(n, { stage: "3", ...layout })).stack;
    const failing = new Set(fleet.filter((_, i) => i % 100 === 37).map(deviceKey));
    for (const d of fleet) if (failing.has(deviceKey(d))) emu.failDevice(d, "iot.device.NotExistedDevice");
    const first = await stack.up();
    expect(first.exitCode).not.toBe(0);
    const sentKeys = (outcome?: "success") =>
      emu
        .requests({ action: "ResetThing", ...(outcome ? { outcome } : {}) })
        .map((r) => `${r.params.ProductKey}/${r.params.DeviceName}`);
    const reset = new Set(sentKeys("success"));
    // The engine starts no new step after the first failure, so batches not yet started send nothing; every
    // failing device that was sent is named, with its Code.
    const errors = first.errors.join("\n");
    const failedSent = new Set(sentKeys().filter((k) => failing.has(k)));
    expect(failedSent.size).toBeGreaterThan(0);
    const named = new Set(
      [...errors.matchAll(/ResetThing failed for device "([^"]+)": iot\.device\.NotExistedDevice/g)].map((m) => m[1]),
    );
    // A batch names up to 100 of its failed devices and counts the rest: batches of 500 name every one.
    if (n === 5000) {
      expect(named).toEqual(failedSent);
    } else {
      expect([...named].filter((k) => !failedSent.has(k as string))).toEqual([]);
      expect(named.size).toBe(100);
      expect(errors).toContain(
        `… and ${failedSent.size - 100} more failed; the next update sends every device left, and \`iot-reset-plan\` ` +
          "lists them all from `pulumi preview --json`",
      );
    }
    expect([...reset].filter((k) => failing.has(k))).toEqual([]);

    for (const d of fleet) if (failing.has(deviceKey(d))) emu.healDevice(d);
    emu.clearRequests();
    const second = await stack.up();
    expect(second.errors).toEqual([]);
    const left = fleet.map(deviceKey).filter((k) => !reset.has(k));
    expect(sentKeys("success").sort()).toEqual(left.sort());
    // Any other request was refused by the quota and retried: the pacer fills the server's window to its 2% headroom,
    // and a pause of the provider host can bunch paced calls there. A refusal resets nothing: each device is reset once.
    const refused = emu.requests({ action: "ResetThing" }).filter((r) => r.outcome !== "success");
    expect(refused.filter((r) => r.outcome !== "throttled" || r.code !== "Throttling.User")).toEqual([]);
    for (const d of fleet) expect(emu.resetCount(d)).toBe(1);

    emu.clearRequests();
    const third = await stack.up();
    expect(third.exitCode).toBe(0);
    expect(emu.requests()).toHaveLength(0);
  },
  600_000,
);

describe("credentials in stack config", () => {
  const DEVICE_PROGRAM = { file: path.join(__dirname, "programs", "device.ts"), export: "deviceProgram" };
  const plain = () => ({
    "alicloud:region": "cn-shanghai",
    endpoint: emu.endpoint,
    productKey: "a1DemoProduct",
    deviceName: "sensor-001",
    "alicloud:accessKey": TEST_KEY_ID,
  });

  test("a plaintext alicloud:secretKey is refused at preview and at up, saying how to fix it; nothing is sent", async () => {
    t = await testStack(deviceProgram);
    const config = { ...plain(), "alicloud:secretKey": TEST_SECRET };
    // The program refuses by throwing, so it runs in a process of its own, as under `pulumi up`.
    const preview = await runInChild(t, DEVICE_PROGRAM, "preview", config);
    const up = await runInChild(t, DEVICE_PROGRAM, "up", config);
    const refusal =
      "stack config `alicloud:secretKey` is stored in plaintext: Pulumi keeps it unencrypted in Pulumi.<stack>.yaml and in the checkpoint of every update (as an input of the default pulumi-nodejs provider). Set it again with `pulumi config set --secret alicloud:secretKey <value>`, or remove it (`pulumi config rm alicloud:secretKey`) and use the ALICLOUD_SECRET_KEY environment variable or the Alibaba Cloud default credential chain. Nothing was sent.";
    for (const result of [preview, up]) {
      expect(result.exitCode).not.toBe(0);
      expect(result.errors.join("\n")).toContain(refusal);
    }
    expect(emu.requests()).toHaveLength(0);
  });

  test("set with --secret: the reset is sent once and the key is ciphertext in the checkpoint and the export", async () => {
    t = await testStack(deviceProgram);
    await t.stack.setConfig(plain(), { "alicloud:secretKey": TEST_SECRET });
    const preview = await t.stack.preview();
    const up = await t.stack.up();
    expect(preview.exitCode).toBe(0);
    expect(up.errors).toEqual([]);
    expect(emu.requests({ action: "ResetThing" })).toHaveLength(1);
    const checkpoint = fs.readFileSync(t.stack.checkpointPath, "utf8");
    expect(checkpoint).not.toContain(TEST_SECRET);
    expect(t.stack.exportText()).not.toContain(TEST_SECRET);
    // The engine does store the stack config as the default provider's inputs: encrypted, as set.
    expect(checkpoint).toMatch(/"alicloud:secretKey":\{"[0-9a-f]+":"[0-9a-f]+","ciphertext":"v1:/);
    expect([up.stdout, up.stderr, ...up.infos, ...up.warnings].join("\n")).not.toContain(TEST_SECRET);
  });
});
