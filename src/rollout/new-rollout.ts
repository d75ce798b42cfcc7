import { Phase } from "./types.ts";
import type { Actor, ClusterRef, Plan, Rollout, Target } from "./types.ts";

/** A rollout as `start` creates it: claimed, in preflight, nothing touched yet. */
export function newRollout(input: {
  id: string;
  target: Target;
  plan: Plan;
  by: Actor;
  now: number;
  report?: { channel: string; ts?: string };
  cluster?: ClusterRef;
}): Rollout {
  return {
    id: input.id,
    version: 0,
    target: input.target,
    plan: input.plan,
    phase: Phase.Preflight,
    stepIndex: -1,
    appliedWeight: 0,
    headerRouteActive: false,
    failedChecks: 0,
    inconclusiveStreak: 0,
    approvals: [],
    startedBy: input.by,
    createdAt: input.now,
    updatedAt: input.now,
    tick: 0,
    snapshots: [],
    ...(input.report ? { report: input.report } : {}),
    ...(input.cluster ? { cluster: input.cluster } : {}),
  };
}
