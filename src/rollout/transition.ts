import { describeCheck } from "./check-text.ts";
import { watchPods } from "./pod-health.ts";
import { formatUtc, formatUtcDateTime } from "./time-text.ts";
import {
  describeWeight,
  desiredWeight,
  isGateOpen,
  isTerminal,
  lastStepIndex,
  wantsHeaderRoute,
} from "./plan.ts";
import { CheckStatus, HookType, NotificationKind, PauseCause, Phase, SYSTEM_ACTOR } from "./types.ts";
import type {
  Actor,
  CheckResult,
  Effect,
  HookResult,
  PodObservation,
  Rollout,
  RolloutEvent,
  TransitionResult,
  Verdict,
} from "./types.ts";
import {
  describeWait,
  failureLimitOf,
  hasStartGate,
  hookAudits,
  hookPolicy,
  isAwaitingStartGate,
  phaseChangeCalls,
  recordHookResults,
  rollbackRequest,
  unconfirmed,
  unconfirmedAdvance,
  withHookChecks,
} from "./webhooks.ts";

type TickEvent = Extract<RolloutEvent, { type: "tick" }>;

/** How often a rollback whose restore failed is tried again. */
export const RESTORE_RETRY_MS = 5_000;
/** A restore that keeps failing is announced once, then again only after this long without an announcement. */
export const RESTORE_REALERT_MS = 15 * 60_000;
/** Snapshots kept with a rollout for history and charts. */
export const MAX_SNAPSHOTS = 50;

/**
 * The whole decision logic of a rollout: the next state and the effects that carry it out. Pure: time comes in
 * as `now`, nothing is read or written. A refused event returns the rollout unchanged, `refused` set, and an
 * audit effect (ticks excepted: a stale or duplicated tick job is expected and not worth an entry).
 */
export function transition(rollout: Rollout, event: RolloutEvent, now: number): TransitionResult {
  const result = withPhaseChangeHooks(rollout, decide(rollout, event, now), now);
  // An overdue warning is about one tick: once the rollout has moved past it, it no longer holds.
  if (result.rollout.overdue && result.rollout.overdue.tick !== result.rollout.tick) {
    return { ...result, rollout: { ...result.rollout, overdue: undefined } };
  }
  return result;
}

/**
 * Every phase change goes to the event webhooks (and an ending to the post-rollout ones), with the audit's words as
 * the message; a webhook gate's wait ends when the rollout moves on.
 */
function withPhaseChangeHooks(before: Rollout, result: TransitionResult, now: number): TransitionResult {
  if (result.refused !== undefined) return result;
  const after = result.rollout;
  const moved = after.phase !== before.phase || after.stepIndex !== before.stepIndex;
  const rollout = moved && after.waitingFor !== undefined ? { ...after, waitingFor: undefined } : after;
  const entry = [...result.effects]
    .reverse()
    .find((effect) => effect.type === "audit" && effect.entry.action !== "webhook");
  const message =
    entry?.type === "audit"
      ? `${before.id} ${entry.entry.action}${entry.entry.detail ? `: ${entry.entry.detail}` : ""}`
      : `${before.id} is ${after.phase}`;
  const calls = phaseChangeCalls(before, rollout, message, now);
  if (rollout === after && calls.length === 0) return result;
  // First: the service queues them as it meets them, and the follow-up changes the other effects bring (a route
  // confirmed, a promotion finished) queue theirs after.
  return { ...result, rollout, effects: [...calls, ...result.effects] };
}

function decide(rollout: Rollout, event: RolloutEvent, now: number): TransitionResult {
  // Post-rollout and event hooks are called after the change that asked for them, often an ending: recorded anyway.
  if (event.type === "webhooks-called") return onWebhooksCalled(rollout, event.results, now);
  if (isTerminal(rollout.phase)) {
    // People are told why nothing happens (and it is audited); late system events are simply absorbed.
    return isHumanEvent(event)
      ? refuse(rollout, event, now, alreadyFinished(rollout))
      : ignore(rollout, alreadyFinished(rollout));
  }
  switch (event.type) {
    case "preflight-passed":
      return onPreflightPassed(rollout, event.baseline, event.subsetLabels, now);
    case "preflight-failed":
      if (rollout.phase !== Phase.Preflight) return refuse(rollout, event, now, "preflight is over");
      return finish(rollout, now, { phase: Phase.Failed, by: SYSTEM_ACTOR, reason: event.reason }, "failed");
    case "tick":
      return onHookedTick(rollout, event, now);
    case "approve":
      return onApprove(rollout, event.by, now);
    case "promote":
      return onPromote(rollout, event.by, now);
    case "pause":
      return onPause(rollout, event.by, event.reason, now);
    case "resume":
      return onResume(rollout, event.by, now);
    case "rollback":
      return onRollback(rollout, event.by, event.reason, now);
    case "drift-detected":
      return pauseBySystem(rollout, now, PauseCause.Drift, `drift: ${event.detail}`, "drift");
    case "weights-applied":
      return onWeightsApplied(rollout, event.weight, event.headerRouteActive, now);
    case "route-restored":
      return onRouteRestored(rollout, now);
    case "route-gone":
      return onRouteGone(rollout, event.detail, now);
    case "error":
      return onError(rollout, event.kind, event.detail, now);
    case "tick-overdue":
      return onTickOverdue(rollout, event.tick, event.detail, now);
  }
}

