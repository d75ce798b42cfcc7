import type { CheckResult } from "./types.ts";

/** 0.882 (share) → "88.2%", 130.4 (ms) → "130ms", 188 (requests) → "188 requests": in the threshold's terms. */
export function formatCheckValue(check: Pick<CheckResult, "value" | "unit">): string {
  const { value } = check;
  if (value === undefined) return "no data";
  switch (check.unit) {
    case "share":
      return `${trim(value * 100, 2)}%`;
    case "ms":
      return `${trim(value, Math.abs(value) < 10 ? 1 : 0)}ms`;
    case "requests":
      return `${trim(value, 0)} requests`;
    case undefined:
      return trim(value, 3);
  }
}

/** "success-rate 88.2% vs ≥ 99% (canary success rate 88.2% is below 99%)" */
export function describeCheck(check: CheckResult): string {
  const detail = check.detail ? ` (${check.detail})` : "";
  return `${check.name} ${formatCheckValue(check)} vs ${check.threshold}${detail}`;
}

function trim(n: number, digits: number): string {
  const text = n.toFixed(digits);
  return text.includes(".") ? text.replace(/0+$/, "").replace(/\.$/, "") : text;
}
