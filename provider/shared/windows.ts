/**
 * Rollout windows: when resets may be sent. `notBefore` and `notAfter` bound the whole rollout; maintenance windows
 * repeat each day (or on the days named), in UTC, so that an operator's "02:00 for two hours on weekdays" means the
 * same thing wherever the CI runner sits. Pure functions of a time in ms since the epoch: tests inject the clock.
 */

/** A day of the week, as `maintenanceWindows[].days` names it. */
export type WeekDay = "Mon" | "Tue" | "Wed" | "Thu" | "Fri" | "Sat" | "Sun";

/** Every day, in the order of `Date.prototype.getUTCDay` (Sunday is 0). */
export const WEEK_DAYS: readonly WeekDay[] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

/** A window that opens every day (or on `days`) at `start` UTC and stays open `durationMinutes`. */
export interface MaintenanceWindow {
  /** The opening time, `HH:MM` in UTC (24-hour clock). */
  readonly start: string;
  /** How long the window stays open, in minutes, 1 to 1440; a window may run past midnight. */
  readonly durationMinutes: number;
  /** The days on which the window opens (the day of its start, in UTC); default every day. */
  readonly days?: readonly WeekDay[];
}

/** The windows of one update; every part optional. */
export interface RolloutWindows {
  /** ISO 8601 time with a zone before which nothing is sent. */
  readonly notBefore?: string;
  /** ISO 8601 time with a zone from which nothing is sent. */
  readonly notAfter?: string;
  /** Repeating windows; when given, resets are sent only inside one of them. */
  readonly maintenanceWindows?: readonly MaintenanceWindow[];
}

/** ISO 8601 date-time with seconds optional and a zone (`Z` or `±HH:MM`) required. */
export const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;
/** `HH:MM`, 00:00 to 23:59. */
export const HH_MM = /^([01]\d|2[0-3]):([0-5]\d)$/;

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

/** Minutes after midnight of an `HH:MM` start. */
function startMinutes(start: string): number {
  const m = HH_MM.exec(start);
  return m ? Number(m[1]) * 60 + Number(m[2]) : 0;
}

/** The opening times (ms) of `w` whose day begins within [dayFrom, dayTo], in order. */
function openings(w: MaintenanceWindow, dayFrom: number, dayTo: number): number[] {
  const out: number[] = [];
  for (let day = dayFrom; day <= dayTo; day += DAY) {
    const weekDay = WEEK_DAYS[new Date(day).getUTCDay()] as WeekDay;
    if (w.days && !w.days.includes(weekDay)) continue;
    out.push(day + startMinutes(w.start) * MINUTE);
  }
  return out;
}

/** Midnight UTC of the day that holds `t`. */
function midnight(t: number): number {
  return Math.floor(t / DAY) * DAY;
}

/** The maintenance window open at `now`: its opening and closing times, or undefined. */
function openWindow(windows: readonly MaintenanceWindow[], now: number): { opens: number; closes: number } | undefined {
  // A window opened yesterday may still be open (it runs past midnight): look one day back.
  for (const w of windows) {
    for (const opens of openings(w, midnight(now) - DAY, midnight(now))) {
      const closes = opens + w.durationMinutes * MINUTE;
      if (opens <= now && now < closes) return { opens, closes };
    }
  }
  return undefined;
}

/** Why nothing may be sent at `now`, and when sending may start again (undefined: never, without a change). */
export interface ClosedWindow {
  /** What is closed, for the error message. */
  readonly reason: string;
  /** When the next window opens, ms since the epoch; undefined when none will (past `notAfter`). */
  readonly nextOpening?: number;
}

/** Whether resets may be sent at `now`: undefined when they may, else why not and when they may again. */
export function closedAt(w: RolloutWindows, now: number): ClosedWindow | undefined {
  const notBefore = w.notBefore !== undefined ? Date.parse(w.notBefore) : undefined;
  const notAfter = w.notAfter !== undefined ? Date.parse(w.notAfter) : undefined;
  if (notAfter !== undefined && now >= notAfter) {
    return { reason: `notAfter ${w.notAfter} has passed` };
  }
  const from = notBefore !== undefined && now < notBefore ? notBefore : now;
  const inWindows = !w.maintenanceWindows?.length || openWindow(w.maintenanceWindows, from) !== undefined;
  if (from === now && inWindows) return undefined;
  const next = nextOpening(w, from);
  const reason =
    from !== now
      ? `notBefore ${w.notBefore} has not come yet` + (inWindows ? "" : " (and no maintenance window is open then)")
      : "no maintenance window is open";
  return next === undefined ? { reason } : { reason, nextOpening: next };
}

/**
 * The first time at or after `from` inside a maintenance window (or `from` itself when there are none), before
 * `notAfter`; undefined when there is none within the next eight days (every window opens at least weekly).
 */
export function nextOpening(w: RolloutWindows, from: number): number | undefined {
  const notAfter = w.notAfter !== undefined ? Date.parse(w.notAfter) : Infinity;
  let at: number | undefined;
  if (!w.maintenanceWindows?.length || openWindow(w.maintenanceWindows, from)) at = from;
  else {
    for (const mw of w.maintenanceWindows) {
      for (const opens of openings(mw, midnight(from), midnight(from) + 8 * DAY)) {
        if (opens >= from && (at === undefined || opens < at)) at = opens;
      }
    }
  }
  return at !== undefined && at < notAfter ? at : undefined;
}

/**
 * When the window open at `now` closes (the earlier of `notAfter` and the end of the maintenance window open now),
 * or undefined when nothing closes it.
 */
export function closesAt(w: RolloutWindows, now: number): number | undefined {
  const notAfter = w.notAfter !== undefined ? Date.parse(w.notAfter) : undefined;
  const open = w.maintenanceWindows?.length ? openWindow(w.maintenanceWindows, now) : undefined;
  const ends = [notAfter, open?.closes].filter((t): t is number => t !== undefined);
  return ends.length > 0 ? Math.min(...ends) : undefined;
}

/** One line for a window, as plans and messages show it: `02:00 UTC for 120 min on Mon, Tue`. */
export function describeWindow(w: MaintenanceWindow): string {
  return `${w.start} UTC for ${w.durationMinutes} min${w.days ? ` on ${w.days.join(", ")}` : " every day"}`;
}
