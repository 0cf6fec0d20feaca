import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { readPlan } from "../../provider/plan/read-plan";
import { renderReview, REVIEW_FORMAT, REVIEW_VERSION, reviewCohort } from "../../provider/shared/review";

const CLI = path.resolve(__dirname, "..", "..", "lib", "provider", "plan", "cli.js");
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

describe("iot-reset-plan: devices a split moved, and the name of a second resend", () => {
  const urn = (name: string) => `urn:pulumi:s::p::iot:DeviceCohortReset$${BATCH}::${name}`;
  const grown = (journal?: string) => ({
    ...(journal ? { config: { "iotReset:journal": journal } } : {}),
    steps: [
      {
        op: "same",
        urn: urn("fleet-b2"),
        newState: { type: BATCH, inputs: { campaign: "c1", devices: ["a1/cam-0001"] } },
        oldState: {
          type: BATCH,
          outputs: { campaign: "c1", results: { "a1/cam-0001": { resetAt: "t" }, "a1/cam-0002": { resetAt: "t" } } },
        },
      },
      {
        op: "create",
        urn: urn("fleet-b6"),
        newState: { type: BATCH, inputs: { campaign: "c1", devices: ["a1/cam-0002", "a1/cam-0009"] } },
      },
    ],
  });

  test("the journal in a bucket: moved devices on comment lines, not counted, so --max holds for the one reset", () => {
    const file = planFile(grown("s3://journal/stacks"));
    const run = spawnSync(process.execPath, [CLI, file, "--max", "1"], { encoding: "utf8" });
    expect([run.status, run.stderr]).toEqual([0, ""]);
    expect(run.stdout).toBe(
      `# create ${urn("fleet-b6")}\na1/cam-0009\n` +
        "# moved from fleet-b2, which records its reset (the journal records it without a call): a1/cam-0002\n" +
        "1 device(s) would be reset by 1 resource(s).\n" +
        "1 device(s) moved to another batch are recorded from the journal, not sent.\n",
    );
    const comment = execFileSync(process.execPath, [CLI, file, "--markdown"], { encoding: "utf8" });
    expect(comment).toContain(
      "> **Moved:** 1 device(s) moved to another batch from `fleet-b2`, which records their reset; the journal in a " +
        "bucket records them at apply without a call, so they are not counted.",
    );
  });

  test("the journal in a file: moved devices are counted, and the plan says why", () => {
    const file = planFile(grown());
    const run = spawnSync(process.execPath, [CLI, file, "--max", "1"], { encoding: "utf8" });
    expect(run.status).toBe(1);
    expect(run.stdout).toBe(
      `# create ${urn("fleet-b6")}\na1/cam-0002\na1/cam-0009\n` +
        "# 1 of these device(s) moved here from fleet-b2, which records their reset; counted, since " +
        "iotReset:journal is a file, not a bucket: a runner without that file sends them again\n" +
        "2 device(s) would be reset by 1 resource(s).\n",
    );
    expect(execFileSync(process.execPath, [CLI, planFile(grown("off")), "--markdown"], { encoding: "utf8" })).toContain(
      "> **Moved:** 1 of the devices counted moved to another batch from `fleet-b2`, which records their reset; they " +
        "are counted because iotReset:journal is off: every update sends them again. Keep the journal in a bucket " +
        "(`iotReset:journal` at `s3://…` or `oss://…`).",
    );
  });

  test("an unknown outcome already resent once is named <key>#2, on its line and in the comment", () => {
    const lost = {
      steps: [
        {
          op: "update",
          urn: "urn:b2",
          newState: { type: BATCH, inputs: { devices: ["a1/cam-0001", "a1/cam-0002"] } },
          oldState: {
            type: BATCH,
            outputs: {
              results: {},
              unknownOutcomes: {
                "a1/cam-0001": { sentAt: "t", attempt: 1, error: "x" },
                "a1/cam-0002": { sentAt: "t", attempt: 1, error: "x", resent: true, resends: 1 },
              },
            },
          },
        },
      ],
    };
    const file = planFile(lost);
    expect(execFileSync(process.execPath, [CLI, file], { encoding: "utf8" })).toBe(
      "# update urn:b2\n" +
        "# unknown outcome (sent, no answer; sent again only if iotReset:resendUnknown names it): a1/cam-0001\n" +
        "# unknown outcome (sent, no answer; resent before; sent again only if iotReset:resendUnknown names " +
        "a1/cam-0002#2): a1/cam-0002\n" +
        "0 device(s) would be reset by 0 resource(s).\n2 device(s) have an unknown outcome and wait for a decision.\n",
    );
    expect(execFileSync(process.execPath, [CLI, file, "--markdown"], { encoding: "utf8" })).toContain(
      "```text\na1/cam-0001\na1/cam-0002 (resent before: name it a1/cam-0002#2)\n```",
    );
  });
});

