import { MAX_INTERVAL_MS, formatDuration, problemText } from "./plan.ts";
import type { HeaderMatch, Problem } from "./types.ts";

/** A parse outcome: the value, or a reason a person can act on. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

/** One field's parse outcome: the value, or the problem with it (`error` is the problem as a line). */
export type ParsedField<T> = { ok: true; value: T } | { ok: false; error: string; problem: Problem };

/** Several fields' outcome: the value, or every problem found (`error` is them as a line). */
export type Checked<T> = { ok: true; value: T } | { ok: false; error: string; problems: Problem[] };

const ok = <T>(value: T): ParsedField<T> => ({ ok: true, value });
const fail = <T>(field: string, message: string): ParsedField<T> => {
  const problem = { field, message };
  return { ok: false, error: problemText(problem), problem };
};

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } as const;

/**
 * No duration canarybot takes is longer than the longest step interval a plan may have (24 h). Past that a typo
 * becomes a canary stuck at its first step, or a time no date can be drawn for.
 */
export const MAX_DURATION_MS = MAX_INTERVAL_MS;

/** "30s", "2m", "1h", "500ms"; a bare number is in `bareUnit`; at most a day. */
export function parseDuration(
  text: string,
  field = "interval",
  bareUnit: keyof typeof UNIT_MS = "s",
): ParsedField<number> {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(text);
  if (!match?.[1]) return fail(field, `"${text}" is not a duration like 30s, 2m or 500ms`);
  const unit = (match[2] ?? bareUnit) as keyof typeof UNIT_MS;
  const ms = Math.round(Number(match[1]) * UNIT_MS[unit]);
  if (!(ms <= MAX_DURATION_MS)) {
    return fail(field, `"${text}" is longer than ${formatDuration(MAX_DURATION_MS)}`);
  }
  return ok(ms);
}

/** "5,10,25,50,100" → [5, 10, 25, 50, 100]; each a whole percentage (order is checked by the plan). */
export function parsePercentList(text: string, field = "steps"): ParsedField<number[]> {
  const parts = text.split(",").map((part) => part.trim().replace(/%$/, ""));
  const values: number[] = [];
  for (const part of parts) {
    if (!/^\d+$/.test(part)) return fail(field, `"${part}" is not a whole percentage (e.g. 5,10,25,50,100)`);
    values.push(Number(part));
  }
  return ok(values);
}

/** "qa=canary-test" or "qa:canary-test". */
export function parseHeader(text: string): ParsedField<HeaderMatch> {
  const match = /^\s*([A-Za-z0-9-_.]+)\s*[=:]\s*(\S.*?)\s*$/.exec(text);
  if (!match?.[1] || !match[2]) return fail("header", `"${text}" is not name=value (e.g. qa=canary-test)`);
  return ok({ name: match[1].toLowerCase(), value: match[2] });
}

/** "99", "99%", "99.5" → 0.99 / 0.995: a share from a percentage. */
export function parsePercentage(text: string, field: string): ParsedField<number> {
  const match = /^\s*(\d+(?:\.\d+)?)\s*%?\s*$/.exec(text);
  const value = match?.[1] === undefined ? Number.NaN : Number(match[1]);
  if (!(value >= 0 && value <= 100)) return fail(field, `"${text}" is not a percentage between 0 and 100`);
  return ok(value / 100);
}
