/** Times as people read them in text: a fixed zone (UTC), so every reader sees the same time. */

/** "2026-12-01 09:00 UTC" */
export function formatUtcDateTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

/** "14:02:09", in UTC (for labels that say the zone elsewhere). */
export function formatUtcTime(ms: number): string {
  return new Date(ms).toISOString().slice(11, 19);
}

/** "14:02 UTC" */
export function formatUtc(ms: number): string {
  return `${new Date(ms).toISOString().slice(11, 16)} UTC`;
}