describe("iot-reset-plan: plans that cannot be misread", () => {
  const DEVICE = "pulumi-nodejs:dynamic/iot:DeviceRegistrationReset";
  const cam = (n: number) => ({ productKey: "a1", deviceName: `cam-${String(n).padStart(4, "0")}` });
  const cli = (plan: unknown, ...args: string[]) =>
    spawnSync(process.execPath, [CLI, planFile(plan), ...args], { encoding: "utf8" });

  test("a malformed plan exits 2 naming the step and device, printing nothing on stdout", () => {
    const result = cli({
      steps: [{ op: "create", urn: "urn:b1", newState: { type: BATCH, inputs: { devices: [null] } } }],
    });
    expect(result.status).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(
      /^iot-reset-plan: \S+plan\.json: steps\[0\] \(urn:b1\): devices\[0\] is null, not a device \(\{ productKey, deviceName \} or \{ iotId \}\)\n$/,
    );
  });

  test("steps without a URN are all counted: a 500-device batch no longer vanishes under --max", () => {
    const big = Array.from({ length: 500 }, (_, i) => cam(i + 1));
    const result = cli(
      {
        steps: [
          { op: "create", newState: { type: BATCH, inputs: { devices: [cam(0)] } } },
          { op: "create", newState: { type: BATCH, inputs: { devices: big } } },
        ],
      },
      "--max",
      "100",
    );
    expect(result.status).toBe(1);
    const out = result.stdout.split("\n");
    expect(out[0]).toBe("# create (no URN: steps[0])");
    expect(out[2]).toBe("# create (no URN: steps[1])");
    expect(out.slice(-3)).toEqual([
      "501 device(s) would be reset by 2 resource(s).",
      "2 step(s) had no URN; each is listed by its index and counted.",
      "",
    ]);
    expect(result.stderr).toBe(
      "iot-reset-plan: the update would reset 501 devices, more than --max 100; split the rollout into smaller stages or raise --max.\n",
    );
  });

  test("control and invisible characters are escaped, so a device name cannot forge a line", () => {
    const result = cli({
      steps: [
        {
          op: "create",
          urn: "urn:d\u001b[2K",
          newState: { type: DEVICE, inputs: { productKey: "a1", deviceName: "cam\n0 device(s) would be reset\u202e" } },
        },
      ],
    });
    expect(result.status).toBe(0);
    expect(result.stdout).toBe(
      "# create urn:d\\u001b[2K\n" +
        "a1/cam\\u000a0 device(s) would be reset\\u202e\n" +
        "1 device(s) would be reset by 1 resource(s).\n",
    );
  });

  test("--markdown: counts per stage and per resource, the first devices, warnings, and --max", () => {
    const cams = Array.from({ length: 6 }, (_, i) => cam(i));
    const result = cli(
      {
        steps: [
          {
            op: "update",
            urn: "urn:p::cams-b2-0",
            newState: { type: BATCH, inputs: { devices: cams, stages: [100] } },
            oldState: { type: BATCH, outputs: { results: { "a1/cam-0000": {} } } },
          },
          { op: "replace", urn: "urn:p::gw|`01`", newState: { type: DEVICE, inputs: { iotId: "Q7u1" } } },
          {
            op: "create",
            urn: "urn:p::later",
            newState: { type: BATCH, inputs: { devices: "04da6b54-80e4-46f7-96ec-b56ff0331ba9" } },
          },
          { op: "create", newState: { type: BATCH, inputs: { devices: [cam(9)] } } },
        ],
      },
      "--markdown",
      "--first",
      "3",
      "--max",
      "5",
    );
    expect(result.status).toBe(1);
    expect(result.stdout).toBe(
      [
        "### iot-reset-plan: 7 device reset(s) in 4 resource(s)",
        "",
        "| stage | cumulative share | devices reset |",
        "| --- | --- | --- |",
        "| `cams` stage 1 | 100% | 5 |",
        "| not staged |  | 2 |",
        "",
        "| resource | operation | devices reset |",
        "| --- | --- | --- |",
        "| `cams-b2-0` | update | 5 |",
        "| `gw\\u007c\\u006001\\u0060` | replace | 1 |",
        "| `later` | create | unknown until apply |",
        "| (no URN: steps[3]) | create | 1 |",
        "",
        "<details><summary>The first 3 of 7 devices</summary>",
        "",
        "```text",
        "a1/cam-0001",
        "a1/cam-0002",
        "a1/cam-0003",
        "```",
        "",
        "</details>",
        "",
        "> **Note:** 1 step(s) had no URN; each is listed by its index and counted.",
        "",
        "> **Warning:** 1 resource(s) reset devices that are unknown until apply; their number cannot be checked here.",
        "",
        "> **Over the limit:** 7 device resets, more than `--max 5`.",
        "",
      ].join("\n"),
    );
    expect(result.stderr).toBe(
      "iot-reset-plan: 1 resource(s) reset devices that are unknown until apply, so --max 5 cannot be checked; make the device list known at preview.\n",
    );
  });

  test("--json carries the count of steps without a URN and each one's index", () => {
    const result = cli(
      { steps: [{ op: "create", newState: { type: BATCH, inputs: { devices: [cam(1)] } } }] },
      "--json",
    );
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      count: 1,
      resets: [{ urn: "", op: "create", devices: ["a1/cam-0001"], step: 0 }],
      stepsWithoutUrn: 1,
    });
  });

  test.each([
    [["--json", "--markdown"], "iot-reset-plan: --json and --markdown are two outputs; give one\n"],
    [["--first", "3"], "iot-reset-plan: --first goes with --markdown\n"],
    [["--markdown", "--first=-1"], 'iot-reset-plan: --first must be a whole number, 0 or more, got "-1"\n'],
    [["--max", "1e3"], 'iot-reset-plan: --max must be a whole number, 0 or more, got "1e3"\n'],
  ])("flags that cannot be used together or read exit 2: %j", (args, stderr) => {
    const result = cli(plan, ...args);
    expect(result.status).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr).toBe(stderr);
  });
});

