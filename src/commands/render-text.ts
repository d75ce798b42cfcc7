import { desiredWeight, describeProgress } from "../rollout/plan.ts";
import type { AuditEntry, CheckResult, Rollout, SubsetMetrics } from "../rollout/types.ts";

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

/** The latest snapshot as a terminal table: canary against stable, then each check with its verdict. */
export function snapshotTable(rollout: Rollout): string {
  const snapshot = rollout.snapshots.at(-1);
  if (!snapshot) return `${rollout.id}: no snapshot yet`;
  const { stableSubset, canarySubset } = rollout.target;
  const row = (name: string, pick: (metrics: SubsetMetrics) => number | undefined, unit: string): string =>
    `${name.padEnd(14)} ${formatValue(pick(snapshot.canary), unit).padStart(12)} ${formatValue(pick(snapshot.stable), unit).padStart(12)}`;
  const lines = [
    `${rollout.id} at ${new Date(snapshot.at).toISOString()}, ${snapshot.canaryWeight}% canary, window ${snapshot.windowSeconds}s`,
    ...(snapshot.unavailable ? [`metrics unavailable: ${snapshot.unavailable}`] : []),
    `${"".padEnd(14)} ${canarySubset.padStart(12)} ${stableSubset.padStart(12)}`,
    row("requests/s", (m) => m.requestRate, ""),
    row("success rate", (m) => (m.successRate === undefined ? undefined : m.successRate * 100), "%"),
    row("p50", (m) => m.p50Ms, "ms"),
    row("p90", (m) => m.p90Ms, "ms"),
    row("p99", (m) => m.p99Ms, "ms"),
    row("requests", (m) => m.requests, ""),
  ];
  const checks = rollout.lastVerdict?.checks ?? [];
  if (checks.length > 0) {
    lines.push("", `verdict: ${rollout.lastVerdict?.status ?? "none"}`, ...checks.map(checkLine));
  }
  return lines.join("\n");
}

function checkLine(check: CheckResult): string {
  const mark = check.status === "pass" ? "✓" : check.status === "fail" ? "✗" : "?";
  const value = check.value === undefined ? "no data" : String(Math.round(check.value * 1000) / 1000);
  return `  ${mark} ${check.name.padEnd(22)} ${value.padStart(10)}  ${check.threshold}${check.detail ? `  (${check.detail})` : ""}`;
}

function formatValue(value: number | undefined, unit: string): string {
  if (value === undefined) return "—";
  return `${Math.round(value * 100) / 100}${unit}`;
}