function onWebhooksCalled(rollout: Rollout, results: HookResult[], now: number): TransitionResult {
  if (results.length === 0) return ignore(rollout, "no webhook was called");
  return {
    rollout: { ...recordHookResults(rollout, results), updatedAt: now },
    effects: hookAudits(rollout, results, now, desiredWeight(rollout)),
  };
}

/**
 * A tick with the webhooks the service called for it: every call is recorded and audited, a `rollback` hook that
 * answered 2xx rolls back, and the rest is the tick as ever, with the hooks' answers as gates and checks.
 */
function onHookedTick(rollout: Rollout, event: TickEvent, now: number): TransitionResult {
  const { tick, verdict, windowOpensAt, pods } = event;
  const hooks = event.hooks ?? [];
  if (tick !== rollout.tick || hooks.length === 0) {
    return onTick(rollout, tick, verdict, now, windowOpensAt, [], pods);
  }
  const recorded = recordHookResults(rollout, hooks);
  const audits = hookAudits(rollout, hooks, now, desiredWeight(rollout));
  const rollback = rollbackRequest(hooks);
  const result = rollback
    ? onRollback(recorded, SYSTEM_ACTOR, `rollback requested by the rollback webhook "${rollback.name}"`, now)
    : isAwaitingStartGate(rollout)
      ? onStartGateTick(recorded, now, hooks)
      : onTick(recorded, tick, verdict, now, windowOpensAt, hooks, pods);
  // Refused or not, the calls happened: their audit entries go in either way.
  return { ...result, effects: [...audits, ...result.effects] };
}

/**
 * Waiting after preflight, before any traffic: the confirm-rollout hooks must all answer 2xx, then the pre-rollout
 * hooks (acceptance tests). A failed pre-rollout hook counts toward the failure limit, and at the limit the rollout
 * fails with nothing changed.
 */
function onStartGateTick(rollout: Rollout, now: number, hooks: HookResult[]): TransitionResult {
  const confirm = unconfirmed(rollout.plan, [HookType.ConfirmRollout], hooks);
  if (confirm) return holdForHooks(rollout, now, describeWait(confirm));
  const acceptance = unconfirmed(rollout.plan, [HookType.PreRollout], hooks);
  if (acceptance) {
    const failedChecks = rollout.failedChecks + 1;
    const limit = failureLimitOf(rollout.plan);
    const why = describeWait(acceptance);
    if (failedChecks >= limit) {
      return finish(
        { ...rollout, failedChecks },
        now,
        {
          phase: Phase.Failed,
          by: SYSTEM_ACTOR,
          reason: `${failedChecks} failed checks (limit ${limit}) before any traffic: ${why}`,
        },
        "failed",
      );
    }
    const result = step(rollout, now, SYSTEM_ACTOR, "hold", { failedChecks, waitingFor: why }, why);
    return withTick(result, now);
  }
  return beginTraffic({ ...rollout, waitingFor: undefined }, now, SYSTEM_ACTOR);
}

/** A webhook gate holds the rollout where it is: said once in the audit, looked at again every interval. */
function holdForHooks(
  rollout: Rollout,
  now: number,
  waitingFor: string,
  snapshot: Effect[] = [],
): TransitionResult {
  const result =
    rollout.waitingFor === waitingFor
      ? { rollout, effects: [] }
      : step(rollout, now, SYSTEM_ACTOR, "hook-hold", { waitingFor }, `waiting for ${waitingFor}`);
  result.effects.push(...snapshot);
  return withTick(result, now);
}

function onRouteRestored(rollout: Rollout, now: number): TransitionResult {
  if (rollout.phase !== Phase.RollingBack) return ignore(rollout, "not rolling back");
  const failure = rollout.restoreFailure;
  const result = step(rollout, now, SYSTEM_ACTOR, "rolled-back", {
    phase: Phase.RolledBack,
    appliedWeight: 0,
    headerRouteActive: false,
    nextTickAt: undefined,
    restoreFailure: undefined,
  });
  if (failure) {
    // Whoever heard that the restore was failing must hear that it is done.
    const text = `${rollout.id} is rolled back: the route is restored after ${failure.attempts + 1} attempts`;
    result.effects.push({ type: "notify", kind: NotificationKind.Alert, text });
  }
  return result;
}

