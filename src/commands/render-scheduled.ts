import { formatUtcDateTime } from "../rollout/time-text.ts";
import type { FailedScheduledStart, ScheduledStart } from "../rollout/types.ts";

/** "reviews@3 scheduled: reviews v1 → v2 at 2026-12-01 08:00 UTC, by cli:alice (cancel reviews@3)" */
export function describeScheduledStart(start: ScheduledStart): string {
  const { target, by } = start.request;
  const from = target.stableSubset ? `${target.stableSubset} → ` : "→ ";
  return `${start.id} scheduled: ${target.service} ${from}${target.canarySubset} at ${formatUtcDateTime(start.at)}, by ${by} (cancel ${start.id})`;
}

export function describeFailedScheduledStart(start: FailedScheduledStart): string {
  return `${start.id} did not start at ${formatUtcDateTime(start.failedAt)}: ${start.reason}`;
}
