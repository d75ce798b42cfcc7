import { isTerminal } from "./plan.ts";
import type { Actor, AuditEntry, Phase, Rollout } from "./types.ts";

/** One rollout as the daily digest tells it: what it released, how it went, and who decided. */
export type DigestEntry = {
  id: string;
  stable: string;
  canary: string;
  phase: Phase;
  /** The weight the route was last confirmed to carry. */
  weight: number;
  startedBy: Actor;
  startedAt: number;
  /** When it reached its final phase; absent while it is live. */
  endedAt?: number;
  /** Who approved a gate, in order, each once. */
  approvedBy: Actor[];
  /** Who decided how it ends and why (a promotion, a rollback, a failure). */
  outcome?: { by: Actor; reason: string };
};

/** The digest's account of a rollout, from its state and its audit. */
export function digestEntry(rollout: Rollout, audit: readonly AuditEntry[]): DigestEntry {
  const approvedBy: Actor[] = [];
  for (const entry of audit) {
    if (entry.action === "approve" && !approvedBy.includes(entry.actor)) approvedBy.push(entry.actor);
  }
  const ended = isTerminal(rollout.phase)
    ? (audit.find((entry) => isTerminal(entry.toPhase) && !isTerminal(entry.fromPhase))?.at ??
      rollout.updatedAt)
    : undefined;
  return {
    id: rollout.id,
    stable: rollout.target.stableSubset,
    canary: rollout.target.canarySubset,
    phase: rollout.phase,
    weight: rollout.appliedWeight,
    startedBy: rollout.startedBy,
    startedAt: rollout.createdAt,
    ...(ended === undefined ? {} : { endedAt: ended }),
    approvedBy,
    ...(rollout.outcome ? { outcome: { by: rollout.outcome.by, reason: rollout.outcome.reason } } : {}),
  };
}

/** Whether a rollout belongs to the day `[from, to)`: it started or ended in it. */
export function isOnDigestDay(entry: DigestEntry, day: { from: number; to: number }): boolean {
  const within = (at: number | undefined): boolean => at !== undefined && at >= day.from && at < day.to;
  return within(entry.startedAt) || within(entry.endedAt);
}
