/**
 * The GitOps example (`examples/gitops`) as its pipeline runs it: a git repository copied from the example, its
 * scripts run in the order the workflows run them (`npm run build`, `preview`, `check`, `apply`), the real Pulumi CLI
 * with the state and the journal in the S3 server (SeaweedFS), IoT Platform the emulator.
 *
 * A pull request's preview writes the comment and the review; a stale review fails the check; the merge applies
 * exactly the reviewed devices; a fleet edit without its review fails the check, and applied anyway sends nothing;
 * reverting a campaign change back to the completed campaign sends nothing.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { Emulator } from "../../emulator";
import { PROVIDER_HOST_SCRIPT } from "../../engine/cli";
import { startS3Server, type S3Server } from "../../engine/seaweedfs";
import { loadFleet } from "../../provider/program/fleet-file";
import { deviceKey } from "../../provider/shared/device-key";
import { readReview } from "../../provider/shared/review";
import { planCohort } from "../../provider/shared/selection";
import { TEST_KEY_ID, TEST_SECRET } from "../provider/support";
import { threadEmulator } from "./emulator-thread";
import { pulumiCli } from "./engine";
import { providerHosts } from "./processes";

const ROOT = path.resolve(__dirname, "..", "..");
const EXAMPLE = path.join(ROOT, "examples", "gitops");

let s3: S3Server;
let emu: Emulator;
let dir: string;
let repo: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "iot-gitops-"));
  s3 = await startS3Server({ dir: path.join(dir, "s3") });
  for (const bucket of ["fleet-state", "journals"]) await s3.createBucket(bucket);
  emu = await threadEmulator();
  // The emulator holds the demo fleet, the example's 240 cameras among it.
  const cli = await pulumiCli();
  const modules = path.join(ROOT, "node_modules");
  const beside = path.dirname(cli.binary);
  const hostDir = fs.existsSync(path.join(beside, PROVIDER_HOST_SCRIPT))
    ? beside
    : path.join(modules, "@pulumi", "pulumi");
  // What a pipeline's job has: the CLI on PATH, the state's bucket and credentials, the Alibaba Cloud credentials.
  env = {
    ...process.env,
    ...s3.env(),
    PATH: [hostDir, beside, process.env.PATH ?? ""].join(path.delimiter),
    NODE_PATH: modules,
    PULUMI_BACKEND_URL: s3.backendUrl("fleet-state"),
    PULUMI_CONFIG_PASSPHRASE: "gitops-test-passphrase",
    PULUMI_HOME: path.join(dir, "pulumi-home"),
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK: "true",
    ALIBABA_CLOUD_ACCESS_KEY_ID: TEST_KEY_ID,
    ALIBABA_CLOUD_ACCESS_KEY_SECRET: TEST_SECRET,
  };
  // The team's repository: the example as copied, its dependencies installed (here, the checkout's own).
  repo = path.join(dir, "repo");
  fs.cpSync(EXAMPLE, repo, {
    recursive: true,
    filter: (src) => !/[\\/](node_modules|bin|out|\.iot-reset)$/.test(src),
  });
  fs.symlinkSync(modules, path.join(repo, "node_modules"));
  git("init", "-q", "-b", "main");
  // The team points the stack at its buckets and (for this rehearsal) at the emulator.
  setConfig("iotReset:journal", `s3://journals/fleet?endpoint=${s3.endpoint}&region=${s3.region}&forcePathStyle=true`);
  setConfig("iot-reset-gitops:endpoint", emu.endpoint);
}, 180_000);
// The emulator's thread ends with the file (emulator-thread.ts), whose own afterAll may run before this one.
afterAll(async () => {
  for (const host of providerHosts()) process.kill(host.pid, "SIGKILL");
  await s3?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

function git(...args: string[]): string {
  const result = spawnSync("git", args, {
    cwd: repo,
    encoding: "utf8",
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: "op",
      GIT_AUTHOR_EMAIL: "op@example.com",
      GIT_COMMITTER_NAME: "op",
      GIT_COMMITTER_EMAIL: "op@example.com",
    },
  });
  if (result.status !== 0) throw new Error(`git ${args.join(" ")}: ${result.stderr}`);
  return result.stdout;
}

/** One workflow step: `npm run <script>` in the repository, as the job runs it. */
function npm(script: string): { status: number | null; stdout: string; stderr: string } {
  return spawnSync("npm", ["run", "--silent", script], { cwd: repo, env, encoding: "utf8", maxBuffer: 1 << 26 });
}