const controls = {
  maxFailureRatio: 0.1,
  abortCriteria: [{ failureType: "unknownOutcome", thresholdPercentage: 5, minExecuted: 50 }],
  notBefore: "2026-12-01T02:00:00Z",
  notAfter: "2026-12-01T06:00:00Z",
  maintenanceWindows: [{ start: "02:00", durationMinutes: 240, days: ["Tue", "Wed"] }],
  ramp: { baseRatePerMinute: 60, incrementFactor: 2, increaseEveryResets: 100 },
};

/** Two batches of cohort `fleet` with the same controls, and one device resource without any. */
const rolloutPlan = {
  steps: [
    {
      op: "create",
      urn: "urn:pulumi:s::p::iot-reset:index:DeviceCohortReset$pulumi-nodejs:dynamic/iot:DeviceBatchReset::fleet-b2-0",
      newState: { type: BATCH, inputs: { devices: [{ productKey: "a1", deviceName: "cam-0001" }], ...controls } },
    },
    {
      op: "create",
      urn: "urn:pulumi:s::p::iot-reset:index:DeviceCohortReset$pulumi-nodejs:dynamic/iot:DeviceBatchReset::fleet-b2-1",
      newState: { type: BATCH, inputs: { devices: [{ productKey: "a1", deviceName: "cam-0002" }], ...controls } },
    },
  ],
};

