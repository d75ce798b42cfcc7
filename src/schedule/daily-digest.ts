import type { ConfigFile } from "../config/file.ts";
import { zonedDate, zonedTime } from "./local-time.ts";

/** Where and when one service's daily digest goes: at `at` (`HH:MM`) in `timezone`, to `channel`. */
export type DigestPlan = { service: string; channel: string; at: string; timezone: string };

/** The calendar day a digest is about, in its time zone: `date` (`2026-12-05`) and its instants `[from, to)`. */
export type DigestDay = { date: string; from: number; to: number };

/**
 * Each service's digest from the config file: the file's `digest` with the service's changes, none for a service
 * that says `digest: false` or when neither asks. Without a `channel` the digest goes to the service's first
 * channel; a service with neither is listed in `unrouted`.
 */
export function digestPlans(config: ConfigFile | undefined): { plans: DigestPlan[]; unrouted: string[] } {
  const plans: DigestPlan[] = [];
  const unrouted: string[] = [];
  for (const [service, settings] of Object.entries(config?.services ?? {})) {
    const own = settings.digest;
    const base = config?.digest;
    if (own === false || (own === undefined && base === undefined)) continue;
    const channel = own?.channel ?? base?.channel ?? settings.channels?.[0];
    if (channel === undefined) {
      unrouted.push(service);
      continue;
    }
    plans.push({
      service,
      channel,
      at: own?.at ?? base?.at ?? "09:00",
      timezone: own?.timezone ?? base?.timezone ?? "UTC",
    });
  }
  return { plans, unrouted };
}

/** The node-cron expression of a digest: every day at its time (read in its time zone by the task). */
export function digestCron(plan: Pick<DigestPlan, "at">): string {
  const [hour, minute] = plan.at.split(":").map(Number);
  return `${minute ?? 0} ${hour ?? 0} * * *`;
}

/** The day before the one `now` falls on in `timezone`, as the wall clocks there count days. */
export function previousDay(now: number, timezone: string): DigestDay {
  const today = zonedDate(now, timezone);
  const before = new Date(Date.UTC(today.year, today.month - 1, today.day - 1));
  const yesterday = {
    year: before.getUTCFullYear(),
    month: before.getUTCMonth() + 1,
    day: before.getUTCDate(),
  };
  return {
    date: before.toISOString().slice(0, 10),
    from: zonedTime(yesterday, timezone),
    to: zonedTime(today, timezone),
  };
}
