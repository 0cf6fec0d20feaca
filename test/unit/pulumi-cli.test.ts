/** How `npm run pulumi-cli` finds the engine, and what it says when it cannot. */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const CLI = path.resolve(__dirname, "..", "..", "lib", "engine", "cli.js");

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "iot-cli-"));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A stand-in `pulumi` that reports `version`. */
function fakePulumi(version: string): string {
  const bin = path.join(dir, "bin");
  fs.mkdirSync(bin, { recursive: true });
  fs.writeFileSync(path.join(bin, "pulumi"), `#!/bin/sh\n[ "$1" = version ] && echo ${version}\n`, { mode: 0o755 });
  return bin;
}

function findCli(env: Record<string, string>): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [CLI], {
    encoding: "utf8",
    env: { HOME: dir, IOT_RESET_CLI_CACHE: path.join(dir, "cache"), ...env },
  });
}

test("a pulumi v3.139+ on PATH is used as it is", () => {
  const result = findCli({ PATH: fakePulumi("v3.200.1") });
  expect(result.stderr).toBe("");
  expect(result.stdout).toBe(`Pulumi CLI v3.200.1 (path): ${path.join(dir, "bin", "pulumi")}\n`);
  expect(result.status).toBe(0);
});

test("an older pulumi on PATH is passed over; with no Go to build the pin, the message says what to install", () => {
  const result = findCli({ PATH: fakePulumi("v3.100.0") });
  expect(result.status).toBe(1);
  expect(result.stderr).toBe(
    "pulumi v3.100.0 on PATH is older than v3.139.0; using the pinned build instead\n" +
      "no Pulumi CLI on PATH and no Go toolchain to build the pinned one (v3.274.1): install Go 1.24 or later " +
      "(https://go.dev/dl), or Pulumi v3.139.0+ (https://www.pulumi.com/docs/install/), then run again\n",
  );
  expect(fs.existsSync(path.join(dir, "cache"))).toBe(false);
});

test("IOT_RESET_PULUMI_CLI naming something that is not a Pulumi CLI is refused by name", () => {
  const bogus = path.join(dir, "not-pulumi");
  fs.writeFileSync(bogus, "#!/bin/sh\nexit 3\n", { mode: 0o755 });
  const result = findCli({ PATH: "/nonexistent", IOT_RESET_PULUMI_CLI: bogus });
  expect(result.status).toBe(1);
  expect(result.stderr).toBe(`IOT_RESET_PULUMI_CLI=${bogus} does not run as a Pulumi CLI\n`);
});
