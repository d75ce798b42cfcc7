import { isLive } from "./plan.ts";
import { formatUtc } from "./time-text.ts";
import type { Rollout } from "./types.ts";

/** A due tick may lag this long (a busy worker, a slow Redis) before the sweeper enqueues it again. */
export const TICK_GRACE_MS = 2_000;
/** A tick this many intervals late means nobody is stepping the rollout: people are told. */
export const OVERDUE_INTERVALS = 3;
/**
 * ... but never sooner than this: a worker killed mid-tick holds its job until BullMQ finds it stalled (30 s) and
 * its rollout lock until it lapses (30 s), and that is recovery, not a stuck rollout.
 */
export const MIN_OVERDUE_MS = 120_000;

export type SweepPlan = {
  /** Ticks of this cluster's rollouts whose job must exist now (enqueueing an existing one is a no-op). */
  ensure: { rolloutId: string; tick: number }[];
  /** Rollouts, of any cluster, that nobody has stepped for too long, with the words to say so. */
  overdue: { rolloutId: string; tick: number; detail: string }[];
};

/**
 * Scheduling is level-triggered like the route: a live rollout whose saved state says a tick is due must have a job
 * for it, whatever process died between saving that state and scheduling the job. Pure: what to enqueue and what
 * to report, from the live rollouts and the time.
 */
export function planSweep(
  rollouts: readonly Rollout[],
  serves: (rollout: Rollout) => boolean,
  now: number,
): SweepPlan {
  const plan: SweepPlan = { ensure: [], overdue: [] };
  for (const rollout of rollouts) {
    const due = rollout.nextTickAt;
    if (due === undefined || !isLive(rollout.phase)) continue;
    const ours = serves(rollout);
    if (ours && now >= due + TICK_GRACE_MS) plan.ensure.push({ rolloutId: rollout.id, tick: rollout.tick });
    const late = Math.max(OVERDUE_INTERVALS * rollout.plan.intervalMs, MIN_OVERDUE_MS);
    if (now >= due + late && rollout.overdue?.tick !== rollout.tick) {
      plan.overdue.push({
        rolloutId: rollout.id,
        tick: rollout.tick,
        detail: overdueDetail(rollout, ours, due),
      });
    }
  }
  return plan;
}

function overdueDetail(rollout: Rollout, ours: boolean, due: number): string {
  const since = `its step due at ${formatUtc(due)} has not run`;
  if (ours) return `${since}: are the workers stuck, or the tick queue?`;
  const where = rollout.cluster?.context
    ? `${rollout.cluster.server} (context ${rollout.cluster.context})`
    : (rollout.cluster?.server ?? "its cluster");
  return `${since}: no worker for cluster ${where} is running`;
}