/** Sets `key` in Pulumi.prod.yaml, as an author edits it. */
function setConfig(key: string, value: string): void {
  const file = path.join(repo, "Pulumi.prod.yaml");
  const text = fs.readFileSync(file, "utf8");
  const line = `  ${key}: ${JSON.stringify(value)}`;
  const pattern = new RegExp(`^  ${key.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: .*$`, "m");
  fs.writeFileSync(
    file,
    pattern.test(text) ? text.replace(pattern, line) : text.replace(/^config:\n/m, `config:\n${line}\n`),
  );
}

/** The devices reset since the last look, sorted, and clears the emulator's log. */
function resets(): string[] {
  const keys = emu.requests({ action: "ResetThing" }).map((r) => `${r.params.ProductKey}/${r.params.DeviceName}`);
  emu.clearRequests();
  return keys.sort();
}

/** What the program selects at `stage` of the fleet file in the repository now. */
function selected(stage: number): string[] {
  const fleet = loadFleet(path.join(repo, "fleet.csv"));
  return planCohort(fleet, [5, 25, 100], stage, 500, 8).selected.map(deviceKey).sort();
}

/** `ok` expects the step to succeed, and returns its output. */
function ok(step: ReturnType<typeof npm>): string {
  if (step.status !== 0) throw new Error(`exit ${step.status}\n${step.stdout}\n${step.stderr}`);
  return step.stdout;
}

const comment = () => fs.readFileSync(path.join(repo, "out", "comment.md"), "utf8");

test("the team's setup: build, a first review, committed; its merge resets exactly the canary", async () => {
  ok(npm("build"));
  const shipped = readReview(path.join(repo, "reset-review.json")).cohorts.cameras;
  ok(npm("review"));
  expect(resets()).toEqual([]);
  // The review the example ships is the one its program and config select; here the target is the emulator.
  const { target, ...review } = readReview(path.join(repo, "reset-review.json")).cohorts.cameras ?? {};
  const { target: shippedTarget, ...shippedReview } = shipped ?? {};
  expect(review).toEqual(shippedReview);
  expect(shippedTarget).toEqual({ region: "cn-shanghai" });
  expect(target).toEqual({ region: "cn-shanghai", endpoint: emu.endpoint });
  const cameras = readReview(path.join(repo, "reset-review.json")).cohorts.cameras;
  expect(cameras).toMatchObject({ campaign: "rotation-2026-12", stage: 1, selected: selected(1).length });
  expect(cameras?.devices).toEqual(selected(1));
  // The first preview created the stack: its encryption salt in Pulumi.prod.yaml is committed with the rest.
  expect(fs.readFileSync(path.join(repo, "Pulumi.prod.yaml"), "utf8")).toContain("encryptionsalt:");
  git("add", "-A");
  git("commit", "-qm", "fleet reset pipeline");
  ok(npm("apply"));
  expect(resets()).toEqual(selected(1));
}, 300_000);

test("promoting stage 2 by pull request: a stale review fails the check; regenerated, the comment counts the devices; the merge resets exactly them", async () => {
  git("checkout", "-qb", "promote-stage-2");
  setConfig("iot-reset-gitops:stage", "2");
  git("commit", "-qam", "promote stage 2");
  ok(npm("preview"));
  expect(comment()).toContain('```text\ncohort "cameras": stage 2 where stage 1 was reviewed\n');
  const stale = npm("check");
  expect(stale.status).toBe(1);
  const added = selected(2).filter((k) => !selected(1).includes(k));
  expect(stale.stderr).toBe(
    "reset-review.json is stale: it does not name what this change selects.\n" +
      '  cohort "cameras": stage 2 where stage 1 was reviewed\n' +
      `  cohort "cameras": ${selected(2).length} device(s) selected where ${selected(1).length} were reviewed: ` +
      `${added.length} not reviewed (${added.slice(0, 5).join(", ")} and ${added.length - 5} more), 0 reviewed and no ` +
      "longer selected\nRun `npm run review`, read the diff of reset-review.json, and commit it.\n",
  );
  ok(npm("review"));
  git("commit", "-qam", "review of stage 2");
  ok(npm("preview"));
  const text = comment();
  const batches = new Set(
    added.map((k) =>
      planCohort(loadFleet(path.join(repo, "fleet.csv")), [5, 25, 100], 2, 500, 8).batches.findIndex((b) =>
        b.devices.map(deviceKey).includes(k),
      ),
    ),
  );
  expect(text.split("\n").slice(0, 1)).toEqual([
    `### iot-reset-plan: ${added.length} device reset(s) in ${batches.size} resource(s)`,
  ]);
  expect(text).toContain(`| \`cameras\` stage 2 | 25% | ${added.length} |`);
  expect(text).toContain("> **Review:** the committed review file matches what this preview selects.");
  const review = readReview(path.join(repo, "reset-review.json")).cohorts.cameras;
  expect(ok(npm("check"))).toBe(
    `reset-review.json is current: cohort "cameras", campaign "rotation-2026-12", stage 2, ${selected(2).length} device(s), ${review?.digest}\n`,
  );
  expect(resets()).toEqual([]);
  git("checkout", "-q", "main");
  git("merge", "-q", "--no-ff", "-m", "Merge promote-stage-2", "promote-stage-2");
  ok(npm("apply"));
  expect(resets()).toEqual(added);
}, 300_000);

