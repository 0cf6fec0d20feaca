/**
 * The reviewed reset list: a cohort given `reviewed` declares nothing when its selection differs from the committed
 * review (naming the difference), writes its entry in a preview with IOT_RESET_REVIEW_OUT, and the file's reading
 * refuses what is not whole.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { mockRegistrations } from "./program-mocks";
import { DeviceCohortReset } from "../../provider/program/cohort-reset";
import { planCohort } from "../../provider/shared/selection";
import { deviceKey } from "../../provider/shared/device-key";
import {
  devicesDigest,
  readReview,
  REVIEW_DEVICES_LISTED,
  reviewCohort,
  staleReview,
  writeReviewEntry,
} from "../../provider/shared/review";

const { registered, settle, refusal: refused } = mockRegistrations();

const fleetOf = (n: number, product = "a1Rev") =>
  Array.from({ length: n }, (_, i) => ({ productKey: product, deviceName: `dev-${String(i).padStart(5, "0")}` }));
const fleet = fleetOf(200);

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "review-"));
});
afterEach(() => {
  delete process.env.IOT_RESET_REVIEW_OUT;
  fs.rmSync(dir, { recursive: true, force: true });
});

const cohort = (args: Record<string, unknown>) =>
  new DeviceCohortReset("cams", {
    devices: fleet,
    campaign: "c1",
    stages: [10, 100],
    stage: 1,
    batchCount: 2,
    ...args,
  } as never);

/** The review the cohort of `args` would write: its entry, computed as the cohort computes it. */
function entryFor(devices: typeof fleet, campaign: string, stage: number) {
  const plan = planCohort(devices, [10, 100], stage, 500, 2);
  return reviewCohort(campaign, [10, 100], stage, plan.stageCounts, plan.selected.map(deviceKey));
}

function committed(file: string, devices = fleet, campaign = "c1", stage = 1) {
  writeReviewEntry(file, "cams", entryFor(devices, campaign, stage));
}

/** The message of the InputError the cohort of `args` throws, nothing registered. */
const refusal = async (args: Record<string, unknown>) => (await refused(() => cohort(args))).message;

test("the selection the review names: the cohort is declared as without a review", async () => {
  const file = path.join(dir, "reset-review.json");
  committed(file);
  cohort({ reviewed: file });
  await settle();
  expect(registered.map((r) => r.name).sort()).toEqual(["cams", "cams-b2-0", "cams-b2-1"]);
});

test("a device added to the fleet after the review: nothing is declared, and the message names it", async () => {
  const file = path.join(dir, "reset-review.json");
  committed(file);
  // A fleet of 200 plus devices, of which the first one in stage 1 (below 10%) is the one not reviewed.
  const grown = [...fleet, ...fleetOf(400, "a1New")];
  const added = planCohort(grown, [10, 100], 1, 500, 2)
    .selected.map(deviceKey)
    .filter((k) => k.startsWith("a1New/"))
    .sort();
  expect(added.length).toBeGreaterThan(5);
  const selected = entryFor(fleet, "c1", 1).selected;
  expect(await refusal({ devices: grown, reviewed: file })).toBe(
    `DeviceCohortReset "cams": what it selects differs from the review in ${file}: ${selected + added.length} ` +
      `device(s) selected where ${selected} were reviewed: ${added.length} not reviewed (${added.slice(0, 5).join(", ")} ` +
      `and ${added.length - 5} more), 0 reviewed and no longer selected. Nothing of the cohort is declared, so no ` +
      `reset is sent. Write the review anew with a preview (IOT_RESET_REVIEW_OUT=out/reset-review.json pulumi ` +
      `preview, then copy it over ${file}), and have the change reviewed in a pull request.`,
  );
});

