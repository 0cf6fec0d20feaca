/**
 * The reviewed reset list: what a pull request says its merge will reset, committed beside the program as a review
 * file. A cohort given `reviewed` compares its selection with the file's entry for it and declares nothing when they
 * differ, so that a merge applies only what was reviewed; the plan tool shows the entries in its comment.
 *
 * The file is JSON with one entry per cohort, written by a preview (`IOT_RESET_REVIEW_OUT`), so that a diff of it is
 * the change in what will be reset: the campaign, the stage, the counts per stage, a digest of the exact device set,
 * and the devices themselves up to `REVIEW_DEVICES_LISTED` (one per line, sorted).
 */
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { InputError } from "./errors";

/** The `review` field of every review file. */
export const REVIEW_FORMAT = "pulumi-alicloud-iot-reset/review";
/** The version of the review file's format. */
export const REVIEW_VERSION = 1;
/** Up to this many selected devices, a cohort's entry lists them; beyond, the digest alone stands for them. */
export const REVIEW_DEVICES_LISTED = 1000;
/** The environment variable that makes a preview write the review of each cohort given `reviewed` to a file. */
export const REVIEW_OUT_ENV = "IOT_RESET_REVIEW_OUT";

/** Where a cohort's resets go, as the program gives it: a change replaces every batch, so resets every device again. */
export interface ReviewTarget {
  /** The IoT instance (`iotInstanceId`), when given. */
  readonly iotInstanceId?: string;
  /** The region (`region`, else the stack's `alicloud:region`), when known while the program runs. */
  readonly region?: string;
  /** The endpoint override (`endpoint`), when given. */
  readonly endpoint?: string;
}

/** One cohort's entry in a review file: what its promoted stages select in its campaign. */
export interface CohortReview {
  /** The campaign. */
  readonly campaign: string;
  /** Where the resets go; absent when nothing of it is set in the program. */
  readonly target?: ReviewTarget;
  /** The cumulative stage percentages. */
  readonly stages: number[];
  /** How many stages are promoted. */
  readonly stage: number;
  /** Devices selected up to each stage (cumulative), one count per stage. */
  readonly stageCounts: number[];
  /** How many devices the promoted stages select. */
  readonly selected: number;
  /** `sha256:` and the hex digest of the selected device keys, sorted, one per line. */
  readonly digest: string;
  /** The selected device keys, sorted; absent past `REVIEW_DEVICES_LISTED`. */
  readonly devices?: string[];
}

/** A review file: its format, and an entry per cohort name. */
export interface ReviewFile {
  readonly review: typeof REVIEW_FORMAT;
  readonly version: number;
  readonly cohorts: Record<string, CohortReview>;
}

/** The digest of a set of device keys: independent of their order. */
export function devicesDigest(keys: readonly string[]): string {
  const hash = createHash("sha256");
  for (const key of [...keys].sort()) hash.update(`${key}\n`);
  return `sha256:${hash.digest("hex")}`;
}

/** A cohort's entry from its campaign, stages and the keys of the devices its promoted stages select. */
export function reviewCohort(
  campaign: string,
  stages: readonly number[],
  stage: number,
  stageCounts: readonly number[],
  selected: readonly string[],
  target: ReviewTarget = {},
): CohortReview {
  const sorted = [...selected].sort();
  return {
    campaign,
    ...(Object.keys(target).length > 0 ? { target: { ...target } } : {}),
    stages: [...stages],
    stage,
    stageCounts: [...stageCounts],
    selected: sorted.length,
    digest: devicesDigest(sorted),
    ...(sorted.length <= REVIEW_DEVICES_LISTED ? { devices: sorted } : {}),
  };
}

