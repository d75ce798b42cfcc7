import { CanaryError, ErrorCode } from "../errors.ts";

/**
 * PromQL building blocks shared by every mesh's queries (`istio-queries.ts`, `linkerd-queries.ts`): literals,
 * durations, label checks, and the shape of one snapshot's queries.
 */

/** The metric label that tells the canary and stable subsets apart, and the value each subset carries. */
export type SubsetMatch = { label: string; canary: string; stable: string };

/**
 * The PromQL of one snapshot; each answers with one sample per subset (labelled by `SubsetMatch.label`), and
 * `latencyBuckets` with one per subset and `le`.
 */
export type SnapshotQueries = {
  requestRate: string;
  successRate: string;
  p50: string;
  p90: string;
  p99: string;
  latencyBuckets: string;
};

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export function invalidQuery(message: string): CanaryError {
  return new CanaryError(ErrorCode.MetricsQueryInvalid, message);
}

/** A PromQL double-quoted string literal holding exactly `value` (Go string escapes, as the PromQL lexer reads them). */
export function promString(value: string): string {
  let out = '"';
  for (const ch of value) {
    const code = ch.codePointAt(0) ?? 0;
    if (ch === "\\") out += "\\\\";
    else if (ch === '"') out += '\\"';
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, "0")}`;
    else out += ch;
  }
  return `${out}"`;
}

/** The body of a PromQL string literal (without the quotes), for filling placeholders inside a quoted template. */
export function escapePromString(value: string): string {
  return promString(value).slice(1, -1);
}

/** RE2 regex matching `value` literally (Go's regexp.QuoteMeta). */
export function escapeRegex(value: string): string {
  return value.replace(/[\\.+*?()|[\]{}^$]/g, "\\$&");
}

/** A Prometheus duration for a window: whole seconds, at least 1 (a `[0s]` range is a query error). */
export function promDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw invalidQuery(`metrics window must be a positive number of seconds, got ${String(seconds)}`);
  }
  return `${Math.ceil(seconds)}s`;
}

export function checkLabelName(name: string, what: string): void {
  if (!LABEL_NAME.test(name)) throw invalidQuery(`${what} "${name}" is not a valid Prometheus label name`);
}

export function checkLabelValue(value: string, what: string): void {
  // An empty value would also match series that lack the label altogether.
  if (value === "") throw invalidQuery(`${what} is empty`);
}

/** Checks that the two subsets can be told apart by their label. */
export function checkSubsetMatch(subsets: SubsetMatch): void {
  checkLabelName(subsets.label, "subset label");
  checkLabelValue(subsets.canary, "canary subset label value");
  checkLabelValue(subsets.stable, "stable subset label value");
  if (subsets.canary === subsets.stable) {
    throw invalidQuery(
      `canary and stable both carry ${subsets.label}="${subsets.canary}": their metrics cannot be told apart`,
    );
  }
}

/** `destination_version=~"v2|v1"`: both subsets in one anchored regex, so one query answers for both. */
export function subsetMatcher(subsets: SubsetMatch): string {
  return `${subsets.label}=~${promString(`${escapeRegex(subsets.canary)}|${escapeRegex(subsets.stable)}`)}`;
}

export function checkQuantile(q: number): void {
  if (!(q > 0 && q < 1)) throw invalidQuery(`latency quantile must be between 0 and 1, got ${String(q)}`);
}