test("a fleet edit without its review: the pull request's check fails naming the devices; applied anyway, nothing is sent", async () => {
  const before = selected(2);
  git("checkout", "-qb", "more-cameras");
  const extra = Array.from({ length: 40 }, (_, i) => `a1FleetDemo,cam-${String(240 + i).padStart(4, "0")}`);
  fs.appendFileSync(path.join(repo, "fleet.csv"), `${extra.join("\n")}\n`);
  git("commit", "-qam", "40 more cameras");
  const joined = selected(2).filter((k) => !before.includes(k));
  expect(joined.length).toBeGreaterThan(0);
  ok(npm("preview"));
  const check = npm("check");
  expect(check.status).toBe(1);
  expect(check.stderr).toContain(
    `  cohort "cameras": ${selected(2).length} device(s) selected where ${before.length} were reviewed: ` +
      `${joined.length} not reviewed (${joined.slice(0, 5).join(", ")}`,
  );
  // Merged without a review (an admin's override), with a device reset the program declares before the cohort: the
  // apply's preview fails on the cohort, so not even that device is sent (an `up` alone would create it first).
  git("checkout", "-q", "main");
  git("merge", "-q", "--no-ff", "-m", "Merge more-cameras", "more-cameras");
  const merge = git("rev-parse", "HEAD").trim();
  const program = path.join(repo, "program.ts");
  fs.writeFileSync(
    program,
    fs
      .readFileSync(program, "utf8")
      .replace(
        'import { DeviceCohortReset, loadFleet } from "pulumi-alicloud-iot-reset";',
        'import { DeviceCohortReset, DeviceRegistrationReset, loadFleet } from "pulumi-alicloud-iot-reset";',
      )
      .replace(
        "  const cameras = new DeviceCohortReset(",
        '  new DeviceRegistrationReset("spare", { productKey: "a1FleetDemo", deviceName: "cam-0239", ' +
          'endpoint: config.get("endpoint") });\n  const cameras = new DeviceCohortReset(',
      ),
  );
  git("commit", "-qam", "a spare camera");
  ok(npm("build"));
  const apply = npm("apply");
  expect(apply.status).not.toBe(0);
  expect(apply.stderr).toContain(
    `DeviceCohortReset "cameras": what it selects differs from the review in reset-review.json: ` +
      `${selected(2).length} device(s) selected where ${before.length} were reviewed: ${joined.length} not reviewed (`,
  );
  expect(resets()).toEqual([]);
  git("revert", "--no-edit", "HEAD");
  git("revert", "--no-edit", "-m", "1", merge);
  ok(npm("build"));
  ok(npm("preview"));
  ok(npm("check"));
}, 300_000);

test("a campaign change resets the selection again; reverting it, back to the completed campaign, sends nothing", async () => {
  git("checkout", "-qb", "campaign-2027-01");
  setConfig("iot-reset-gitops:campaign", "rotation-2027-01");
  ok(npm("review"));
  git("commit", "-qam", "campaign rotation-2027-01");
  ok(npm("preview"));
  ok(npm("check"));
  expect(comment()).toContain(`### iot-reset-plan: ${selected(2).length} device reset(s) in 8 resource(s)`);
  git("checkout", "-q", "main");
  git("merge", "-q", "--no-ff", "-m", "Merge campaign-2027-01", "campaign-2027-01");
  ok(npm("apply"));
  expect(resets()).toEqual(selected(2));

  git("revert", "--no-edit", "-m", "1", "HEAD");
  ok(npm("preview"));
  ok(npm("check"));
  const applied = ok(npm("apply"));
  expect(resets()).toEqual([]);
  expect(applied).toContain(`"campaign":"rotation-2026-12"`);
  expect(applied).toContain(`"reset":${selected(2).length}`);
}, 300_000);
