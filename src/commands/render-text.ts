import { desiredWeight, describeProgress } from "../rollout/plan.ts";
import type { AuditEntry, Rollout } from "../rollout/types.ts";

/** The `status --json` shape: a stable contract for scripts. */
export type RolloutStatusJson = {
  id: string;
  service: string;
  namespace: string;
  phase: string;
  canaryWeight: number;
  stableSubset: string;
  canarySubset: string;
  stepIndex: number;
  steps: number[];
  startedBy: string;
  updatedAt: string;
};

/** The `history --json` shape. */
export type AuditJson = {
  at: string;
  actor: string;
  action: string;
  fromPhase: string;
  toPhase: string;
  canaryWeight: number;
};

export function statusJson(rollout: Rollout): RolloutStatusJson {
  return {
    id: rollout.id,
    service: rollout.target.service,
    namespace: rollout.target.namespace,
    phase: rollout.phase,
    canaryWeight: desiredWeight(rollout),
    stableSubset: rollout.target.stableSubset,
    canarySubset: rollout.target.canarySubset,
    stepIndex: rollout.stepIndex,
    steps: rollout.plan.steps,
    startedBy: rollout.startedBy,
    updatedAt: new Date(rollout.updatedAt).toISOString(),
  };
}

export function auditJson(entry: AuditEntry): AuditJson {
  return {
    at: new Date(entry.at).toISOString(),
    actor: entry.actor,
    action: entry.action,
    fromPhase: entry.fromPhase,
    toPhase: entry.toPhase,
    canaryWeight: entry.canaryWeight,
  };
}

/** One line a rollout: what a person scans in a terminal. */
export function statusLine(rollout: Rollout): string {
  const { target } = rollout;
  const why = rollout.reason ?? rollout.outcome?.reason;
  return [
    rollout.id.padEnd(14),
    `${target.namespace}/${target.virtualService}`.padEnd(24),
    rollout.phase.padEnd(18),
    describeProgress(rollout).padEnd(16),
    `${target.stableSubset}→${target.canarySubset}`.padEnd(10),
    `by ${rollout.startedBy}`,
    why ? ` (${why})` : "",
  ].join(" ");
}

export function auditLine(entry: AuditEntry): string {
  const phases = entry.fromPhase === entry.toPhase ? entry.toPhase : `${entry.fromPhase} → ${entry.toPhase}`;
  const detail = entry.detail ? `  ${entry.detail}` : "";
  return `${new Date(entry.at).toISOString()}  ${entry.actor.padEnd(14)} ${entry.action.padEnd(16)} ${phases.padEnd(30)} ${String(entry.canaryWeight).padStart(3)}%${detail}`;
}

export function describeRolloutStart(rollout: Rollout): string {
  return `${rollout.id} started: ${rollout.target.namespace}/${rollout.target.virtualService} ${rollout.target.stableSubset} → ${rollout.target.canarySubset}, ${rollout.phase} at ${desiredWeight(rollout)}%`;
}
