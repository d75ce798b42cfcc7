import { desiredWeight, describeProgress } from "../rollout/plan.ts";
import { describePodTrouble } from "../rollout/pod-health.ts";
import { Phase } from "../rollout/types.ts";
import type { AuditCheck, AuditEntry, CheckResult, Rollout, SubsetMetrics } from "../rollout/types.ts";
import { formatCheckValue } from "../rollout/check-text.ts";
import type { DryRun } from "../rollout/service.ts";
import { formatUtcDateTime } from "../rollout/time-text.ts";

/** The `status --json` shape: a stable contract for scripts. */
export type RolloutStatusJson = {
  id: string;
  service: string;
  namespace: string;
  phase: string;
  /** What the route was last confirmed to carry. */
  canaryWeight: number;
  /** Where the rollout is taking the route; differs from canaryWeight while a write is pending. */
  targetWeight: number;
  /** Why it is not moving, when something holds it (a release window, nobody stepping it, a failing restore). */
  note?: string;
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
  /** What the text shows after the columns. */
  detail?: string;
  /** Why, for a pause, drift, rollback, failure or refusal. */
  reason?: string;
  /** The checks a judged tick was decided on. */
  checks?: CheckJson[];
};

/**
 * One check: `value` in the unit of `threshold` (a success rate of 0.882 is `88.2` with unit `%`), `passed`
 * false for a failed and for an inconclusive check (`status` tells which).
 */
export type CheckJson = {
  name: string;
  value: number | null;
  unit?: string;
  threshold: string;
  passed: boolean;
  status: string;
};

/** Actions whose detail is a reason rather than the checks of a step taken. */
const REASONED = /^(pause|drift|rollback|failed|promoted|refused:.*)$/;

export function statusJson(rollout: Rollout): RolloutStatusJson {
  return {
    id: rollout.id,
    service: rollout.target.service,
    namespace: rollout.target.namespace,
    phase: rollout.phase,
    canaryWeight: rollout.appliedWeight,
    targetWeight: desiredWeight(rollout),
    ...(holdNote(rollout) ? { note: holdNote(rollout) } : {}),
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
    ...(entry.detail === undefined ? {} : { detail: entry.detail }),
    ...(entry.detail !== undefined && REASONED.test(entry.action) ? { reason: entry.detail } : {}),
    ...(entry.checks ? { checks: entry.checks.map(checkJson) } : {}),
  };
}

function checkJson(check: AuditCheck): CheckJson {
  const value =
    check.value === undefined ? null : check.unit === "share" ? round(check.value * 100, 2) : check.value;
  const unit = check.unit === "share" ? "%" : check.unit;
  return {
    name: check.name,
    value,
    ...(unit === undefined ? {} : { unit }),
    threshold: check.threshold,
    passed: check.status === "pass",
    status: check.status,
  };
}

function round(value: number, digits: number): number {
  return Number(value.toFixed(digits));
}

const STATUS_HEADER = ["ID", "VIRTUALSERVICE", "PHASE", "WEIGHT · STEP", "SUBSETS", "STARTED BY", "WHY"];
const STATUS_WIDTHS = [14, 24, 18, 16, 10, 0, 0];

function statusCells(rollout: Rollout): string[] {
  const { target } = rollout;
  return [
    rollout.id,
    `${target.namespace}/${target.virtualService}`,
    rollout.phase,
    describeProgress(rollout),
    `${target.stableSubset}→${target.canarySubset}`,
    rollout.startedBy,
    holdNote(rollout) ?? rollout.reason ?? rollout.outcome?.reason ?? "",
  ];
}

/** What holds a live rollout where it is, in words, when something outside its plan does. */
function holdNote(rollout: Rollout): string | undefined {
  if (rollout.overdue) return `not being stepped: ${rollout.overdue.detail}`;
  if (rollout.restoreFailure) {
    const { attempts, lastError } = rollout.restoreFailure;
    return `restore failing, ${attempts} attempt${attempts === 1 ? "" : "s"}: ${lastError}`;
  }
  if (rollout.heldUntil !== undefined && rollout.phase === Phase.Progressing) {
    return `outside its release windows until ${formatUtcDateTime(rollout.heldUntil)}`;
  }
  // The pods are looked at only while the rollout is stepped: a paused rollout's look is old news.
  const watched = rollout.phase === Phase.Progressing || rollout.phase === Phase.HeaderStage;
  return watched ? describePodTrouble(rollout) : undefined;
}

