/**
 * The rollout controls of a cohort and of each of its batches, defined once: the arguments with their docs, the
 * rules `check` applies to them, and the phrase `iot-reset-plan` shows for each. The provider host applies them in
 * `host/update-guard.ts`. A new control is an argument of `RolloutControls` and an entry of `ROLLOUT_CONTROLS`.
 */
import {
  checkNumber,
  checkString,
  CheckFailure,
  containsUnknown,
  describeRule,
  describeValue,
  isUnknown,
  NumberRule,
  numberProblem,
  quote,
} from "./inputs";
import { describeWindow, HH_MM, ISO_WITH_ZONE, RolloutWindows, WEEK_DAYS } from "./windows";

/** A kind of failed reset, as abort criteria count them. */
export type FailureType = "businessError" | "unknownOutcome" | "jobFailed";

/** What a criterion counts: one kind of failure, or every kind. */
export type CriterionFailureType = FailureType | "any";

/**
 * Aborts the update's remaining resets once, after `minExecuted` resets of the update finished, the failures of
 * `failureType` reach `thresholdPercentage` percent of them (AWS IoT Jobs `abortConfig.criteriaList` semantics: the
 * threshold is the smallest percentage that aborts).
 */
export interface AbortCriterion {
  /** The failures counted: `businessError` (answered `Success: false`, or refused after retries), `unknownOutcome` (sent, no answer), `jobFailed` (a device job that ended other than COMPLETED, known only with `waitForJob`), or `any`. */
  readonly failureType: CriterionFailureType;
  /** The smallest percentage (greater than 0, at most 100) of executed resets failed this way that aborts. */
  readonly thresholdPercentage: number;
  /** How many resets of the update must have finished (succeeded or failed) before the criterion can abort; 1 or more. */
  readonly minExecuted: number;
}

/** An exponential ramp of the send rate (like AWS IoT Jobs `exponentialRate`). */
export interface Ramp {
  /** The rate at which each update starts, in resets per minute. */
  readonly baseRatePerMinute: number;
  /** The rate is multiplied by this after every `increaseEveryResets` resets sent (1 keeps it constant). */
  readonly incrementFactor: number;
  /** How many resets are sent at one rate before it is multiplied. */
  readonly increaseEveryResets: number;
}

/** The smallest number of finished resets before `maxFailureRatio` can abort an update. */
export const MIN_FAILURE_SAMPLE = 20;

/**
 * What stops, spaces or holds back an update's resets. Each is counted per provider process, that is across every
 * cohort and batch of one `pulumi up`; each is optional, and a change of any updates the batches in place and
 * resets nothing.
 */
export interface RolloutControls extends RolloutWindows {
  /** Abort the update's remaining resets once more than this share of them failed (after 20 finished); default: no limit. */
  readonly maxFailureRatio?: number;
  /** At most this many resets in one update; default: no cap. */
  readonly maxResetsPerUpdate?: number;
  /**
   * Abort the update's remaining resets once, after `minExecuted` resets of the update finished, the failures of
   * `failureType` (`businessError`, `unknownOutcome`, `jobFailed` with `waitForJob`, or `any`) reach
   * `thresholdPercentage` percent of them (as AWS IoT Jobs' abort criteria); default none.
   */
  readonly abortCriteria?: readonly AbortCriterion[];
  /**
   * Start each update's resets at `baseRatePerMinute` and multiply the rate by `incrementFactor` after every
   * `increaseEveryResets` resets sent, up to the account quota; default none (the quota alone).
   */
  readonly ramp?: Ramp;
}

/** One control: its rules, given every input (a rule may compare two), and its phrases in a plan. */
interface Control<T> {
  /** Adds a failure for each rule the input breaks; an absent input breaks none. */
  readonly check: (news: Record<string, unknown>, failures: CheckFailure[]) => void;
  /** What the control does to the update, one phrase per effect, as `iot-reset-plan` shows it. */
  readonly describe: (value: T) => string[];
}

