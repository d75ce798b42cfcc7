import { CheckStatus } from "../../src/rollout/types.ts";
import type { Verdict } from "../../src/rollout/types.ts";

/** Verdicts as the analyzer hands them to the core: one passing, failing or inconclusive check set each. */

export function passing(): Verdict {
  return {
    status: CheckStatus.Pass,
    checks: [{ name: "success-rate", status: CheckStatus.Pass, value: 0.999, threshold: ">= 99%" }],
  };
}

export function failing(options: { critical?: boolean; name?: string } = {}): Verdict {
  return {
    status: CheckStatus.Fail,
    checks: [
      { name: "p99", status: CheckStatus.Pass, value: 120, threshold: "<= 500ms" },
      {
        name: options.name ?? "success-rate",
        status: CheckStatus.Fail,
        value: 0.8,
        threshold: ">= 99%",
        ...(options.critical ? { critical: true } : {}),
      },
    ],
  };
}

export function inconclusive(): Verdict {
  return {
    status: CheckStatus.Inconclusive,
    checks: [
      { name: "requests", status: CheckStatus.Inconclusive, value: 3, threshold: ">= 50", detail: "too few" },
    ],
  };
}