/** The file's text: two-space JSON, so that each listed device is a line of its own in a diff. */
export function renderReview(file: ReviewFile): string {
  const cohorts = Object.fromEntries(Object.entries(file.cohorts).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return `${JSON.stringify({ review: REVIEW_FORMAT, version: REVIEW_VERSION, cohorts }, null, 2)}\n`;
}

const isCount = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
const isCounts = (v: unknown): v is number[] => Array.isArray(v) && v.every(isCount);

/** Why an entry is not a cohort review, or undefined when it is one. */
function entryProblem(v: unknown): string | undefined {
  if (v === null || typeof v !== "object" || Array.isArray(v)) return "not an object";
  const e = v as Record<string, unknown>;
  if (typeof e.campaign !== "string") return "`campaign` is not a string";
  if (!Array.isArray(e.stages) || !e.stages.every((s) => typeof s === "number")) return "`stages` is not a list";
  if (!isCount(e.stage) || !isCount(e.selected) || !isCounts(e.stageCounts)) {
    return "`stage`, `selected` or `stageCounts` is not a count";
  }
  if (typeof e.digest !== "string" || !/^sha256:[0-9a-f]{64}$/.test(e.digest)) return "`digest` is not a sha256 digest";
  if (e.devices !== undefined && !(Array.isArray(e.devices) && e.devices.every((d) => typeof d === "string"))) {
    return "`devices` is not a list of device keys";
  }
  const t = e.target as Record<string, unknown> | undefined;
  if (
    t !== undefined &&
    (t === null || typeof t !== "object" || !Object.values(t).every((v) => typeof v === "string"))
  ) {
    return "`target` is not an object of strings";
  }
  return consistencyProblem(e as unknown as CohortReview);
}

/**
 * Why an entry's parts disagree (a hand-resolved merge conflict can keep one side's digest and the other's devices),
 * or undefined when they agree: reviewers read the devices, the check compares the digest.
 */
function consistencyProblem(e: CohortReview): string | undefined {
  if (e.stageCounts.length !== e.stages.length || e.stage > e.stages.length) {
    return "`stageCounts` or `stage` does not fit `stages`";
  }
  if ((e.stage === 0 ? 0 : e.stageCounts[e.stage - 1]) !== e.selected) {
    return "`selected` is not the count of the promoted stages";
  }
  if (e.devices && (e.devices.length !== e.selected || devicesDigest(e.devices) !== e.digest)) {
    return "`devices` are not the devices `digest` and `selected` stand for";
  }
  return undefined;
}

/** Reads a review file; refuses one that is not whole, naming the file and the entry, rather than read it in part. */
export function readReview(file: string): ReviewFile {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      throw new InputError(
        `The review file ${file} does not exist. Write it with a preview (${REVIEW_OUT_ENV}=out/reset-review.json ` +
          `pulumi preview, then copy it to ${file}), commit it, and have it reviewed in the pull request.`,
      );
    }
    throw err;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new InputError(
      `The review file ${file} is not JSON (${(err as Error).message}); write it anew with a preview.`,
    );
  }
  const f = parsed as Record<string, unknown> | null;
  if (!f || typeof f !== "object" || f.review !== REVIEW_FORMAT || f.version !== REVIEW_VERSION) {
    throw new InputError(
      `The review file ${file} is not a review of format "${REVIEW_FORMAT}" version ${REVIEW_VERSION}; write it anew ` +
        `with a preview.`,
    );
  }
  const cohorts = f.cohorts as Record<string, unknown> | null;
  if (!cohorts || typeof cohorts !== "object" || Array.isArray(cohorts)) {
    throw new InputError(`The review file ${file} has no \`cohorts\` object; write it anew with a preview.`);
  }
  for (const [name, entry] of Object.entries(cohorts)) {
    const problem = entryProblem(entry);
    if (problem) {
      throw new InputError(
        `The review file ${file}: cohort ${JSON.stringify(name)} ${problem}; write it anew with a preview.`,
      );
    }
  }
  return f as unknown as ReviewFile;
}

/** The review files this process has written: the first write starts each afresh, so no old cohort lingers. */
const written = new Set<string>();

/** Writes `entry` as the review of cohort `name` into `file`, keeping the entries this process wrote there before. */
export function writeReviewEntry(file: string, name: string, entry: CohortReview): void {
  const key = path.resolve(file);
  const existing = written.has(key) && fs.existsSync(file) ? readReview(file).cohorts : {};
  written.add(key);
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const temp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(
    temp,
    renderReview({ review: REVIEW_FORMAT, version: REVIEW_VERSION, cohorts: { ...existing, [name]: entry } }),
  );
  fs.renameSync(temp, file);
}

/** A list of device keys for a message: the first five, then how many more. */
function some(keys: readonly string[]): string {
  const shown = keys.slice(0, 5).join(", ");
  return keys.length > 5 ? `${shown} and ${keys.length - 5} more` : shown;
}

/**
 * How `actual` differs from `reviewed`, one phrase each (campaign, stage, stages, devices: counts and the first ones);
 * empty when they are the same selection.
 */
export function reviewDifferences(reviewed: CohortReview, actual: CohortReview): string[] {
  const out: string[] = [];
  if (reviewed.campaign !== actual.campaign) {
    out.push(`campaign ${JSON.stringify(actual.campaign)} where ${JSON.stringify(reviewed.campaign)} was reviewed`);
  }
  if (reviewed.stage !== actual.stage) out.push(`stage ${actual.stage} where stage ${reviewed.stage} was reviewed`);
  if (reviewed.stages.join(",") !== actual.stages.join(",")) {
    out.push(`stages [${actual.stages.join(", ")}] where [${reviewed.stages.join(", ")}] were reviewed`);
  }
  const where = (t: ReviewTarget | undefined) => JSON.stringify(t ?? {});
  if (where(reviewed.target) !== where(actual.target)) {
    out.push(`target ${where(actual.target)} where ${where(reviewed.target)} was reviewed (a new target resets again)`);
  }
  if (reviewed.digest === actual.digest) return out;
  const counts = `${actual.selected} device(s) selected where ${reviewed.selected} were reviewed`;
  if (reviewed.devices && actual.devices) {
    const was = new Set(reviewed.devices);
    const now = new Set(actual.devices);
    const added = actual.devices.filter((d) => !was.has(d));
    const removed = reviewed.devices.filter((d) => !now.has(d));
    out.push(
      `${counts}: ${added.length} not reviewed${added.length ? ` (${some(added)})` : ""}, ${removed.length} reviewed ` +
        `and no longer selected${removed.length ? ` (${some(removed)})` : ""}`,
    );
  } else {
    out.push(`${counts}, and the device set differs (digest ${actual.digest}, reviewed ${reviewed.digest})`);
  }
  return out;
}

/**
 * The difference between a committed review and the one a preview computed, per cohort, as lines: empty when the
 * committed review is current.
 */
export function staleReview(committed: ReviewFile, computed: ReviewFile): string[] {
  const out: string[] = [];
  for (const [name, actual] of Object.entries(computed.cohorts)) {
    const reviewed = committed.cohorts[name];
    if (!reviewed) out.push(`cohort "${name}": not in the review (${actual.selected} device(s) selected)`);
    else for (const d of reviewDifferences(reviewed, actual)) out.push(`cohort "${name}": ${d}`);
  }
  for (const name of Object.keys(committed.cohorts)) {
    if (!computed.cohorts[name]) out.push(`cohort "${name}": reviewed, but the program declares no such cohort`);
  }
  return out;
}