/** The range of `maxFailureRatio`. */
const FAILURE_RATIO_RULE: NumberRule = { min: 0, max: 1 };
/** The range of `maxResetsPerUpdate`. */
const RESET_CAP_RULE: NumberRule = { min: 0, max: Number.MAX_SAFE_INTEGER, integer: true };
/** The range of `abortCriteria[i].thresholdPercentage`. */
const THRESHOLD_RULE: NumberRule = { min: 0, max: 100, minExclusive: true };
/** The range of `abortCriteria[i].minExecuted`. */
const MIN_EXECUTED_RULE: NumberRule = { min: 1, max: Number.MAX_SAFE_INTEGER, integer: true };
/** The range of `maintenanceWindows[i].durationMinutes`: up to a whole day. */
const DURATION_RULE: NumberRule = { min: 1, max: 1440, integer: true };
/** The range of `ramp.baseRatePerMinute`: up to the default ResetThing quota, 500 a second. */
const BASE_RATE_RULE: NumberRule = { min: 0, max: 30000, minExclusive: true };
/** The range of `ramp.incrementFactor` (1 keeps the rate constant). */
const INCREMENT_FACTOR_RULE: NumberRule = { min: 1, max: 10 };
/** The range of `ramp.increaseEveryResets`. */
const INCREASE_EVERY_RULE: NumberRule = { min: 1, max: Number.MAX_SAFE_INTEGER, integer: true };
/** The most abort criteria or maintenance windows one cohort takes. */
const MAX_ROLLOUT_ENTRIES = 20;

const FAILURE_TYPES: readonly CriterionFailureType[] = ["businessError", "unknownOutcome", "jobFailed", "any"];
const DAYS: readonly string[] = [...WEEK_DAYS.slice(1), "Sun"];

/**
 * Checks an optional list of objects with exactly `keys` (each checked by `entry`); an absent or unknown list passes.
 */
function checkEntries(
  news: Record<string, unknown>,
  property: string,
  keys: readonly string[],
  shape: string,
  failures: CheckFailure[],
  entry: (value: Record<string, unknown>, at: string) => void,
): void {
  const list = news[property];
  if (list === undefined || isUnknown(list)) return;
  if (!Array.isArray(list) || list.length === 0 || list.length > MAX_ROLLOUT_ENTRIES) {
    failures.push({
      property,
      reason: `must be a list of 1 to ${MAX_ROLLOUT_ENTRIES} ${shape}, got ${Array.isArray(list) ? `${list.length} entries` : describeValue(list)}`,
    });
    return;
  }
  list.forEach((value: unknown, i: number) => {
    const at = `${property}[${i}]`;
    if (isUnknown(value)) return;
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      failures.push({ property: at, reason: `must be ${shape}, got ${describeValue(value)}` });
      return;
    }
    const extra = Object.keys(value).filter((k) => !keys.includes(k));
    if (extra.length > 0) {
      failures.push({
        property: at,
        reason: `has unknown key(s) ${extra.map((k) => quote(k)).join(", ")}; it is ${shape}`,
      });
      return;
    }
    entry(value as Record<string, unknown>, at);
  });
}

/** A required number inside an entry: present and within the rule. */
function checkMember(
  value: Record<string, unknown>,
  at: string,
  key: string,
  rule: NumberRule,
  failures: CheckFailure[],
): void {
  const v = value[key];
  if (isUnknown(v)) return;
  if (v === undefined) failures.push({ property: `${at}.${key}`, reason: `is required: ${describeRule(rule)}` });
  else {
    const problem = numberProblem(v, rule);
    if (problem) failures.push({ property: `${at}.${key}`, reason: problem });
  }
}

/** An ISO 8601 time with a zone, or the reason it is not one. */
function isoTime(news: Record<string, unknown>, property: string, failures: CheckFailure[]): number | undefined {
  if (!checkString(news, property, failures)) return undefined;
  const text = news[property] as string;
  const t = Date.parse(text);
  const [, month, day] = /^\d{4}-(\d{2})-(\d{2})/.exec(text) ?? [];
  const valid =
    ISO_WITH_ZONE.test(text) &&
    !Number.isNaN(t) &&
    // Date.parse rolls 2026-02-30 over into March: the day written must exist.
    new Date(Date.UTC(Number(text.slice(0, 4)), Number(month) - 1, Number(day))).getUTCDate() === Number(day);
  if (!valid) {
    failures.push({
      property,
      reason: `${quote(text)} is not an ISO 8601 time with a zone, e.g. 2026-12-01T02:00:00Z or 2026-12-01T10:00:00+08:00`,
    });
    return undefined;
  }
  return t;
}