/** The VirtualService is gone: there is no traffic left to route, so a rollback is over rather than stuck. */
function onRouteGone(rollout: Rollout, detail: string, now: number): TransitionResult {
  if (rollout.phase !== Phase.RollingBack) return ignore(rollout, "not rolling back");
  const reason = `${rollout.outcome?.reason ?? "rolled back"}; ${detail}: nothing left to restore`;
  const result = finish(
    { ...rollout, appliedWeight: 0, headerRouteActive: false, restoreFailure: undefined },
    now,
    { phase: Phase.RolledBack, by: rollout.outcome?.by ?? SYSTEM_ACTOR, reason },
    "rolled-back",
  );
  result.effects.push({
    type: "notify",
    kind: NotificationKind.Alert,
    text: `${rollout.id} ended as rolled back: ${detail}, so there is no route left to restore`,
  });
  return result;
}

/** Said once per overdue tick: a rollout nobody steps must not look as if it were moving. */
function onTickOverdue(rollout: Rollout, tick: number, detail: string, now: number): TransitionResult {
  if (tick !== rollout.tick || rollout.nextTickAt === undefined) return ignore(rollout, "not overdue");
  if (rollout.overdue?.tick === tick) return ignore(rollout, "already reported");
  const result = step(
    rollout,
    now,
    SYSTEM_ACTOR,
    "overdue",
    { overdue: { tick, since: now, detail } },
    detail,
  );
  const text = `${rollout.id} is not being stepped: ${detail}`;
  result.effects.push({ type: "notify", kind: NotificationKind.Alert, text });
  return result;
}

function onPreflightPassed(
  rollout: Rollout,
  baseline: unknown,
  subsetLabels: Record<string, Record<string, string>>,
  now: number,
): TransitionResult {
  if (rollout.phase !== Phase.Preflight) return ignore(rollout, "preflight is over");
  if (hasStartGate(rollout.plan)) {
    // Nothing moves before the start gate webhooks pass: a worker calls them at once, then every interval.
    const waitingFor = "the confirm-rollout and pre-rollout webhooks";
    const result = step(
      rollout,
      now,
      SYSTEM_ACTOR,
      "hook-hold",
      { baseline, subsetLabels, waitingFor },
      `waiting for ${waitingFor}`,
    );
    return withTick(result, now, 0);
  }
  return beginTraffic({ ...rollout, baseline, subsetLabels }, now, rollout.startedBy);
}

/** The first change to the route: the header stage, or the first step. */
function beginTraffic(rollout: Rollout, now: number, actor: Actor): TransitionResult {
  const { baseline, subsetLabels } = rollout;
  const header = rollout.plan.headerMatch !== undefined;
  const next: Partial<Rollout> = header
    ? { phase: Phase.HeaderStage, baseline, subsetLabels, stepIndex: -1 }
    : { phase: Phase.Progressing, baseline, subsetLabels, stepIndex: 0 };
  // The first step is a step like the others in the audit: one "step" entry per weight of the plan.
  const result = step(rollout, now, actor, header ? "header-stage" : "step", next);
  return withRouteAndTick(result, now);
}

function onTick(
  rollout: Rollout,
  tick: number,
  verdict: Verdict | undefined,
  now: number,
  windowOpensAt: number | undefined,
  hooks: HookResult[] = [],
  pods?: PodObservation,
): TransitionResult {
  if (tick !== rollout.tick) return ignore(rollout, `stale tick ${tick} (current ${rollout.tick})`);
  switch (rollout.phase) {
    case Phase.RollingBack:
      return withTick({ rollout, effects: [{ type: "restore-route" }] }, now, RESTORE_RETRY_MS);
    case Phase.HeaderStage:
      return withPodWatch(rollout, pods, now, (watched) => holdRoute(watched, now));
    case Phase.Progressing:
      return withPodWatch(rollout, pods, now, (watched) =>
        onProgressTick(watched, withHookChecks(watched.plan, verdict, hooks), now, windowOpensAt, hooks),
      );
    case Phase.Preflight:
      // Waiting for the start gate webhooks: a tick whose calls did not happen holds and looks again.
      if (isAwaitingStartGate(rollout)) return onStartGateTick(rollout, now, hooks);
      return ignore(rollout, `no tick is due while ${rollout.phase}`);
    case Phase.Paused:
    case Phase.AwaitingApproval:
    case Phase.Promoted:
    case Phase.RolledBack:
    case Phase.Failed:
      return ignore(rollout, `no tick is due while ${rollout.phase}`);
  }
}

