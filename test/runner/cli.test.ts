import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

import { banner } from "../../runner";
import { parseArgs } from "../../runner/cli";
import { SECRET_SIG, SIG_KEY } from "../../runner/wire";
import { ensureRunnerBuilt, RECORDER, Workspace } from "./helpers";

const CLI = path.resolve(__dirname, "..", "..", "lib", "runner", "cli.js");

let ws: Workspace;
beforeAll(ensureRunnerBuilt, 120_000);
beforeEach(() => {
  ws = new Workspace();
});
afterEach(() => ws.dispose());

test("parseArgs reads every option, with several key=value pairs after one --config", () => {
  expect(
    parseArgs([
      "prog",
      "--stack",
      "dev",
      "--state",
      "s.json",
      "--preview",
      "--parallel",
      "3",
      "--config",
      "a=1",
      "alicloud:region=cn-shanghai",
      "--config-secret",
      "token=x=y",
      "--plan-json",
      "plan.json",
      "--yes",
    ]),
  ).toEqual({
    programDir: "prog",
    stack: "dev",
    statePath: "s.json",
    planJsonPath: "plan.json",
    parallel: 3,
    preview: true,
    destroy: false,
    config: { a: "1", "alicloud:region": "cn-shanghai" },
    secretConfig: { token: "x=y" },
  });
});

test("parseArgs names the argument it cannot use", () => {
  expect(() => parseArgs(["prog"])).toThrow("`--stack` is required");
  expect(() => parseArgs(["--stack", "dev"])).toThrow("the program directory is missing");
  expect(() => parseArgs(["prog", "--stack", "dev", "--parallel", "0"])).toThrow(
    "`--parallel` must be a positive integer, got 0",
  );
  expect(() => parseArgs(["prog", "--stack", "dev", "--config", "novalue"])).toThrow(
    "`--config` expects key=value, got novalue",
  );
  expect(() => parseArgs(["prog", "--stack", "dev", "--force"])).toThrow("unknown option `--force`");
});

function cli(...args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], {
    encoding: "utf8",
    env: process.env,
    timeout: 60_000,
  });
}

test("the CLI says first that it is the offline runner, merges flags over the stack file, and keeps secrets secret", () => {
  const out = cli(
    RECORDER,
    "--stack",
    "fromfile",
    "--state",
    ws.statePath,
    "--config",
    `recorder:log=${ws.log}`,
    "--config-secret",
    "secret=s3cr3t",
  );

  expect(out.status).toBe(0);
  const lines = out.stdout.split("\n");
  expect(lines[0]).toBe(banner(RECORDER, ws.statePath, {}));
  expect(ws.mutations()).toEqual(["create f"]);
  expect(lines).toContain("  hidden: [secret]");
  expect(out.stdout).not.toContain("s3cr3t");
  const f = ws.state().resources.find((r) => r.name === "f")!;
  // The provider got the plain value (it echoes its inputs) and the runner marked it secret again.
  expect(f.inputs["token"]).toEqual({ [SIG_KEY]: SECRET_SIG, value: "s3cr3t" });
  expect(f.outputs["token"]).toEqual({
    [SIG_KEY]: SECRET_SIG,
    value: "s3cr3t",
  });
  expect(f.outputs["value"]).toBe("from-file");
});

test("the CLI exits 1 with the resource's error, and a --config flag wins over the stack file", () => {
  const specs = JSON.stringify([{ label: "g", value: "invalid" }]);
  const out = cli(
    RECORDER,
    "--stack",
    "fromfile",
    "--state",
    ws.statePath,
    "--config",
    `recorder:log=${ws.log}`,
    `recorder:resources=${specs}`,
  );

  expect(out.status).toBe(1);
  expect(out.stdout.split("\n")).toContain('error: g: check failed: property `value`: must not be "invalid"');
  expect(fs.existsSync(ws.statePath)).toBe(false);
});