/** Rules of one abort criterion, `abortCriteria[i]`. */
function checkCriterion(c: Record<string, unknown>, at: string, failures: CheckFailure[]): void {
  if (!isUnknown(c.failureType) && !FAILURE_TYPES.includes(c.failureType as CriterionFailureType)) {
    failures.push({
      property: `${at}.failureType`,
      reason: `must be one of ${FAILURE_TYPES.map((t) => `"${t}"`).join(", ")}, got ${describeValue(c.failureType)}`,
    });
  }
  checkMember(c, at, "thresholdPercentage", THRESHOLD_RULE, failures);
  checkMember(c, at, "minExecuted", MIN_EXECUTED_RULE, failures);
}

/** Rules of one maintenance window, `maintenanceWindows[i]`. */
function checkWindow(w: Record<string, unknown>, at: string, failures: CheckFailure[]): void {
  if (!isUnknown(w.start) && (typeof w.start !== "string" || !HH_MM.test(w.start))) {
    failures.push({
      property: `${at}.start`,
      reason: `must be a UTC time of day "HH:MM" from "00:00" to "23:59", got ${describeValue(w.start)}`,
    });
  }
  checkMember(w, at, "durationMinutes", DURATION_RULE, failures);
  const days = w.days;
  if (days === undefined || isUnknown(days)) return;
  const ok =
    Array.isArray(days) &&
    days.length > 0 &&
    days.every((d) => DAYS.includes(d as string)) &&
    new Set(days).size === days.length;
  if (!ok) {
    failures.push({
      property: `${at}.days`,
      reason: `must be a non-empty list of distinct days among ${DAYS.map((d) => `"${d}"`).join(", ")}, got ${Array.isArray(days) ? JSON.stringify(days) : describeValue(days)}`,
    });
  }
}

/** A ramp's keys, and its shape as messages show it. */
const RAMP_KEYS = ["baseRatePerMinute", "incrementFactor", "increaseEveryResets"] as const;
const RAMP_SHAPE = `{ ${RAMP_KEYS.join(", ")} }`;

/** Rules of `ramp`: an object with exactly its three numbers, each in range. */
function checkRamp(news: Record<string, unknown>, failures: CheckFailure[]): void {
  const ramp = news.ramp;
  if (ramp === undefined || isUnknown(ramp)) return;
  if (ramp === null || typeof ramp !== "object" || Array.isArray(ramp)) {
    failures.push({ property: "ramp", reason: `must be ${RAMP_SHAPE}, got ${describeValue(ramp)}` });
    return;
  }
  const extra = Object.keys(ramp).filter((k) => !(RAMP_KEYS as readonly string[]).includes(k));
  if (extra.length > 0) {
    failures.push({
      property: "ramp",
      reason: `has unknown key(s) ${extra.map((k) => quote(k)).join(", ")}; it is ${RAMP_SHAPE}`,
    });
    return;
  }
  const r = ramp as Record<string, unknown>;
  checkMember(r, "ramp", "baseRatePerMinute", BASE_RATE_RULE, failures);
  checkMember(r, "ramp", "incrementFactor", INCREMENT_FACTOR_RULE, failures);
  checkMember(r, "ramp", "increaseEveryResets", INCREASE_EVERY_RULE, failures);
}

/** The check of a list-valued control: 1 to 20 objects with exactly `keys` (`shape` in messages), each by `rules`. */
function entryList(
  property: string,
  keys: readonly string[],
  shape: string,
  rules: (value: Record<string, unknown>, at: string, failures: CheckFailure[]) => void,
): Control<unknown>["check"] {
  return (news, failures) => checkEntries(news, property, keys, shape, failures, (v, at) => rules(v, at, failures));
}