/**
 * The canary's pods come first, as in Flagger: while they are unready or crash-looping the rollout holds its weight
 * (no step, no judging: a canary that cannot serve shows no errors, it gets no traffic), and once they have been so
 * for the whole progress deadline it rolls back, metrics or not. Otherwise the tick goes on as ever.
 */
function withPodWatch(
  rollout: Rollout,
  pods: PodObservation | undefined,
  now: number,
  next: (rollout: Rollout) => TransitionResult,
): TransitionResult {
  if (pods === undefined) return next(rollout);
  const watched = watchPods(rollout, pods, now);
  const result = watched.expired
    ? onRollback(watched.rollout, SYSTEM_ACTOR, watched.expired, now)
    : watched.rollout.pods?.unhealthySince !== undefined
      ? holdRoute(watched.rollout, now)
      : next(watched.rollout);
  return { ...result, effects: [...watched.effects, ...result.effects] };
}

function onProgressTick(
  rollout: Rollout,
  verdict: Verdict | undefined,
  now: number,
  windowOpensAt: number | undefined,
  hooks: HookResult[] = [],
): TransitionResult {
  // The route is not yet where the state says (a write failed): put it there before judging anything.
  if (rollout.appliedWeight !== desiredWeight(rollout) || rollout.headerRouteActive) {
    return holdRoute(rollout, now);
  }
  // Promotion already decided (a human Promote, or the passing tick that took the last step): just finish it.
  if (rollout.stepIndex >= lastStepIndex(rollout.plan) && rollout.outcome) {
    return finish(rollout, now, { phase: Phase.Promoted, ...rollout.outcome }, "promoted");
  }
  const policy = rollout.plan.analysis ?? hookPolicy(rollout.plan);
  const warmUpMs = windowWarmUp(rollout, verdict, now);
  if (policy && warmUpMs > 0) {
    // The window still reaches back before this weight (and a canary's first error series are still too young
    // for rate() to see): judging now would mix in the previous step. Look again once the window is full.
    return withTick({ rollout, effects: [] }, now, warmUpMs);
  }
  if (policy) {
    // No verdict is never a pass: a tick without one counts as inconclusive.
    const judged: Verdict = verdict ?? {
      status: CheckStatus.Inconclusive,
      checks: [
        { name: "analysis", status: CheckStatus.Inconclusive, threshold: "a verdict", detail: "none" },
      ],
    };
    const recorded = recordVerdict(rollout, judged);
    if (judged.status === CheckStatus.Fail) {
      const failedChecks = rollout.failedChecks + 1;
      const critical = judged.checks.some((check) => check.critical && check.status === CheckStatus.Fail);
      const failing = describeChecks(judged.checks, CheckStatus.Fail);
      if (critical || failedChecks >= policy.failureLimit) {
        const why = critical
          ? `critical breach: ${failing}`
          : `${failedChecks} failed checks (limit ${policy.failureLimit}): ${failing}`;
        const rollback = onRollback(
          { ...recorded, failedChecks, inconclusiveStreak: 0 },
          SYSTEM_ACTOR,
          why,
          now,
        );
        // The thread gets the numbers (and the chart) of the step that rolled it back, as of every judged step.
        rollback.effects.push(...snapshotEffect(judged));
        return withJudgedChecks(rollback, judged.checks);
      }
      const held = judgedHold({ ...recorded, failedChecks, inconclusiveStreak: 0 }, now, "hold", failing);
      return withJudgedChecks(held, judged.checks);
    }
    if (judged.status === CheckStatus.Inconclusive) {
      const streak = rollout.inconclusiveStreak + 1;
      const unclear = describeChecks(judged.checks, CheckStatus.Inconclusive);
      if (streak >= policy.inconclusiveLimit) {
        const why = `metrics inconclusive ${streak} times in a row: ${unclear}`;
        const paused = pauseBySystem(
          { ...recorded, inconclusiveStreak: streak },
          now,
          PauseCause.Inconclusive,
          why,
          "pause",
        );
        paused.effects.push(...snapshotEffect(judged));
        return withJudgedChecks(paused, judged.checks);
      }
      const held = judgedHold({ ...recorded, inconclusiveStreak: streak }, now, "inconclusive", unclear);
      return withJudgedChecks(held, judged.checks);
    }
    // A pass resets the failure count: only failures in a row (inconclusive ticks between them aside) roll back.
    return withJudgedChecks(
      advance({ ...recorded, inconclusiveStreak: 0, failedChecks: 0 }, now, judged, windowOpensAt, hooks),
      judged.checks,
    );
  }
  return advance(rollout, now, undefined, windowOpensAt, hooks);
}

/** How long until the metrics window covers only traffic at the current weight; 0 when it already does. */
function windowWarmUp(rollout: Rollout, verdict: Verdict | undefined, now: number): number {
  const windowSeconds = verdict?.snapshot?.windowSeconds;
  if (windowSeconds === undefined || rollout.routeSince === undefined) return 0;
  return Math.max(0, rollout.routeSince + windowSeconds * 1000 - now);
}