test("another campaign and stage than reviewed: each named", async () => {
  const file = path.join(dir, "reset-review.json");
  committed(file);
  const message = await refusal({ campaign: "c2", stage: 2, reviewed: file });
  const now = entryFor(fleet, "c2", 2);
  const was = entryFor(fleet, "c1", 1);
  expect(message).toContain(
    `differs from the review in ${file}: campaign "c2" where "c1" was reviewed; stage 2 where stage 1 was reviewed; ` +
      `${now.selected} device(s) selected where ${was.selected} were reviewed: ${now.selected - was.selected} not reviewed (`,
  );
});

test("past the listed devices, the digest stands for them", async () => {
  const big = fleetOf(REVIEW_DEVICES_LISTED * 3);
  const file = path.join(dir, "reset-review.json");
  const plan = planCohort(big, [100], 1, 500, 2);
  const entry = reviewCohort("c1", [100], 1, plan.stageCounts, plan.selected.map(deviceKey));
  expect(entry.devices).toBeUndefined();
  expect(entry.digest).toBe(devicesDigest(big.map(deviceKey).reverse()));
  writeReviewEntry(file, "cams", entry);
  const message = await refusal({ devices: big.slice(1), stages: [100], stage: 1, reviewed: file });
  expect(message).toContain(
    `: ${big.length - 1} device(s) selected where ${big.length} were reviewed, and the device set differs (digest ` +
      `${devicesDigest(big.slice(1).map(deviceKey))}, reviewed ${entry.digest}). Nothing of the cohort is declared`,
  );
});

test("no review file, no entry for the cohort, an Output campaign: refused, saying what to do", async () => {
  const missing = path.join(dir, "none.json");
  expect(await refusal({ reviewed: missing })).toBe(
    "The review file " +
      missing +
      " does not exist. Write it with a preview (IOT_RESET_REVIEW_OUT=out/reset-review.json pulumi preview, then " +
      `copy it to ${missing}), commit it, and have it reviewed in the pull request.`,
  );
  const other = path.join(dir, "other.json");
  writeReviewEntry(other, "doors", entryFor(fleet, "c1", 1));
  expect(await refusal({ reviewed: other })).toContain(
    `differs from the review in ${other}: the review file has no entry for it (${entryFor(fleet, "c1", 1).selected} device(s) selected).`,
  );
  expect(await refusal({ reviewed: other, campaign: pulumi.output("c1") })).toBe(
    'DeviceCohortReset "cams": with `reviewed`, `campaign` must be a plain string (e.g. from stack config), since the ' +
      "review names it; got an Output or a promise.",
  );
});