/** Every control: how `check` validates it and how a plan describes it. */
export const ROLLOUT_CONTROLS: {
  readonly [K in keyof Required<RolloutControls>]: Control<Required<RolloutControls>[K]>;
} = {
  abortCriteria: {
    check: entryList(
      "abortCriteria",
      ["failureType", "thresholdPercentage", "minExecuted"],
      "{ failureType, thresholdPercentage, minExecuted }",
      checkCriterion,
    ),
    describe: (criteria) =>
      criteria.map(
        (c) =>
          `abort when ${c.failureType} failures reach ${c.thresholdPercentage}% of executed resets (after at least ${c.minExecuted})`,
      ),
  },
  maxFailureRatio: {
    check: (news, failures) => checkNumber(news, "maxFailureRatio", FAILURE_RATIO_RULE, failures),
    describe: (ratio) => [
      `abort when more than ${ratio} of resets fail (maxFailureRatio, after ${MIN_FAILURE_SAMPLE})`,
    ],
  },
  maxResetsPerUpdate: {
    check: (news, failures) => checkNumber(news, "maxResetsPerUpdate", RESET_CAP_RULE, failures),
    describe: (cap) => [`at most ${cap} resets in this update`],
  },
  notBefore: {
    check: (news, failures) => void isoTime(news, "notBefore", failures),
    describe: (time) => [`nothing sent before ${time}`],
  },
  notAfter: {
    check: (news, failures) => {
      const notAfter = isoTime(news, "notAfter", failures);
      const notBefore = isoTime(news, "notBefore", []);
      if (notBefore !== undefined && notAfter !== undefined && !(notBefore < notAfter)) {
        failures.push({
          property: "notAfter",
          reason: `${quote(news.notAfter as string)} is not after notBefore ${quote(news.notBefore as string)}; nothing could be sent`,
        });
      }
    },
    describe: (time) => [`nothing sent from ${time}`],
  },
  maintenanceWindows: {
    check: entryList(
      "maintenanceWindows",
      ["start", "durationMinutes", "days"],
      '{ start: "HH:MM" (UTC), durationMinutes, days? }',
      checkWindow,
    ),
    describe: (windows) => [`only inside ${windows.map(describeWindow).join("; ")}`],
  },
  ramp: {
    check: checkRamp,
    describe: (r) => [
      `ramp from ${r.baseRatePerMinute} resets/min, ×${r.incrementFactor} after every ${r.increaseEveryResets} sent, up to the quota`,
    ],
  },
};

/** The batch inputs that carry rollout controls, in the order plans list them. */
export const ROLLOUT_KEYS = Object.keys(ROLLOUT_CONTROLS) as ReadonlyArray<keyof RolloutControls>;

/** Rules of every rollout control. */
export function checkRolloutArgs(news: Record<string, unknown>, failures: CheckFailure[]): void {
  for (const key of ROLLOUT_KEYS) ROLLOUT_CONTROLS[key].check(news, failures);
}

/** The controls set in some inputs (which `check` has passed: their values are not checked again), copied; undefined when none is. */
export function rolloutControlsOf(inputs: Record<string, unknown>): RolloutControls | undefined {
  const out: Record<string, unknown> = {};
  for (const key of ROLLOUT_KEYS) if (inputs[key] !== undefined) out[key] = inputs[key];
  return Object.keys(out).length > 0 ? (out as RolloutControls) : undefined;
}

/**
 * One phrase per effect of the controls set, as `iot-reset-plan` prints them. A value not known until apply is
 * shown as that.
 */
export function describeRollout(controls: RolloutControls): string[] {
  const given = controls as Record<string, unknown>;
  return ROLLOUT_KEYS.flatMap((key) => {
    const value = given[key];
    if (value === undefined) return [];
    if (containsUnknown(value) || (typeof value === "string" && value.startsWith("(unknown"))) {
      return [`${key} (unknown until apply)`];
    }
    return (ROLLOUT_CONTROLS[key].describe as (v: unknown) => string[])(value);
  });
}
