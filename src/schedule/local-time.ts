import type { Parsed } from "../rollout/values.ts";
import { isTimeZone } from "./release-calendar.ts";

const LOCAL = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?:\s+([A-Za-z_]+(?:\/[A-Za-z0-9_+-]+)*))?$/;

/**
 * A wall-clock time a person types, `2026-12-01 09:00 Europe/Berlin` (UTC when no zone is named), or an ISO time
 * with an offset, as ms since epoch. It must lie in the future.
 */
export function parseStartTime(text: string, now: number): Parsed<number> {
  const at = parseWallClock(text.trim());
  if (at === undefined) {
    return {
      ok: false,
      error: `at: "${text}" is not a time like "2026-12-01 09:00 Europe/Berlin" or 2026-12-01T09:00:00+01:00`,
    };
  }
  if (typeof at === "string") return { ok: false, error: `at: ${at}` };
  if (at <= now) return { ok: false, error: `at: ${text} has passed; start now without --at` };
  return { ok: true, value: at };
}

function parseWallClock(text: string): number | string | undefined {
  const local = LOCAL.exec(text);
  if (!local) {
    const iso = /[zZ]|[+-]\d{2}:?\d{2}$/.test(text) ? Date.parse(text) : Number.NaN;
    return Number.isNaN(iso) ? undefined : iso;
  }
  const [, year, month, day, hour, minute, zone = "UTC"] = local;
  if (!isTimeZone(zone)) return `${zone} is not an IANA time zone (e.g. Europe/Berlin)`;
  return zonedTime({ year: Number(year), month: Number(month), day: Number(day) }, zone, {
    hour: Number(hour),
    minute: Number(minute),
  });
}

/** A calendar date: `month` 1–12. */
export type CalendarDate = { year: number; month: number; day: number };

/** The ms since epoch of a wall-clock time in `zone` (midnight when no time is given). */
export function zonedTime(
  date: CalendarDate,
  zone: string,
  time: { hour: number; minute: number } = { hour: 0, minute: 0 },
): number {
  const wall = Date.UTC(date.year, date.month - 1, date.day, time.hour, time.minute);
  // The zone's offset at that moment; a second pass settles times next to a daylight-saving change.
  const first = wall - offsetMs(wall, zone);
  return wall - offsetMs(first, zone);
}

/** The date the wall clocks of `zone` show at `at`. */
export function zonedDate(at: number, zone: string): CalendarDate {
  const wall = new Date(Math.floor(at / 1000) * 1000 + offsetMs(at, zone));
  return { year: wall.getUTCFullYear(), month: wall.getUTCMonth() + 1, day: wall.getUTCDate() };
}

/** How far the zone's wall clock is ahead of UTC at `at`. */
function offsetMs(at: number, zone: string): number {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone: zone,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  }).formatToParts(new Date(at));
  const get = (type: string): number => Number(parts.find((part) => part.type === type)?.value);
  const asUtc = Date.UTC(
    get("year"),
    get("month") - 1,
    get("day"),
    get("hour"),
    get("minute"),
    get("second"),
  );
  return asUtc - Math.floor(at / 1000) * 1000;
}