function advance(
  rollout: Rollout,
  now: number,
  verdict: Verdict | undefined,
  windowOpensAt?: number,
  hooks: HookResult[] = [],
): TransitionResult {
  const snapshot = snapshotEffect(verdict);
  if (isGateOpen(rollout)) {
    const result = step(rollout, now, SYSTEM_ACTOR, "await-approval", {
      phase: Phase.AwaitingApproval,
      tick: rollout.tick + 1,
      nextTickAt: undefined,
    });
    const weight = describeWeight(rollout);
    result.effects.push(...snapshot, {
      type: "notify",
      kind: NotificationKind.Alert,
      text: `${rollout.id} is holding at ${weight} and needs an approval to go on`,
    });
    return result;
  }
  // confirm-traffic-increase and confirm-promotion hold the step until they answer 2xx; the judging goes on.
  const waitingFor = unconfirmedAdvance(rollout, hooks);
  if (waitingFor) return holdForHooks(rollout, now, waitingFor, snapshot);
  const last = lastStepIndex(rollout.plan);
  if (rollout.stepIndex >= last) {
    const reason = verdict ? "the last step passed analysis" : "all steps done";
    const result = finish(rollout, now, { phase: Phase.Promoted, by: SYSTEM_ACTOR, reason }, "promoted");
    result.effects.push(...snapshot);
    return result;
  }
  if (windowOpensAt !== undefined) return holdForWindow(rollout, now, windowOpensAt, snapshot);
  const stepIndex = rollout.stepIndex + 1;
  // Taking the last step on a passing (or unjudged) tick is the decision to promote.
  const decided =
    stepIndex === last ? { outcome: { at: now, by: SYSTEM_ACTOR, reason: "all steps passed" } } : {};
  // The audit keeps the numbers the step was taken on.
  const judged = verdict ? `${verdict.status}: ${describeChecks(verdict.checks)}` : undefined;
  const result = step(
    rollout,
    now,
    SYSTEM_ACTOR,
    "step",
    { stepIndex, heldUntil: undefined, ...decided },
    judged,
  );
  result.effects.push(...snapshot);
  return withRouteAndTick(result, now);
}

/**
 * Outside its release windows a rollout takes no scheduled step: it keeps its weight and keeps being judged every
 * interval (a breach still rolls it back), and steps at the first tick inside a window. A person's Approve or Promote
 * is a decision and is not held.
 */
function holdForWindow(rollout: Rollout, now: number, opensAt: number, snapshot: Effect[]): TransitionResult {
  const first = rollout.heldUntil !== opensAt;
  const result = first
    ? step(
        rollout,
        now,
        SYSTEM_ACTOR,
        "window-hold",
        { heldUntil: opensAt },
        `outside its release windows until ${formatUtcDateTime(opensAt)}`,
      )
    : { rollout, effects: [] };
  result.effects.push(...snapshot);
  // Look again at the opening, or after an interval if that comes first: the judging goes on meanwhile.
  const delay = Math.max(0, Math.min(rollout.plan.intervalMs, opensAt - now));
  return withTick(result, now, delay);
}

function onApprove(rollout: Rollout, by: Actor, now: number): TransitionResult {
  if (rollout.phase !== Phase.AwaitingApproval && rollout.phase !== Phase.HeaderStage) {
    return refuse(
      rollout,
      { type: "approve", by },
      now,
      `${rollout.id} is ${rollout.phase}: nothing to approve`,
    );
  }
  const twoPerson = twoPersonRefusal(rollout, by, "approve");
  if (twoPerson) return refuse(rollout, { type: "approve", by }, now, twoPerson);
  const approvals = [...rollout.approvals, { by, at: now, stepIndex: rollout.stepIndex }];
  if (rollout.phase === Phase.HeaderStage) {
    const result = step(rollout, now, by, "approve", { approvals, phase: Phase.Progressing, stepIndex: 0 });
    return withRouteAndTick(result, now);
  }
  // Approval lifts the gate only; the next tick still needs a passing verdict to move on.
  const result = step(rollout, now, by, "approve", { approvals, phase: Phase.Progressing });
  return withRouteAndTick(result, now, 0);
}

function onPromote(rollout: Rollout, by: Actor, now: number): TransitionResult {
  const event: RolloutEvent = { type: "promote", by };
  if (rollout.phase === Phase.Preflight || rollout.phase === Phase.RollingBack) {
    return refuse(rollout, event, now, `${rollout.id} is ${rollout.phase}: it cannot be promoted now`);
  }
  const twoPerson = hasPendingGate(rollout) ? twoPersonRefusal(rollout, by, "promote past") : undefined;
  if (twoPerson) return refuse(rollout, event, now, twoPerson);
  return promote(rollout, now, by, `promoted by ${by}`);
}

