import cron from "node-cron";
import type { ReleaseCalendar } from "../rollout/ports.ts";
import type { ReleaseWindow } from "../rollout/types.ts";

const MINUTE_MS = 60_000;
/** How far ahead an opening is looked for; a hold longer than this is re-examined when it runs out. */
export const WINDOW_LOOKAHEAD_MS = 8 * 24 * 60 * MINUTE_MS;

/** Whether `expression` is a five-field cron expression (minute hour day-of-month month day-of-week). */
export function isCronExpression(expression: string): boolean {
  return expression.trim().split(/\s+/).length === 5 && cron.validate(expression);
}

/** Whether `timezone` is an IANA time zone name this Node knows (`Europe/Berlin`, `UTC`). */
export function isTimeZone(timezone: string): boolean {
  try {
    new Intl.DateTimeFormat("en", { timeZone: timezone });
    return true;
  } catch {
    return false;
  }
}

/**
 * Release windows read with node-cron's own matcher, so a window means exactly what the same expression means to a
 * cron job: the minutes it matches, in its time zone (daylight saving included).
 */
export const cronReleaseCalendar: ReleaseCalendar = {
  nextOpening(windows: readonly ReleaseWindow[], now: number): number | undefined {
    if (windows.length === 0) return undefined;
    const tasks = windows.map((window) =>
      cron.createTask(window.cron, () => undefined, { timezone: window.timezone }),
    );
    try {
      const matches = (at: number): boolean => tasks.some((task) => task.match(new Date(at)));
      const minute = Math.floor(now / MINUTE_MS) * MINUTE_MS;
      if (matches(minute)) return undefined;
      for (let at = minute + MINUTE_MS; at <= now + WINDOW_LOOKAHEAD_MS; at += MINUTE_MS) {
        if (matches(at)) return at;
      }
      return now + WINDOW_LOOKAHEAD_MS;
    } finally {
      for (const task of tasks) void task.destroy();
    }
  },
};
