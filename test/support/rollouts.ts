import type { AnalysisPolicy, Plan, Rollout, Target } from "../../src/rollout/types.ts";
import { Phase } from "../../src/rollout/types.ts";

/** The fixed "now" of fixtures: 2025-01-01T12:00:00Z. */
export const FIXTURE_NOW = Date.UTC(2025, 0, 1, 12, 0, 0);

export function makeTarget(overrides: Partial<Target> = {}): Target {
  return {
    namespace: "default",
    service: "reviews",
    virtualService: "reviews",
    host: "reviews",
    stableSubset: "stable",
    canarySubset: "canary",
    ...overrides,
  };
}

export function makeAnalysisPolicy(overrides: Partial<AnalysisPolicy> = {}): AnalysisPolicy {
  return {
    minSuccessRate: 0.99,
    maxP99Ms: 500,
    maxErrorRateIncrease: 0.01,
    maxP99Ratio: 1.25,
    minRequests: 50,
    failureLimit: 2,
    criticalSuccessRate: 0.9,
    inconclusiveLimit: 3,
    customChecks: [],
    ...overrides,
  };
}

export function makePlan(overrides: Partial<Plan> = {}): Plan {
  return {
    steps: [5, 25, 50, 100],
    intervalMs: 60_000,
    approvalGates: [],
    twoPersonRule: false,
    analysis: makeAnalysisPolicy(),
    ...overrides,
  };
}

/** Overrides for `makeRollout`; `target` and `plan` merge into the defaults field by field. */
export type RolloutOverrides = Partial<Omit<Rollout, "target" | "plan">> & {
  target?: Partial<Target>;
  plan?: Partial<Plan>;
};

/**
 * A valid rollout: `reviews-1` on default/reviews, progressing at the first step (5%), started by U123 at
 * FIXTURE_NOW. Derived fields are not recomputed: set `stepIndex` and `appliedWeight` together.
 */
export function makeRollout(overrides: RolloutOverrides = {}): Rollout {
  const { target, plan, ...rest } = overrides;
  return {
    id: "reviews-1",
    version: 1,
    target: makeTarget(target),
    plan: makePlan(plan),
    phase: Phase.Progressing,
    stepIndex: 0,
    appliedWeight: 5,
    headerRouteActive: false,
    failedChecks: 0,
    inconclusiveStreak: 0,
    approvals: [],
    startedBy: "U123",
    createdAt: FIXTURE_NOW,
    updatedAt: FIXTURE_NOW,
    tick: 0,
    report: { channel: "C123" },
    snapshots: [],
    ...rest,
  };
}
