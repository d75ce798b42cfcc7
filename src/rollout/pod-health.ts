import { desiredWeight, formatDuration } from "./plan.ts";
import { formatUtc } from "./time-text.ts";
import { NotificationKind, SYSTEM_ACTOR } from "./types.ts";
import type { Effect, Plan, PodHealth, PodObservation, PodWatch, Rollout } from "./types.ts";

/** Flagger's default `progressDeadlineSeconds`: 600. */
export const DEFAULT_PROGRESS_DEADLINE_MS = 10 * 60_000;

export function progressDeadlineOf(plan: Pick<Plan, "progressDeadlineMs">): number {
  return plan.progressDeadlineMs ?? DEFAULT_PROGRESS_DEADLINE_MS;
}

/** The rollout with the tick's look at its canary pods recorded, what to audit and say, and whether time is up. */
export type PodWatchResult = {
  rollout: Rollout;
  effects: Effect[];
  /** Set when the pods have been unhealthy for the whole progress deadline: why the rollout must roll back. */
  expired?: string;
};

function isUnreadable(observed: PodObservation): observed is { unreadable: string } {
  return "unreadable" in observed;
}

/**
 * Why the canary's pods are unhealthy, or undefined when they are not: none at all, some not ready, or restarts
 * since the last look (a crash loop can catch its pods ready at every look, never its restart count).
 */
export function podProblem(observed: PodHealth, restartsBefore: number | undefined): string | undefined {
  const waiting = observed.waiting ? ` (${observed.waiting})` : "";
  if (observed.pods === 0) return "no canary pods";
  if (observed.ready < observed.pods) return `${observed.ready}/${observed.pods} pods ready${waiting}`;
  const restarted = restartsBefore === undefined ? 0 : observed.restarts - restartsBefore;
  if (restarted > 0) return `${restarted} restart${restarted === 1 ? "" : "s"} since the last look${waiting}`;
  return undefined;
}

/**
 * Record a tick's look at the canary's pods. Unhealthy pods start the progress deadline's clock (said once, in the
 * audit and to the channel); a healthy look stops it; a look that could not read the pods changes neither (in
 * doubt, nothing is decided). Once the clock has run the whole deadline, `expired` says why to roll back.
 */
export function watchPods(rollout: Rollout, observed: PodObservation, now: number): PodWatchResult {
  const before = rollout.pods;
  if (isUnreadable(observed)) {
    const pods: PodWatch = { ...before, at: now, observed };
    return { rollout: { ...rollout, pods }, effects: [] };
  }
  const problem = podProblem(observed, before?.restarts);
  const deadline = progressDeadlineOf(rollout.plan);
  if (problem === undefined) {
    const pods: PodWatch = { at: now, observed, restarts: observed.restarts };
    const recovered = before?.unhealthySince !== undefined;
    const effects = recovered ? [podAudit(rollout, now, "pods-healthy", describeHealth(observed))] : [];
    return { rollout: { ...rollout, pods }, effects };
  }
  const since = before?.unhealthySince ?? now;
  const pods: PodWatch = { at: now, observed, restarts: observed.restarts, unhealthySince: since, problem };
  const next = { ...rollout, pods };
  if (now - since >= deadline) {
    const expired = `canary pods unhealthy for ${formatDuration(now - since)} (progress deadline ${formatDuration(deadline)}): ${problem}`;
    return { rollout: next, effects: [], expired };
  }
  if (before?.unhealthySince !== undefined) return { rollout: next, effects: [] };
  const detail = `${problem}; rolls back unless healthy by ${formatUtc(since + deadline)}`;
  return {
    rollout: next,
    effects: [
      podAudit(rollout, now, "pods-unhealthy", detail),
      {
        type: "notify",
        kind: NotificationKind.Alert,
        text: `${rollout.id}: canary pods unhealthy: ${detail}`,
      },
    ],
  };
}

function podAudit(rollout: Rollout, now: number, action: string, detail: string): Effect {
  return {
    type: "audit",
    entry: {
      at: now,
      rolloutId: rollout.id,
      actor: SYSTEM_ACTOR,
      action,
      fromPhase: rollout.phase,
      toPhase: rollout.phase,
      canaryWeight: desiredWeight(rollout),
      detail,
    },
  };
}

/** "2/2 ready, 0 restarts" */
function describeHealth(observed: PodHealth): string {
  const waiting = observed.waiting ? `, ${observed.waiting}` : "";
  return `${observed.ready}/${observed.pods} ready, ${observed.restarts} restart${observed.restarts === 1 ? "" : "s"}${waiting}`;
}

/** The pods in words only when they need someone's attention (unhealthy, or unreadable): for one-line statuses. */
export function describePodTrouble(rollout: Pick<Rollout, "pods" | "plan">): string | undefined {
  const watch = rollout.pods;
  if (!watch || (watch.unhealthySince === undefined && !isUnreadable(watch.observed))) return undefined;
  return describePods(rollout);
}

/**
 * The canary's pods for screens, briefly: "pods 2/2 ready, 0 restarts", "pods 0/1 ready (CrashLoopBackOff) since
 * 14:02 UTC, rolls back at 14:12 UTC", "pods unreadable: …"; undefined before the first look.
 */
export function describePods(rollout: Pick<Rollout, "pods" | "plan">): string | undefined {
  const watch = rollout.pods;
  if (!watch) return undefined;
  const { observed } = watch;
  if (isUnreadable(observed)) return `pods unreadable: ${observed.unreadable}`;
  if (watch.unhealthySince === undefined) return `pods ${describeHealth(observed)}`;
  const deadline = watch.unhealthySince + progressDeadlineOf(rollout.plan);
  return `pods unhealthy since ${formatUtc(watch.unhealthySince)}: ${watch.problem ?? describeHealth(observed)}; rolls back at ${formatUtc(deadline)}`;
}