/** Jump to the last step; the phase becomes `promoted` once the router confirms the full weight. */
function promote(rollout: Rollout, now: number, by: Actor, reason: string): TransitionResult {
  const last = lastStepIndex(rollout.plan);
  const outcome = { at: now, by, reason };
  if (rollout.stepIndex === last && rollout.appliedWeight === desiredWeight(rollout)) {
    return finish(rollout, now, { phase: Phase.Promoted, by, reason }, "promoted");
  }
  const result = step(rollout, now, by, by === SYSTEM_ACTOR ? "step" : "promote", {
    phase: Phase.Progressing,
    stepIndex: last,
    outcome,
    reason: undefined,
    pauseCause: undefined,
    resumeTo: undefined,
  });
  return withRouteAndTick(result, now);
}

function onPause(rollout: Rollout, by: Actor, reason: string | undefined, now: number): TransitionResult {
  const event: RolloutEvent = { type: "pause", by, ...(reason === undefined ? {} : { reason }) };
  if (rollout.phase === Phase.Paused) return refuse(rollout, event, now, `${rollout.id} is already paused`);
  if (!isPausable(rollout)) {
    return refuse(rollout, event, now, `${rollout.id} is ${rollout.phase}: it cannot be paused`);
  }
  const why = reason ? `paused by ${by}: ${reason}` : `paused by ${by}`;
  return step(
    rollout,
    now,
    by,
    "pause",
    {
      phase: Phase.Paused,
      resumeTo: rollout.phase,
      reason: why,
      pauseCause: PauseCause.User,
      tick: rollout.tick + 1,
      nextTickAt: undefined,
    },
    why,
  );
}

function onResume(rollout: Rollout, by: Actor, now: number): TransitionResult {
  if (rollout.phase !== Phase.Paused) {
    return refuse(rollout, { type: "resume", by }, now, `${rollout.id} is ${rollout.phase}, not paused`);
  }
  const resumeTo = rollout.resumeTo ?? Phase.Progressing;
  const force = rollout.pauseCause === PauseCause.Drift;
  const result = step(rollout, now, by, "resume", {
    phase: resumeTo,
    resumeTo: undefined,
    reason: undefined,
    pauseCause: undefined,
    inconclusiveStreak: 0,
  });
  if (resumeTo === Phase.AwaitingApproval) {
    if (force) result.effects.push(routeEffect(result.rollout, true));
    return result;
  }
  return withRouteAndTick(result, now, undefined, force);
}

function onRollback(rollout: Rollout, by: Actor, reason: string, now: number): TransitionResult {
  if (rollout.phase === Phase.RollingBack) {
    // Asking again is how a person gets a stuck restore tried now rather than at the next retry.
    const result = step(rollout, now, by, "rollback-retry", {}, reason);
    result.effects.push({ type: "restore-route" });
    return withTick(result, now, RESTORE_RETRY_MS);
  }
  if (rollout.phase === Phase.Preflight) {
    // Nothing was touched yet; ending it frees the target (a start that died mid-preflight leaves one behind).
    return finish(
      rollout,
      now,
      { phase: Phase.Failed, by, reason: `cancelled before any change: ${reason}` },
      "rollback",
    );
  }
  const result = step(
    rollout,
    now,
    by,
    "rollback",
    {
      phase: Phase.RollingBack,
      outcome: { at: now, by, reason },
      reason: undefined,
      pauseCause: undefined,
      resumeTo: undefined,
    },
    reason,
  );
  result.effects.push({ type: "restore-route" });
  // Everyone who must know hears of a rollback, whoever started it (Slack, the CLI, or canarybot itself).
  const text =
    by === SYSTEM_ACTOR
      ? `${rollout.id} is rolling back automatically: ${reason}`
      : `${rollout.id} is rolling back, requested by ${by}: ${reason}`;
  result.effects.push({ type: "notify", kind: NotificationKind.Alert, text });
  return withTick(result, now, RESTORE_RETRY_MS);
}

function onWeightsApplied(
  rollout: Rollout,
  weight: number,
  headerRouteActive: boolean,
  now: number,
): TransitionResult {
  const moved = weight !== rollout.appliedWeight || headerRouteActive !== rollout.headerRouteActive;
  const recorded = {
    ...rollout,
    appliedWeight: weight,
    headerRouteActive,
    ...(moved ? { routeSince: now } : {}),
  };
  const last = lastStepIndex(rollout.plan);
  const decided = rollout.outcome;
  const atLastStep = rollout.stepIndex === last && weight === desiredWeight(rollout);
  if (rollout.phase === Phase.Progressing && atLastStep && decided) {
    return finish(
      recorded,
      now,
      { phase: Phase.Promoted, by: decided.by, reason: decided.reason },
      "promoted",
    );
  }
  return { rollout: recorded, effects: [] };
}