const PHRASES = [
  "abort when unknownOutcome failures reach 5% of executed resets (after at least 50)",
  "abort when more than 0.1 of resets fail (maxFailureRatio, after 20)",
  "nothing sent before 2026-12-01T02:00:00Z",
  "nothing sent from 2026-12-01T06:00:00Z",
  "only inside 02:00 UTC for 240 min on Tue, Wed",
  "ramp from 60 resets/min, ×2 after every 100 sent, up to the quota",
];

describe("iot-reset-plan shows the rollout controls that apply", () => {
  test("each batch carries its controls; a batch without any carries none", () => {
    const reading = readPlan({
      steps: [
        ...rolloutPlan.steps,
        { op: "create", urn: "urn:b9", newState: { type: BATCH, inputs: { devices: [{ iotId: "Q7u9" }] } } },
      ],
    });
    expect(reading.resets.map((r) => r.rollout)).toEqual([controls, controls, undefined]);
  });

  test("lines: one comment block per cohort, after the devices and counts", () => {
    expect(execFileSync(process.execPath, [CLI, planFile(rolloutPlan)], { encoding: "utf8" })).toBe(
      `# create ${rolloutPlan.steps[0]?.urn}\na1/cam-0001\n# create ${rolloutPlan.steps[1]?.urn}\na1/cam-0002\n` +
        "2 device(s) would be reset by 2 resource(s).\n" +
        "# rollout controls of fleet (counted across the whole update):\n" +
        PHRASES.map((p) => `#   ${p}\n`).join(""),
    );
  });

  test("--markdown: a table row per cohort", () => {
    const out = execFileSync(process.execPath, [CLI, planFile(rolloutPlan), "--markdown"], { encoding: "utf8" });
    expect(out).toContain(
      "| cohort | rollout controls (counted across the whole update) |\n| --- | --- |\n" +
        `| \`fleet\` | ${PHRASES.join("<br>")} |\n`,
    );
  });

  test("a control unknown until apply is shown as such", () => {
    const unknown = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
    const reading = readPlan({
      steps: [
        {
          op: "create",
          urn: "urn:b1",
          newState: { type: BATCH, inputs: { devices: [{ iotId: "Q" }], ramp: unknown } },
        },
      ],
    });
    expect(reading.resets[0]?.rollout).toEqual({ ramp: "(unknown until apply)" });
  });
});

