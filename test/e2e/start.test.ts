/**
 * `npm start`, the main job: the compiled start script run as a user runs it, under the real Pulumi CLI, on
 * its own port and state folder.
 */
import { execFile } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { TEST_SECRET } from "../provider/support";

const ROOT = path.resolve(__dirname, "..", "..");
const START = path.join(ROOT, "lib", "demo", "start.js");

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

function start(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [START, ...args],
      { cwd: ROOT, env: { ...process.env, ...env }, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr });
      },
    );
  });
}

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "iot-start-"));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

test("npm start resets the first stage and the gateway under pulumi up; a second run sends nothing; a preview of stage 2 lists only new devices", async () => {
  const port = String(await freePort());
  const example = path.join(ROOT, "examples", "staged-cohort", "Pulumi.dev.yaml");
  const before = fs.readFileSync(example, "utf8");
  // An operator's own STS token in the environment must not reach the emulator's calls.
  const first = await start(["--port", port, "--dir", dir], { ALICLOUD_SECURITY_TOKEN: "operators-own-token" });
  expect(first.out).toContain("Devices: 11 reset, 0 failed in this run (every other selected device unchanged).");
  expect(first.code).toBe(0);
  expect(first.out.split("\n")[0]).toBe(
    `IoT Platform emulator on http://127.0.0.1:${port} (demo fleet: emulator/fleets/demo.json; test AccessKey LTAIEmulatorTestKey01)`,
  );
  expect(first.out).toMatch(/Pulumi CLI v\d+\.\d+\.\d+ \(.+\), stack dev, state in /);
  // Stage 1 of 3 selects 5% of the 240 cameras: 10 of them, plus the gateway (whose job is followed to COMPLETED).
  expect(first.out).toContain('jobStatus: "COMPLETED"');
  expect(first.out).toMatch(/selectedCameras\s*: 10\n/);
  expect(first.out).toMatch(
    /Emulator request log: \d+ request\(s\) over the wire\n\s+\d+  QueryJob success\n\s+11  ResetThing success\n/,
  );
  // The tracked example is left alone; the state lives in the given folder.
  expect(fs.readFileSync(example, "utf8")).toBe(before);
  expect(fs.existsSync(path.join(dir, "backend", ".pulumi", "stacks", "iot-reset-staged-cohort", "dev.json"))).toBe(
    true,
  );
  expect(
    fs.readFileSync(path.join(dir, "backend", ".pulumi", "stacks", "iot-reset-staged-cohort", "dev.json"), "utf8"),
  ).not.toContain("operators-own-token");

  const second = await start(["--port", port, "--dir", dir]);
  expect(second.code).toBe(0);
  expect(second.out).toContain("Devices: 0 reset, 0 failed in this run");
  expect(second.out).toContain("Emulator request log: 0 request(s) over the wire (nothing was sent)");

  const preview = await start(["--port", port, "--dir", dir, "--preview", "--stage", "2"]);
  expect(preview.code).toBe(0);
  expect(preview.out).toContain("This update would reset 46 device(s):");
  expect(preview.out).toContain("Emulator request log: 0 request(s) over the wire (nothing was sent)");
  expect(preview.out).not.toContain(TEST_SECRET);
}, 240_000);

test("bad flags are refused before anything starts", async () => {
  const result = await start(["--stage", "two", "--dir", dir]);
  expect(result.code).toBe(1);
  expect(result.out).toBe('npm start: --stage must be a whole number from 1, got "two"\n');
});
