/**
 * The package as users get it, under the real Pulumi CLI: `npm pack`, installed into a scratch project, with
 * the provider host resolving from that project's `node_modules`. Proves the stable entry point, a small and
 * secret-free serialized provider, and that upgrading the package replaces nothing and sends nothing, a cohort of
 * the previous default layout once its `batchCount` is pinned.
 */
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { Emulator } from "../../emulator";
import { TEST_KEY_ID, TEST_SECRET } from "../provider/support";
import { threadEmulator } from "./emulator-thread";
import { testStack } from "./engine";
import { loadInstalled, packCurrent, releasedTarball, scratchDir, scratchModules } from "./packages";

/** The last release: state written by it must survive an upgrade to this one. */
const PREVIOUS_RELEASE = "0.1.0";

let emu: Emulator;
let work: string;
beforeEach(async () => {
  emu = await threadEmulator();
  emu.addDevices(
    "a1Cohort",
    Array.from({ length: 40 }, (_, i) => ({ deviceName: `dev-${String(i).padStart(5, "0")}` })),
  );
  work = scratchDir("package");
});
afterEach(async () => {
  await emu.stop();
  fs.rmSync(work, { recursive: true, force: true });
});

/** A program of one device and one cohort of 40, using the package installed in `modules`, in the given layout. */
function programUsing(modules: string, layout: { batchCount?: number; batchSize?: number } = { batchCount: 2 }) {
  return async () => {
    const pkg = loadInstalled(modules);
    const endpoint = new pulumi.Config().require("endpoint");
    const device = new pkg.DeviceRegistrationReset("device", {
      productKey: "a1DemoProduct",
      deviceName: "sensor-002",
      endpoint,
    });
    const cohort = new pkg.DeviceCohortReset("fleet", {
      devices: Array.from({ length: 40 }, (_, i) => ({
        productKey: "a1Cohort",
        deviceName: `dev-${String(i).padStart(5, "0")}`,
      })),
      campaign: "c1",
      ...layout,
      endpoint,
    });
    return { requestId: device.requestId, selected: cohort.selectedCount };
  };
}

const config = (emu: Emulator) => ({ "alicloud:region": "cn-shanghai", endpoint: emu.endpoint });
const secrets = { "alicloud:accessKey": TEST_KEY_ID, "alicloud:secretKey": TEST_SECRET };