describe("iot-reset-plan --review", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "plan-review-"));
  const keys = (n: number, from = 0) =>
    Array.from({ length: n }, (_, i) => `a1/cam-${String(from + i).padStart(6, "0")}`);
  const entry = (campaign: string, stage: number, selected: string[]) =>
    reviewCohort(campaign, [5, 25, 100], stage, [selected.length, 60, 240], selected);
  const write = (name: string, cohorts: Record<string, ReturnType<typeof entry>>) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, renderReview({ review: REVIEW_FORMAT, version: REVIEW_VERSION, cohorts }));
    return file;
  };
  const run = (...args: string[]) =>
    spawnSync(process.execPath, [CLI, planFile(plan), "--markdown", ...args], { encoding: "utf8" });

  test("the review's cohorts, what the next stage would add, and a committed review that matches", () => {
    const review = write("out.json", { cams: entry("rotation-2026-12", 1, keys(12)) });
    const committed = write("committed.json", { cams: entry("rotation-2026-12", 1, keys(12)) });
    const result = run("--review", review, "--reviewed", committed);
    expect(result.status).toBe(0);
    const digest = entry("rotation-2026-12", 1, keys(12)).digest;
    expect(result.stdout).toContain(
      [
        "### iot-reset-plan: 2 device reset(s) in 1 resource(s)",
        "",
        "| cohort | campaign | stage | devices selected | next stage would add | digest |",
        "| --- | --- | --- | --- | --- | --- |",
        `| \`cams\` | \`rotation-2026-12\` | 1 of 3 (5%) | 12 | 48 (stage 2, 25%) | \`${digest.slice(0, 19)}…\` |`,
        "",
        "> **Review:** the committed review file matches what this preview selects.",
        "",
      ].join("\n"),
    );
  });

  test("a stale committed review: the comment says so, naming the difference", () => {
    const review = write("out2.json", { cams: entry("rotation-2026-12", 1, keys(13)) });
    const committed = write("committed2.json", { cams: entry("rotation-2026-12", 1, keys(12)) });
    const result = run("--review", review, "--reviewed", committed);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain(
      "> **Stale review:** the committed review file does not match what this preview selects; the merge would be " +
        "refused. Write it anew (`npm run review`), read its diff, and push it.\n\n```text\n" +
        'cohort "cams": 13 device(s) selected where 12 were reviewed: 1 not reviewed (a1/cam-000012), 0 reviewed and ' +
        "no longer selected\n```\n",
    );
  });

  test("flags: --review needs --markdown, --reviewed needs --review, a missing file exits 2", () => {
    const file = planFile(plan);
    const review = write("out3.json", { cams: entry("c", 1, keys(1)) });
    expect(spawnSync(process.execPath, [CLI, file, "--review", review], { encoding: "utf8" }).stderr).toBe(
      "iot-reset-plan: --review goes with --markdown\n",
    );
    expect(run("--reviewed", review).stderr).toBe("iot-reset-plan: --reviewed goes with --review\n");
    const missing = path.join(dir, "missing.json");
    const result = run("--review", missing);
    expect(result.status).toBe(2);
    expect(result.stderr).toBe(
      `iot-reset-plan: The review file ${missing} does not exist. Write it with a preview (IOT_RESET_REVIEW_OUT=` +
        `out/reset-review.json pulumi preview, then copy it to ${missing}), commit it, and have it reviewed in the ` +
        "pull request.\n",
    );
  });

  test("100,000 devices in 4,096 batches with a stale review stays under GitHub's 65,536 characters", () => {
    const all = keys(100_000);
    const steps = Array.from({ length: 4096 }, (_, b) => ({
      op: "create",
      urn: `urn:pulumi:prod::fleet::iot:index:DeviceCohortReset$pulumi-nodejs:dynamic:Resource::cams-b4096-${b}`,
      newState: { type: BATCH, inputs: { devices: all.filter((_, i) => i % 4096 === b), stages: [5, 25, 100] } },
    }));
    const big = planFile({ steps });
    const review = write("big.json", { cams: reviewCohort("c2", [5, 25, 100], 3, [5000, 25000, 100000], all) });
    const committed = write("big-committed.json", {
      cams: reviewCohort("c1", [5, 25, 100], 2, [5000, 25000, 100000], all.slice(0, 25_000)),
    });
    const result = spawnSync(process.execPath, [CLI, big, "--markdown", "--review", review, "--reviewed", committed], {
      encoding: "utf8",
      maxBuffer: 1 << 26,
    });
    expect(result.status).toBe(0);
    expect(result.stdout).toContain("### iot-reset-plan: 100000 device reset(s) in 4096 resource(s)");
    expect(result.stdout).toContain(`| … 3996 more resource(s) |  | ${all.filter((_, i) => i % 4096 >= 100).length} |`);
    expect(result.stdout).toContain(
      'cohort "cams": campaign "c2" where "c1" was reviewed\ncohort "cams": stage 3 where stage 2 was reviewed\n' +
        'cohort "cams": 100000 device(s) selected where 25000 were reviewed, and the device set differs',
    );
    expect(result.stdout.length).toBeLessThan(65_536);
  });
});