/** One line a rollout, in fixed columns: the answer to an action, and a line in Slack. */
export function statusLine(rollout: Rollout): string {
  const [id, vs, phase, progress, subsets, by, why] = statusCells(rollout);
  const columns = [id, vs, phase, progress, subsets].map((cell, i) =>
    (cell ?? "").padEnd(STATUS_WIDTHS[i] ?? 0),
  );
  return [...columns, `by ${by ?? ""}`, why ? ` (${why})` : ""].join(" ").trimEnd();
}

/** Rollouts as a table with a header, each column as wide as its widest cell: `status`, `list`, `history`. */
export function statusTable(rollouts: readonly Rollout[]): string {
  return table([STATUS_HEADER, ...rollouts.map(statusCells)]);
}

const AUDIT_HEADER = ["AT", "ACTOR", "ACTION", "PHASE", "WEIGHT", "DETAIL"];

function auditCells(entry: AuditEntry): string[] {
  const phases = entry.fromPhase === entry.toPhase ? entry.toPhase : `${entry.fromPhase} → ${entry.toPhase}`;
  return [
    new Date(entry.at).toISOString(),
    entry.actor,
    entry.action,
    phases,
    `${entry.canaryWeight}%`,
    entry.detail ?? "",
  ];
}

/** One audit entry in fixed columns (Slack's audit reply). */
export function auditLine(entry: AuditEntry): string {
  const [at, actor, action, phases, weight, detail] = auditCells(entry);
  return `${at}  ${(actor ?? "").padEnd(14)} ${(action ?? "").padEnd(16)} ${(phases ?? "").padEnd(30)} ${(weight ?? "").padStart(4)}${detail ? `  ${detail}` : ""}`;
}

/** The audit trail as a table with a header, aligned however long an actor or action is. */
export function auditTable(entries: readonly AuditEntry[]): string {
  return table([AUDIT_HEADER, ...entries.map(auditCells)]);
}

/** Rows of cells as columns two spaces apart, each padded to its widest cell; the last column is not padded. */
function table(rows: readonly string[][]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

/**
 * Why a rollback is not done, or undefined when it is. The restore runs within the request, so a rollout still
 * rolling back after it is one whose restore failed (canarybot keeps retrying it).
 */
export function unfinishedRollback(rollout: Rollout): string | undefined {
  if (rollout.phase !== Phase.RollingBack) return undefined;
  const why =
    rollout.restoreFailure?.lastError ??
    `the route is not restored yet; canarybot keeps trying (canarybot history ${rollout.id})`;
  return `rollback requested, restore failing: ${why}`;
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
  const value = formatCheckValue(check);
  return `  ${mark} ${check.name.padEnd(22)} ${value.padStart(14)}  ${check.threshold}${check.detail ? `  (${check.detail})` : ""}`;
}

function formatValue(value: number | undefined, unit: string): string {
  if (value === undefined) return "—";
  return `${Math.round(value * 100) / 100}${unit}`;
}

/** A dry run in words, as both inputs show it: a heading, the target, the plan, then the first route change. */
export function dryRunText(dry: DryRun): { heading: string; lines: string[]; change: string } {
  const { plan, target } = dry;
  const gates = plan.approvalGates.length > 0 ? `, approval at ${plan.approvalGates.join(", ")}%` : "";
  const header = plan.headerMatch ? `, header stage ${plan.headerMatch.name}=${plan.headerMatch.value}` : "";
  const analysis = plan.analysis ? ", metric analysis on" : ", no metric analysis";
  return {
    heading: "Dry run: nothing changed.",
    lines: [
      `Target: ${target.namespace}/${target.virtualService} ${target.stableSubset} → ${target.canarySubset}`,
      `Steps: ${plan.steps.join(" → ")}% every ${plan.intervalMs / 1000}s${gates}${header}${analysis}`,
      "First change:",
    ],
    change: dry.change,
  };
}