function onError(rollout: Rollout, kind: string, detail: string, now: number): TransitionResult {
  if (rollout.phase === Phase.Preflight) {
    return finish(
      rollout,
      now,
      { phase: Phase.Failed, by: SYSTEM_ACTOR, reason: `${kind}: ${detail}` },
      "failed",
    );
  }
  if (rollout.phase === Phase.RollingBack) return onRestoreFailed(rollout, `${kind}: ${detail}`, now);
  if (rollout.phase === Phase.Paused) return ignore(rollout, "already paused");
  return pauseBySystem(rollout, now, PauseCause.Error, `${kind}: ${detail}`, "pause");
}

/**
 * A rollback must finish: keep trying, and say why it has not yet. The channel hears it once, and again only after
 * a long quiet; the message carries the attempt count and the last error in between.
 */
function onRestoreFailed(rollout: Rollout, lastError: string, now: number): TransitionResult {
  const previous = rollout.restoreFailure;
  const announce = previous === undefined || now - previous.alertedAt >= RESTORE_REALERT_MS;
  const restoreFailure = {
    attempts: (previous?.attempts ?? 0) + 1,
    since: previous?.since ?? now,
    lastError,
    alertedAt: announce ? now : (previous?.alertedAt ?? now),
  };
  const effects: Effect[] = [];
  if (announce) {
    const text =
      `${rollout.id}: the rollback cannot restore the route yet, ${describeWeight(rollout)} still on the canary ` +
      `(${lastError}); retrying every ${RESTORE_RETRY_MS / 1000}s`;
    effects.push({ type: "notify", kind: NotificationKind.Alert, text });
  }
  return withTick({ rollout: { ...rollout, restoreFailure }, effects }, now, RESTORE_RETRY_MS);
}

function pauseBySystem(
  rollout: Rollout,
  now: number,
  cause: PauseCause,
  reason: string,
  action: string,
): TransitionResult {
  if (!isPausable(rollout)) return ignore(rollout, `${rollout.phase} cannot pause`);
  const result = step(
    rollout,
    now,
    SYSTEM_ACTOR,
    action,
    {
      phase: Phase.Paused,
      resumeTo: rollout.phase,
      reason,
      pauseCause: cause,
      tick: rollout.tick + 1,
      nextTickAt: undefined,
    },
    reason,
  );
  result.effects.push({
    type: "notify",
    kind: NotificationKind.Alert,
    text: `${rollout.id} paused, holding ${heldWeight(rollout)}: ${reason}`,
  });
  return result;
}

/** The weight a pause holds: what the route carries, and where it was going if a write was still pending. */
function heldWeight(rollout: Rollout): string {
  const target = desiredWeight(rollout);
  return rollout.appliedWeight === target
    ? `${target}%`
    : `${rollout.appliedWeight}% (it was moving to ${target}%)`;
}

/** A judged tick that does not move: count it, keep the weight, look again after an interval. */
function judgedHold(rollout: Rollout, now: number, action: string, detail: string): TransitionResult {
  const result = step(rollout, now, SYSTEM_ACTOR, action, {}, detail);
  result.effects.push(...snapshotEffect(rollout.lastVerdict));
  return withTick(result, now);
}

function holdRoute(rollout: Rollout, now: number): TransitionResult {
  return withTick({ rollout, effects: [routeEffect(rollout, false)] }, now);
}

function isPausable(rollout: Rollout): boolean {
  return (
    rollout.phase === Phase.Progressing ||
    rollout.phase === Phase.AwaitingApproval ||
    rollout.phase === Phase.HeaderStage
  );
}

/** A gate someone else still has to approve: the header stage, or an approval step not yet passed. */
function hasPendingGate(rollout: Rollout): boolean {
  const inHeaderStage =
    rollout.phase === Phase.HeaderStage ||
    (rollout.phase === Phase.Paused && rollout.resumeTo === Phase.HeaderStage);
  if (inHeaderStage) return true;
  return rollout.plan.steps.some(
    (weight, index) =>
      index >= rollout.stepIndex &&
      rollout.plan.approvalGates.includes(weight) &&
      !rollout.approvals.some((approval) => approval.stepIndex === index),
  );
}

function isHumanEvent(event: RolloutEvent): boolean {
  return "by" in event;
}

function twoPersonRefusal(rollout: Rollout, by: Actor, what: string): string | undefined {
  if (!rollout.plan.twoPersonRule || by !== rollout.startedBy) return undefined;
  return `two-person rule: ${by} started ${rollout.id}, so someone else must ${what} the gate`;
}

