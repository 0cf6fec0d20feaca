/**
 * The package as users get it: `npm pack`, installed into a scratch project outside this repo, run through
 * the runtime and the dynamic-provider host. Proves the stable entry point resolves from the program's own
 * node_modules and that the serialized provider stays small and secret-free there too.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Emulator } from "../../emulator";
import { run } from "../../runner";
import { emulator, TEST_KEY_ID, TEST_SECRET } from "../provider/support";

const ROOT = path.resolve(__dirname, "..", "..");
const FIXTURE = path.join(ROOT, "test", "fixtures", "e2e", "device");
const npm = (args: string[], cwd: string) => execFileSync("npm", args, { cwd, stdio: "pipe", encoding: "utf8" });

let scratch: string;
let emu: Emulator;
beforeAll(() => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "iot-reset-pack-"));
  // lib/ is already built by `npm test`; --ignore-scripts packs it as it is.
  const tarball = npm(["pack", "--ignore-scripts", "--silent", "--pack-destination", work], ROOT)
    .trim()
    .split("\n")
    .pop() as string;
  scratch = path.join(work, "project");
  fs.mkdirSync(scratch);
  fs.writeFileSync(path.join(scratch, "package.json"), JSON.stringify({ name: "scratch", private: true }));
  for (const f of ["Pulumi.yaml", "index.ts"]) fs.copyFileSync(path.join(FIXTURE, f), path.join(scratch, f));
  npm(
    ["install", path.join(work, tarball), "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts"],
    scratch,
  );
}, 180_000);
beforeEach(async () => {
  emu = await emulator();
});
afterEach(() => emu.stop());

test("installed from the tarball: resets once, then nothing; __provider under 4 KB with no secret", async () => {
  const installed = path.join(scratch, "node_modules", "pulumi-alicloud-iot-reset");
  expect(fs.lstatSync(installed).isSymbolicLink()).toBe(false);
  const options = {
    programDir: scratch,
    stack: "dev",
    config: {
      "alicloud:region": "cn-shanghai",
      endpoint: emu.endpoint,
      productKey: "a1DemoProduct",
      deviceName: "sensor-002",
    },
    secretConfig: { "alicloud:accessKey": TEST_KEY_ID, "alicloud:secretKey": TEST_SECRET },
  };
  const first = await run(options);
  expect(first.errors).toEqual([]);
  expect(emu.requests().map((r) => [r.action, r.params])).toEqual([
    ["ResetThing", { ProductKey: "a1DemoProduct", DeviceName: "sensor-002" }],
  ]);
  const second = await run(options);
  expect(second.exitCode).toBe(0);
  expect(emu.requests()).toHaveLength(1);
  const stateText = fs.readFileSync(first.statePath, "utf8");
  expect([stateText, first.stdout, second.stdout, first.providerLog.join("\n")].join("\n")).not.toContain(TEST_SECRET);
  const resource = JSON.parse(stateText).resources.find((r: { type: string }) =>
    r.type.endsWith(":DeviceRegistrationReset"),
  );
  const provider: string = resource.outputs.__provider;
  expect(Buffer.byteLength(provider)).toBeLessThan(4096);
  // Only the stable entry point is required; no build path and no inlined module.
  expect(provider.match(/require\("[^"]+"\)/g)).toEqual(['require("pulumi-alicloud-iot-reset/provider-host")']);
}, 120_000);