test("a damaged review file is refused, naming the file and the cohort", () => {
  const file = path.join(dir, "bad.json");
  fs.writeFileSync(
    file,
    JSON.stringify({ review: "pulumi-alicloud-iot-reset/review", version: 1, cohorts: { cams: { campaign: "c1" } } }),
  );
  expect(() => readReview(file)).toThrow(
    `The review file ${file}: cohort "cams" \`stages\` is not a list; write it anew with a preview.`,
  );
  fs.writeFileSync(file, "{");
  expect(() => readReview(file)).toThrow(/^The review file .* is not JSON \(/);
});

test("a stale review: per cohort, what differs; a current one: nothing", () => {
  const a = path.join(dir, "a.json");
  const b = path.join(dir, "b.json");
  committed(a);
  writeReviewEntry(a, "doors", entryFor(fleet, "d1", 1));
  committed(b);
  writeReviewEntry(b, "gates", entryFor(fleet, "g1", 1));
  expect(staleReview(readReview(a), readReview(a))).toEqual([]);
  expect(staleReview(readReview(a), readReview(b))).toEqual([
    `cohort "gates": not in the review (${entryFor(fleet, "g1", 1).selected} device(s) selected)`,
    'cohort "doors": reviewed, but the program declares no such cohort',
  ]);
  // The file lists each cohort once, sorted, devices one per line.
  expect(Object.keys(readReview(a).cohorts)).toEqual(["cams", "doors"]);
  expect(fs.readFileSync(a, "utf8")).toContain(`\n        "${entryFor(fleet, "c1", 1).devices?.[0]}",\n`);
});

test("another instance or endpoint than reviewed: named, since a new target resets every device again", async () => {
  const file = path.join(dir, "reset-review.json");
  committed(file);
  expect(await refusal({ reviewed: file, iotInstanceId: "iot-cn-2", endpoint: "http://127.0.0.1:9" })).toContain(
    `differs from the review in ${file}: target {"iotInstanceId":"iot-cn-2","endpoint":"http://127.0.0.1:9"} where {} ` +
      "was reviewed (a new target resets again).",
  );
});

test("a review whose devices disagree with its digest or counts (a merge conflict resolved by hand) is refused", () => {
  const file = path.join(dir, "conflict.json");
  const entry = entryFor(fleet, "c1", 1);
  const other = entryFor(fleetOf(200, "a1Other"), "c1", 1);
  fs.writeFileSync(
    file,
    JSON.stringify({
      review: "pulumi-alicloud-iot-reset/review",
      version: 1,
      cohorts: { cams: { ...entry, devices: other.devices } },
    }),
  );
  expect(() => readReview(file)).toThrow(
    `The review file ${file}: cohort "cams" \`devices\` are not the devices \`digest\` and \`selected\` stand for; write it anew with a preview.`,
  );
  fs.writeFileSync(
    file,
    JSON.stringify({
      review: "pulumi-alicloud-iot-reset/review",
      version: 1,
      cohorts: { cams: { ...entry, selected: 3 } },
    }),
  );
  expect(() => readReview(file)).toThrow(/cohort "cams" `selected` is not the count of the promoted stages/);
});

test("a process's first write starts the review file afresh: a cohort no longer declared does not linger", () => {
  const file = path.join(dir, "fresh.json");
  fs.writeFileSync(
    file,
    JSON.stringify({
      review: "pulumi-alicloud-iot-reset/review",
      version: 1,
      cohorts: { gone: entryFor(fleet, "c0", 1) },
    }),
  );
  writeReviewEntry(file, "cams", entryFor(fleet, "c1", 1));
  writeReviewEntry(file, "doors", entryFor(fleet, "d1", 1));
  expect(Object.keys(readReview(file).cohorts)).toEqual(["cams", "doors"]);
});

test("IOT_RESET_REVIEW_OUT during an update is refused: it would approve whatever the program selects", async () => {
  const file = path.join(dir, "reset-review.json");
  committed(file);
  process.env.IOT_RESET_REVIEW_OUT = path.join(dir, "out.json");
  expect(await refusal({ reviewed: file })).toBe(
    'DeviceCohortReset "cams": IOT_RESET_REVIEW_OUT is set during an update; it is for a preview only: unset it. ' +
      "Nothing of the cohort is declared.",
  );
  expect(fs.existsSync(path.join(dir, "out.json"))).toBe(false);
});

describe("in a preview", () => {
  beforeAll(() => {
    void pulumi.runtime.setMocks(
      { newResource: (args) => ({ id: `${args.name}-id`, state: args.inputs }), call: () => ({}) },
      "project",
      "stack",
      true,
    );
  });

  test("IOT_RESET_REVIEW_OUT writes the cohort's review and declares it; naming the reviewed file itself is refused", () => {
    const file = path.join(dir, "reset-review.json");
    const out = path.join(dir, "out", "reset-review.json");
    process.env.IOT_RESET_REVIEW_OUT = out;
    cohort({ reviewed: file, stage: 2 });
    expect(readReview(out).cohorts.cams).toEqual(entryFor(fleet, "c1", 2));
    expect(fs.existsSync(file)).toBe(false);
    process.env.IOT_RESET_REVIEW_OUT = file;
    expect(() => cohort({ reviewed: path.join(dir, ".", "reset-review.json") })).toThrow(
      'DeviceCohortReset "cams": IOT_RESET_REVIEW_OUT names the reviewed file itself; write the review elsewhere ' +
        `(e.g. out/reset-review.json) and copy it over ${path.join(dir, "reset-review.json")} once read. Nothing of the ` +
        "cohort is declared.",
    );
  });
});
