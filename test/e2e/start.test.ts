/**
 * `npm start`, the main job: the compiled start script run as a user runs it (offline runner path, as no
 * Pulumi CLI is installed here), on its own port and state file.
 */
import { execFile } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";

const ROOT = path.resolve(__dirname, "..", "..");
const START = path.join(ROOT, "lib", "runner", "start.js");

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

function start(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [START, "--offline", ...args],
      { cwd: ROOT, env: process.env, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr });
      },
    );
  });
}

test("npm start resets the first stage and the gateway; a second run sends nothing; a preview of stage 2 lists only new devices", async () => {
  const state = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "iot-start-")), "state.json");
  const port = String(await freePort());
  const first = await start(["--port", port, "--state", state]);
  expect(first.code).toBe(0);
  expect(first.out.split("\n")[0]).toBe(
    `IoT Platform emulator on http://127.0.0.1:${port} (demo fleet: emulator/fleets/demo.json; test AccessKey LTAIEmulatorTestKey01)`,
  );
  expect(first.out).toContain("offline runner (not `pulumi up`)");
  // Stage 1 of 3 selects 5% of the 240 cameras: 10 of them, plus the gateway (whose job is followed to COMPLETED).
  expect(first.out).toContain("Devices: 11 reset, 0 failed in this run (every other selected device unchanged).");
  expect(first.out).toContain('"jobStatus":"COMPLETED"');
  expect(first.out).toMatch(
    /Emulator request log: \d+ request\(s\) over the wire\n\s+\d+  QueryJob success\n\s+11  ResetThing success\n/,
  );

  const second = await start(["--port", port, "--state", state]);
  expect(second.code).toBe(0);
  expect(second.out).toContain("Devices: 0 reset, 0 failed in this run");
  expect(second.out).toContain("Emulator request log: 0 request(s) over the wire (nothing was sent)");

  const preview = await start(["--port", port, "--state", state, "--preview", "--stage", "2"]);
  expect(preview.code).toBe(0);
  expect(preview.out).toContain("This update would reset 46 device(s):");
  expect(preview.out).toContain("Emulator request log: 0 request(s) over the wire (nothing was sent)");
}, 120_000);

test("with the Pulumi CLI on PATH, npm start runs `pulumi up` on stack dev with a file backend in the repo, no login", async () => {
  // A stand-in `pulumi` that records how it was called: the real CLI cannot be installed on this machine.
  const bin = fs.mkdtempSync(path.join(os.tmpdir(), "fake-pulumi-"));
  const log = path.join(bin, "calls.log");
  fs.writeFileSync(
    path.join(bin, "pulumi"),
    `#!/bin/sh
echo "ARGS $* IN $PWD" >> "${log}"
echo "ENV $PULUMI_BACKEND_URL $ALICLOUD_ACCESS_KEY token=\${ALICLOUD_SECURITY_TOKEN:-none} passphrase=\${PULUMI_CONFIG_PASSPHRASE:+set}" >> "${log}"
[ "$1" = "up" ] && cat Pulumi.dev.yaml >> "${log}"
exit 0
`,
    { mode: 0o755 },
  );
  const port = String(await freePort());
  const example = path.join(ROOT, "examples", "staged-cohort", "Pulumi.dev.yaml");
  const before = fs.readFileSync(example, "utf8");
  const out = await new Promise<{ code: number; text: string }>((resolve) => {
    execFile(
      process.execPath,
      [START, "--port", port, "--stage", "2"],
      {
        cwd: ROOT,
        env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, ALICLOUD_SECURITY_TOKEN: "operators-own-token" },
      },
      (err, stdout, stderr) => resolve({ code: err ? 1 : 0, text: stdout + stderr }),
    );
  });
  expect(out.code).toBe(0);
  const work = path.join(ROOT, ".pulumi", "staged-cohort");
  const calls = fs.readFileSync(log, "utf8");
  expect(calls.split("\n").filter((l) => l.startsWith("ARGS "))).toEqual([
    `ARGS version IN ${ROOT}`,
    `ARGS stack select dev --create IN ${work}`,
    `ARGS up --yes --stack dev IN ${work}`,
  ]);
  expect(calls).toContain(`ENV file://${path.join(ROOT, ".pulumi")} LTAIEmulatorTestKey01 token=none passphrase=set`);
  expect(calls).toContain(
    [
      "config:",
      '  iot-reset-staged-cohort:stage: "2"',
      '  iot-reset-staged-cohort:campaign: "rotation-2026-11"',
      '  alicloud:region: "cn-shanghai"',
      `  iot-reset-staged-cohort:endpoint: "http://127.0.0.1:${port}"`,
    ].join("\n"),
  );
  // The program runs from a git-ignored copy; the tracked example and its stack file are left alone.
  expect(fs.readFileSync(path.join(work, "index.ts"), "utf8")).toBe(
    fs.readFileSync(path.join(ROOT, "examples", "staged-cohort", "index.ts"), "utf8"),
  );
  expect(fs.readFileSync(example, "utf8")).toBe(before);
  // Credentials go to the CLI's environment only, never into a config file.
  expect(calls).not.toContain("secretKey");
}, 60_000);