function recordVerdict(rollout: Rollout, verdict: Verdict): Rollout {
  const snapshots = verdict.snapshot
    ? [...rollout.snapshots, verdict.snapshot].slice(-MAX_SNAPSHOTS)
    : rollout.snapshots;
  return { ...rollout, lastVerdict: verdict, snapshots };
}

function snapshotEffect(verdict: Verdict | undefined): Effect[] {
  if (!verdict?.snapshot) return [];
  return [{ type: "notify", kind: NotificationKind.Snapshot, text: describeChecks(verdict.checks) }];
}

function describeChecks(checks: CheckResult[], only?: CheckResult["status"]): string {
  return checks
    .filter((check) => only === undefined || check.status === only)
    .map(describeCheck)
    .join("; ");
}

/** The audit keeps each check's value and threshold as data with the entries a verdict decided. */
function withJudgedChecks(result: TransitionResult, checks: CheckResult[]): TransitionResult {
  const kept = checks.map(({ name, status, value, unit, threshold }) => ({
    name,
    status,
    threshold,
    ...(value === undefined ? {} : { value }),
    ...(unit === undefined ? {} : { unit }),
  }));
  const effects = result.effects.map((effect) =>
    effect.type === "audit" ? { ...effect, entry: { ...effect.entry, checks: kept } } : effect,
  );
  return { ...result, effects };
}

/** Apply a change with its audit entry: the one way an accepted event alters a rollout. */
function step(
  rollout: Rollout,
  now: number,
  actor: Actor,
  action: string,
  change: Partial<Rollout>,
  detail?: string,
): TransitionResult {
  const next: Rollout = { ...rollout, ...change, updatedAt: now };
  return { rollout: next, effects: [auditEffect(rollout, next, now, actor, action, detail)] };
}

function auditEffect(
  before: Rollout,
  after: Rollout,
  now: number,
  actor: Actor,
  action: string,
  detail: string | undefined,
): Effect {
  return {
    type: "audit",
    entry: {
      at: now,
      rolloutId: before.id,
      actor,
      action,
      fromPhase: before.phase,
      toPhase: after.phase,
      canaryWeight: desiredWeight(after),
      ...(detail === undefined ? {} : { detail }),
    },
  };
}

function finish(
  rollout: Rollout,
  now: number,
  end: { phase: Phase; by: Actor; reason: string },
  action: string,
): TransitionResult {
  return step(
    rollout,
    now,
    end.by,
    action,
    {
      phase: end.phase,
      outcome: { at: now, by: end.by, reason: end.reason },
      nextTickAt: undefined,
      tick: rollout.tick + 1,
    },
    end.reason,
  );
}

/** Move the route to the state's desired weight and schedule the next look. */
function withRouteAndTick(
  result: TransitionResult,
  now: number,
  delayMs?: number,
  force = false,
): TransitionResult {
  result.effects.push(routeEffect(result.rollout, force));
  return withTick(result, now, delayMs);
}

function withTick(result: TransitionResult, now: number, delayMs?: number): TransitionResult {
  const delay = delayMs ?? result.rollout.plan.intervalMs;
  const rollout = scheduled(result.rollout, now, delay);
  return { ...result, rollout, effects: [...result.effects, tickEffect(result.rollout, delay)] };
}

function scheduled(rollout: Rollout, now: number, delayMs: number): Rollout {
  return { ...rollout, tick: rollout.tick + 1, nextTickAt: now + delayMs };
}

function tickEffect(rollout: Rollout, delayMs: number): Effect {
  return { type: "schedule-tick", tick: rollout.tick + 1, delayMs };
}

function routeEffect(rollout: Rollout, force: boolean): Effect {
  return {
    type: "set-weights",
    canaryWeight: desiredWeight(rollout),
    headerRoute: wantsHeaderRoute(rollout),
    ...(force ? { force } : {}),
  };
}

function ignore(rollout: Rollout, reason: string): TransitionResult {
  return { rollout, effects: [], refused: reason };
}

function refuse(rollout: Rollout, event: RolloutEvent, now: number, reason: string): TransitionResult {
  const actor = "by" in event ? event.by : SYSTEM_ACTOR;
  return {
    rollout,
    refused: reason,
    effects: [auditEffect(rollout, rollout, now, actor, `refused:${event.type}`, reason)],
  };
}

function alreadyFinished(rollout: Rollout): string {
  const outcome = rollout.outcome;
  const verb = rollout.phase === Phase.Failed ? "failed" : `already ${rollout.phase.replace("-", " ")}`;
  if (!outcome) return `${rollout.id} ${verb}`;
  return `${rollout.id} ${verb} at ${formatUtc(outcome.at)} by ${outcome.by} (${outcome.reason})`;
}