test("installed from the tarball: resets once, then nothing; __provider under 4 KB, secret-free, one stable require", async () => {
  const project = path.join(work, "project");
  const modules = scratchModules(packCurrent(work), project);
  expect(fs.lstatSync(path.join(modules, "pulumi-alicloud-iot-reset")).isSymbolicLink()).toBe(false);
  const t = await testStack(programUsing(modules), { dir: project, modulesDir: modules });
  await t.stack.setConfig(config(emu), secrets);
  const first = await t.stack.up();
  expect(first.errors).toEqual([]);
  expect(emu.requests({ action: "ResetThing" })).toHaveLength(41);
  expect(emu.requests().filter((r) => r.params.DeviceName === "sensor-002")).toHaveLength(1);
  const second = await t.stack.up();
  expect(second.exitCode).toBe(0);
  expect(emu.requests()).toHaveLength(41);
  const state = fs.readFileSync(t.stack.checkpointPath, "utf8");
  expect([state, first.stdout, second.stdout, ...first.infos].join("\n")).not.toContain(TEST_SECRET);
  for (const resource of await t.stack.resources()) {
    if (!resource.type.startsWith("pulumi-nodejs:dynamic/")) continue;
    const provider = String(resource.outputs?.__provider);
    expect(Buffer.byteLength(provider)).toBeLessThan(4096);
    // Only the stable entry point is required; no build path and no inlined module.
    expect(provider.match(/require\("[^"]+"\)/g)).toEqual(['require("pulumi-alicloud-iot-reset/provider-host")']);
  }
}, 240_000);

test("state written by the previous release, then this version installed: nothing replaced, nothing sent", async () => {
  const project = path.join(work, "project");
  // Each version in a folder of its own: the program runs in this process, where a path once required stays loaded.
  const previous = scratchModules(releasedTarball(PREVIOUS_RELEASE), path.join(work, "previous"));
  const before = await testStack(programUsing(previous), { dir: project, modulesDir: previous });
  await before.stack.setConfig(config(emu), secrets);
  expect((await before.stack.up()).errors).toEqual([]);
  expect(emu.requests({ action: "ResetThing", outcome: "success" })).toHaveLength(41);
  const oldProviders = (await before.stack.resources()).map((r) => r.outputs?.__provider).filter(Boolean);

  const current = scratchModules(packCurrent(work), project);
  const after = await testStack(programUsing(current), { dir: project, modulesDir: current });
  const upgraded = await after.stack.up();
  expect(upgraded.errors).toEqual([]);
  expect(upgraded.exitCode).toBe(0);
  const changed = upgraded.steps.filter((s) => s.op !== "same");
  expect(changed.filter((s) => s.op === "replace" || s.op === "create" || s.op === "delete")).toEqual([]);
  expect(emu.requests({ action: "ResetThing" })).toHaveLength(41);
  // The stored provider text stays what the stable entry point needs, whichever version wrote it.
  expect(oldProviders.length).toBeGreaterThan(0);
}, 300_000);

test("a cohort of the previous release's default layout, upgraded with batchCount pinned to its count: nothing sent", async () => {
  const project = path.join(work, "project");
  const previous = scratchModules(releasedTarball(PREVIOUS_RELEASE), path.join(work, "previous"));
  const before = await testStack(programUsing(previous, { batchSize: 10 }), { dir: project, modulesDir: previous });
  await before.stack.setConfig(config(emu), secrets);
  expect((await before.stack.up()).errors).toEqual([]);
  expect(emu.requests({ action: "ResetThing", outcome: "success" })).toHaveLength(41);
  const batchNames = async (t: typeof before) =>
    (await t.stack.resources())
      .filter((r) => r.type.endsWith(":DeviceBatchReset"))
      .map((r) => r.urn.split("::").pop())
      .sort();
  // 0.1 had no journal: the count in the batch names is what the upgrade pins (CHANGELOG, "Upgrading").
  expect(await batchNames(before)).toEqual(["fleet-b4-0", "fleet-b4-1", "fleet-b4-2", "fleet-b4-3"]);

  const current = scratchModules(packCurrent(work), project);
  const after = await testStack(programUsing(current, { batchSize: 10, batchCount: 4 }), {
    dir: project,
    modulesDir: current,
  });
  const upgraded = await after.stack.up();
  expect(upgraded.errors).toEqual([]);
  expect(upgraded.steps.filter((s) => s.op !== "same").map((s) => `${s.op} ${s.name}`)).toEqual([]);
  expect(await batchNames(after)).toEqual(["fleet-b4-0", "fleet-b4-1", "fleet-b4-2", "fleet-b4-3"]);
  expect(emu.requests({ action: "ResetThing" })).toHaveLength(41);
}, 300_000);

test("a cohort of one batch of the previous release, upgraded without batchCount: the batch is taken over, nothing sent", async () => {
  const project = path.join(work, "project");
  const previous = scratchModules(releasedTarball(PREVIOUS_RELEASE), path.join(work, "previous"));
  const before = await testStack(programUsing(previous, {}), { dir: project, modulesDir: previous });
  await before.stack.setConfig(config(emu), secrets);
  expect((await before.stack.up()).errors).toEqual([]);
  expect(emu.requests({ action: "ResetThing", outcome: "success" })).toHaveLength(41);

  const current = scratchModules(packCurrent(work), project);
  const after = await testStack(programUsing(current, {}), { dir: project, modulesDir: current });
  const upgraded = await after.stack.up();
  expect(upgraded.errors).toEqual([]);
  const batch = upgraded.steps.filter((s) => s.type.endsWith(":DeviceBatchReset"));
  expect(batch.map((s) => `${s.op} ${s.name}`)).toEqual(["same fleet-b0"]);
  expect(emu.requests({ action: "ResetThing" })).toHaveLength(41);
}, 300_000);
