import { describe, expect, it } from "vitest";
import { audits, effectsOfType } from "../support/effects.ts";
import { formatUtcDateTime } from "../../src/rollout/time-text.ts";
import {
  MAX_SNAPSHOTS,
  RESTORE_REALERT_MS,
  RESTORE_RETRY_MS,
  transition,
} from "../../src/rollout/transition.ts";
import { PauseCause, Phase, SYSTEM_ACTOR } from "../../src/rollout/types.ts";
import type {
  AuditEntry,
  Effect,
  Rollout,
  RolloutEvent,
  TransitionResult,
  Verdict,
} from "../../src/rollout/types.ts";
import { FIXTURE_NOW, makeAnalysisPolicy, makeRollout } from "../support/rollouts.ts";
import type { RolloutOverrides } from "../support/rollouts.ts";
import { failing, inconclusive, passing } from "../support/verdicts.ts";

const STARTER = "U123";
const OTHER = "U456";
const NOW = FIXTURE_NOW + 5 * 60_000;
const INTERVAL = 60_000;
const STEPS = [10, 50, 100];
const HEADER = { name: "x-canary", value: "always" };
const BASELINE = { name: "primary", route: [{ destination: { host: "reviews", subset: "stable" } }] };
const LABELS = { stable: { version: "v1" }, canary: { version: "v2" } };

/** A rollout on the 10/50/100 plan (analysis: 2 failures roll back, 3 inconclusive in a row pause). */
function given(overrides: RolloutOverrides = {}): Rollout {
  const { plan, ...rest } = overrides;
  const stepIndex = rest.stepIndex ?? 0;
  return makeRollout({
    stepIndex,
    appliedWeight: STEPS[stepIndex] ?? 0,
    tick: 3,
    plan: { steps: STEPS, intervalMs: INTERVAL, ...plan },
    ...rest,
  });
}

function inPreflight(plan: RolloutOverrides["plan"] = {}): Rollout {
  return given({ phase: Phase.Preflight, stepIndex: -1, appliedWeight: 0, tick: 0, plan });
}

function atGate(overrides: RolloutOverrides = {}): Rollout {
  const { plan, ...rest } = overrides;
  return given({
    phase: Phase.AwaitingApproval,
    stepIndex: 1,
    tick: 4,
    plan: { approvalGates: [50], twoPersonRule: true, ...plan },
    ...rest,
  });
}

function inHeaderStage(overrides: RolloutOverrides = {}): Rollout {
  const { plan, ...rest } = overrides;
  return given({
    phase: Phase.HeaderStage,
    stepIndex: -1,
    appliedWeight: 0,
    headerRouteActive: true,
    plan: { headerMatch: HEADER, ...plan },
    ...rest,
  });
}

/** A rollback someone else asked for, its route still at 50%. */
function rollingBackAt50(overrides: RolloutOverrides = {}): Rollout {
  return given({
    phase: Phase.RollingBack,
    stepIndex: 1,
    appliedWeight: 50,
    outcome: { at: NOW, by: OTHER, reason: "bad" },
    ...overrides,
  });
}

function tick(rollout: Rollout, verdict?: Verdict, windowOpensAt?: number): RolloutEvent {
  return {
    type: "tick",
    tick: rollout.tick,
    ...(verdict ? { verdict } : {}),
    ...(windowOpensAt === undefined ? {} : { windowOpensAt }),
  };
}

/** The tick the rollout is waiting for, as the scheduler would deliver it. */
function dueTick(verdict?: Verdict): (current: Rollout) => RolloutEvent {
  return (current) => tick(current, verdict);
}

/** What the service feeds back once the router has written the route. */
function confirmed(weight: number): RolloutEvent {
  return { type: "weights-applied", weight, headerRouteActive: false };
}

type Applied = { event: RolloutEvent; before: Rollout; result: TransitionResult };

/**
 * Events one after another, `stepMs` apart, through the pure core only: a refused event keeps the rollout. The
 * router's confirmations are events like the others, written out (the real service is exercised with them in
 * invariants.property.test.ts).
 */
function chain(
  rollout: Rollout,
  events: readonly (RolloutEvent | ((current: Rollout) => RolloutEvent))[],
  start: number,
  stepMs = 60_000,
): { rollout: Rollout; applied: Applied[] } {
  const applied: Applied[] = [];
  const end = events.reduce((current, next, index) => {
    const event = typeof next === "function" ? next(current) : next;
    const result = transition(current, event, start + index * stepMs);
    applied.push({ event, before: current, result });
    return result.refused === undefined ? result.rollout : current;
  }, rollout);
  return { rollout: end, applied };
}

function auditOf(entry: Partial<AuditEntry>, at = NOW): Effect {
  return {
    type: "audit",
    entry: expect.objectContaining({ at, rolloutId: "reviews-1", ...entry }) as AuditEntry,
  };
}

describe("start", () => {
  it("given preflight passed, when starting without header, then it progresses at the first step", () => {
    const result = transition(
      inPreflight(),
      { type: "preflight-passed", baseline: BASELINE, subsetLabels: LABELS },
      NOW,
    );

    expect(result.refused).toBeUndefined();
    expect(result.rollout).toMatchObject({
      phase: Phase.Progressing,
      stepIndex: 0,
      baseline: BASELINE,
      subsetLabels: LABELS,
      tick: 1,
      nextTickAt: NOW + INTERVAL,
      updatedAt: NOW,
    });
    expect(result.effects).toEqual([
      auditOf({
        actor: STARTER,
        action: "step",
        fromPhase: Phase.Preflight,
        toPhase: Phase.Progressing,
        canaryWeight: 10,
      }),
      { type: "set-weights", canaryWeight: 10, headerRoute: false },
      { type: "schedule-tick", tick: 1, delayMs: INTERVAL },
    ]);
  });

  it("given a header plan, when preflight passes, then it enters the header stage with the header route only", () => {
    const result = transition(
      inPreflight({ headerMatch: HEADER }),
      { type: "preflight-passed", baseline: BASELINE, subsetLabels: LABELS },
      NOW,
    );

    expect(result.rollout).toMatchObject({ phase: Phase.HeaderStage, stepIndex: -1, tick: 1 });
    expect(result.effects).toEqual([
      auditOf({ actor: STARTER, action: "header-stage", toPhase: Phase.HeaderStage, canaryWeight: 0 }),
      { type: "set-weights", canaryWeight: 0, headerRoute: true },
      { type: "schedule-tick", tick: 1, delayMs: INTERVAL },
    ]);
  });

  it.each<{ name: string; event: RolloutEvent; reason: string }>([
    {
      name: "preflight fails",
      event: { type: "preflight-failed", reason: "subset canary has no ready pods" },
      reason: "subset canary has no ready pods",
    },
    {
      name: "preflight errors",
      event: { type: "error", kind: "kubernetes_unavailable", detail: "connection reset" },
      reason: "kubernetes_unavailable: connection reset",
    },
  ])("given preflight, when $name, then it fails before touching traffic", ({ event, reason }) => {
    const result = transition(inPreflight(), event, NOW);

    expect(result.rollout).toMatchObject({
      phase: Phase.Failed,
      outcome: { at: NOW, by: SYSTEM_ACTOR, reason },
    });
    expect(result.effects).toEqual([
      auditOf({
        actor: SYSTEM_ACTOR,
        action: "failed",
        fromPhase: Phase.Preflight,
        toPhase: Phase.Failed,
        detail: reason,
      }),
    ]);
  });

  it("given a started rollout, when preflight passes again, then nothing happens", () => {
    const rollout = given();
    const result = transition(rollout, { type: "preflight-passed", baseline: {}, subsetLabels: {} }, NOW);

    expect(result.rollout).toBe(rollout);
    expect(result.effects).toEqual([]);
    expect(result.refused).toBeDefined();
  });
});

describe("ticks", () => {
  it("given a fresh rollout, when ticks pass with the route confirmed, then it steps 10 → 50 → 100 and promotes", () => {
    const { rollout, applied } = chain(
      inPreflight(),
      [
        { type: "preflight-passed", baseline: BASELINE, subsetLabels: LABELS },
        confirmed(10),
        dueTick(passing()),
        confirmed(50),
        dueTick(passing()),
        confirmed(100),
      ],
      NOW,
    );

    expect(rollout).toMatchObject({
      phase: Phase.Promoted,
      stepIndex: 2,
      appliedWeight: 100,
      outcome: { by: SYSTEM_ACTOR, reason: "all steps passed" },
    });
    const effects = applied.flatMap((a) => a.result.effects);
    expect(effectsOfType(effects, "set-weights").map((e) => e.canaryWeight)).toEqual([10, 50, 100]);
    expect(audits(effects).map((e) => [e.action, e.actor, e.fromPhase, e.toPhase, e.canaryWeight])).toEqual([
      ["step", STARTER, Phase.Preflight, Phase.Progressing, 10],
      ["step", SYSTEM_ACTOR, Phase.Progressing, Phase.Progressing, 50],
      ["step", SYSTEM_ACTOR, Phase.Progressing, Phase.Progressing, 100],
      ["promoted", SYSTEM_ACTOR, Phase.Progressing, Phase.Promoted, 100],
    ]);
  });

  it("given a plan without analysis, when ticks carry no verdict, then it steps on schedule", () => {
    const { rollout } = chain(
      given({ plan: { analysis: undefined } }),
      [dueTick(), confirmed(50), dueTick(), confirmed(100)],
      NOW,
    );
    expect(rollout).toMatchObject({ phase: Phase.Promoted, stepIndex: 2 });
  });

  it("given a passing tick, when it steps, then the new weight is written and the next tick scheduled", () => {
    const result = transition(given({ tick: 3 }), tick(given({ tick: 3 }), passing()), NOW);

    expect(result.rollout).toMatchObject({
      phase: Phase.Progressing,
      stepIndex: 1,
      tick: 4,
      appliedWeight: 10,
    });
    expect(result.effects).toEqual([
      auditOf({
        actor: SYSTEM_ACTOR,
        action: "step",
        fromPhase: Phase.Progressing,
        toPhase: Phase.Progressing,
        canaryWeight: 50,
      }),
      { type: "set-weights", canaryWeight: 50, headerRoute: false },
      { type: "schedule-tick", tick: 4, delayMs: INTERVAL },
    ]);
  });

  it.each([
    { name: "an older tick", number: 2 },
    { name: "a tick from the future", number: 4 },
  ])("given tick 3 is due, when $name arrives, then it is ignored: no effects, no audit", ({ number }) => {
    const rollout = given({ tick: 3 });
    const result = transition(rollout, { type: "tick", tick: number, verdict: passing() }, NOW);

    expect(result.rollout).toBe(rollout);
    expect(result.effects).toEqual([]);
    expect(result.refused).toMatch(/stale tick/);
  });

  it("given the route does not carry the desired weight yet, when a tick comes, then it rewrites the route and judges nothing", () => {
    const rollout = given({ stepIndex: 1, appliedWeight: 10 });
    const result = transition(rollout, tick(rollout, failing()), NOW);

    expect(result.rollout).toMatchObject({ stepIndex: 1, failedChecks: 0, tick: rollout.tick + 1 });
    expect(result.effects).toEqual([
      { type: "set-weights", canaryWeight: 50, headerRoute: false },
      { type: "schedule-tick", tick: rollout.tick + 1, delayMs: INTERVAL },
    ]);
  });

  it("given the header stage, when a tick comes, then it holds the header route until someone approves", () => {
    const rollout = inHeaderStage();
    const result = transition(rollout, tick(rollout), NOW);

    expect(result.rollout).toMatchObject({ phase: Phase.HeaderStage, stepIndex: -1 });
    expect(result.effects).toEqual([
      { type: "set-weights", canaryWeight: 0, headerRoute: true },
      { type: "schedule-tick", tick: rollout.tick + 1, delayMs: INTERVAL },
    ]);
  });

  it("given a verdict with a snapshot, when it passes, then the snapshot is kept and threaded", () => {
    const snapshot = { at: NOW, windowSeconds: 60, canaryWeight: 10, canary: {}, stable: {} };
    const full = Array.from({ length: MAX_SNAPSHOTS }, (_, i) => ({ ...snapshot, at: i }));
    const rollout = given({ snapshots: full });
    const result = transition(rollout, tick(rollout, { ...passing(), snapshot }), NOW);

    expect(result.rollout.snapshots).toHaveLength(MAX_SNAPSHOTS);
    expect(result.rollout.snapshots.at(-1)).toBe(snapshot);
    expect(result.rollout.lastVerdict?.snapshot).toBe(snapshot);
    expect(effectsOfType(result.effects, "notify")).toEqual([
      { type: "notify", kind: "snapshot", text: "success-rate 0.999 vs >= 99%" },
    ]);
  });
});

describe("approval gates", () => {
  const gated = { approvalGates: [50], twoPersonRule: true };

  it("given a gate at 50, when a tick passes there, then it waits for an approval and says so", () => {
    const rollout = given({ stepIndex: 1, plan: gated });
    const result = transition(rollout, tick(rollout, passing()), NOW);

    expect(result.rollout).toMatchObject({
      phase: Phase.AwaitingApproval,
      stepIndex: 1,
      tick: rollout.tick + 1,
      nextTickAt: undefined,
    });
    expect(result.effects).toEqual([
      auditOf({
        actor: SYSTEM_ACTOR,
        action: "await-approval",
        fromPhase: Phase.Progressing,
        toPhase: Phase.AwaitingApproval,
        canaryWeight: 50,
      }),
      { type: "notify", kind: "alert", text: "reviews-1 is holding at 50% and needs an approval to go on" },
    ]);
  });

  it("given the two-person rule, when the starter approves their own gate, then it is refused and audited", () => {
    const rollout = atGate();
    const result = transition(rollout, { type: "approve", by: STARTER }, NOW);

    expect(result.rollout).toBe(rollout);
    expect(result.refused).toBe(
      "two-person rule: U123 started reviews-1, so someone else must approve the gate",
    );
    expect(result.effects).toEqual([
      auditOf({
        actor: STARTER,
        action: "refused:approve",
        fromPhase: Phase.AwaitingApproval,
        toPhase: Phase.AwaitingApproval,
        canaryWeight: 50,
        detail: result.refused,
      }),
    ]);
  });

  it("given a gate, when someone else approves, then it progresses and the next passing tick moves on", () => {
    const rollout = atGate();
    const approved = transition(rollout, { type: "approve", by: OTHER }, NOW);

    expect(approved.rollout).toMatchObject({
      phase: Phase.Progressing,
      stepIndex: 1,
      approvals: [{ by: OTHER, at: NOW, stepIndex: 1 }],
      tick: rollout.tick + 1,
    });
    expect(approved.effects).toEqual([
      auditOf({
        actor: OTHER,
        action: "approve",
        fromPhase: Phase.AwaitingApproval,
        toPhase: Phase.Progressing,
      }),
      { type: "set-weights", canaryWeight: 50, headerRoute: false },
      { type: "schedule-tick", tick: rollout.tick + 1, delayMs: 0 },
    ]);

    const next = transition(approved.rollout, tick(approved.rollout, passing()), NOW + 1);
    expect(next.rollout).toMatchObject({ phase: Phase.Progressing, stepIndex: 2 });
    expect(audits(next.effects)).toMatchObject([{ action: "step", canaryWeight: 100 }]);
  });

  it("given no two-person rule, when the starter approves, then the gate lifts", () => {
    const result = transition(
      atGate({ plan: { twoPersonRule: false } }),
      { type: "approve", by: STARTER },
      NOW,
    );
    expect(result.rollout).toMatchObject({ phase: Phase.Progressing, approvals: [{ by: STARTER }] });
  });

  it("given the header stage, when someone else approves, then the first step takes over from the header route", () => {
    const result = transition(
      inHeaderStage({ plan: { twoPersonRule: true } }),
      { type: "approve", by: OTHER },
      NOW,
    );

    expect(result.rollout).toMatchObject({
      phase: Phase.Progressing,
      stepIndex: 0,
      approvals: [{ by: OTHER, stepIndex: -1 }],
    });
    expect(effectsOfType(result.effects, "set-weights")).toEqual([
      { type: "set-weights", canaryWeight: 10, headerRoute: false },
    ]);
  });

  it("given the header stage and the two-person rule, when the starter approves, then it is refused", () => {
    const result = transition(
      inHeaderStage({ plan: { twoPersonRule: true } }),
      { type: "approve", by: STARTER },
      NOW,
    );
    expect(result.refused).toMatch(/^two-person rule/);
    expect(audits(result.effects)).toMatchObject([{ action: "refused:approve", actor: STARTER }]);
  });

  it("given a rollout that is not waiting, when someone approves, then there is nothing to approve", () => {
    const result = transition(given(), { type: "approve", by: OTHER }, NOW);
    expect(result.refused).toBe("reviews-1 is progressing: nothing to approve");
    expect(audits(result.effects)).toMatchObject([{ action: "refused:approve", actor: OTHER }]);
  });
});

describe("pause and resume", () => {
  it("given progressing, when paused, then it holds, ignores ticks, and resumes with a fresh tick", () => {
    const rollout = given({ stepIndex: 1, tick: 3 });
    const paused = transition(rollout, { type: "pause", by: OTHER, reason: "checking logs" }, NOW);

    expect(paused.rollout).toMatchObject({
      phase: Phase.Paused,
      resumeTo: Phase.Progressing,
      pauseCause: PauseCause.User,
      reason: "paused by U456: checking logs",
      stepIndex: 1,
      tick: 4,
      nextTickAt: undefined,
    });
    expect(paused.effects).toEqual([
      auditOf({
        actor: OTHER,
        action: "pause",
        fromPhase: Phase.Progressing,
        toPhase: Phase.Paused,
        canaryWeight: 50,
      }),
    ]);

    for (const number of [3, 4]) {
      const ticked = transition(paused.rollout, { type: "tick", tick: number, verdict: passing() }, NOW + 1);
      expect(ticked.rollout).toBe(paused.rollout);
      expect(ticked.effects).toEqual([]);
    }

    const resumed = transition(paused.rollout, { type: "resume", by: STARTER }, NOW + 2);
    expect(resumed.rollout).toMatchObject({
      phase: Phase.Progressing,
      stepIndex: 1,
      tick: 5,
      reason: undefined,
      pauseCause: undefined,
      resumeTo: undefined,
    });
    expect(resumed.effects).toEqual([
      auditOf(
        { actor: STARTER, action: "resume", fromPhase: Phase.Paused, toPhase: Phase.Progressing },
        NOW + 2,
      ),
      { type: "set-weights", canaryWeight: 50, headerRoute: false },
      { type: "schedule-tick", tick: 5, delayMs: INTERVAL },
    ]);
  });

  it("given paused at a gate, when resumed, then it waits for the approval again without a tick", () => {
    const paused = transition(atGate(), { type: "pause", by: OTHER }, NOW);
    expect(paused.rollout).toMatchObject({
      phase: Phase.Paused,
      resumeTo: Phase.AwaitingApproval,
      reason: "paused by U456",
    });

    const resumed = transition(paused.rollout, { type: "resume", by: OTHER }, NOW);
    expect(resumed.rollout.phase).toBe(Phase.AwaitingApproval);
    expect(resumed.effects).toEqual([auditOf({ action: "resume", toPhase: Phase.AwaitingApproval })]);
  });

  it("given the header stage, when paused and resumed, then the header route is kept and rewritten", () => {
    const paused = transition(inHeaderStage(), { type: "pause", by: OTHER }, NOW);
    const resumed = transition(paused.rollout, { type: "resume", by: OTHER }, NOW);

    expect(resumed.rollout.phase).toBe(Phase.HeaderStage);
    expect(effectsOfType(resumed.effects, "set-weights")).toEqual([
      { type: "set-weights", canaryWeight: 0, headerRoute: true },
    ]);
  });

  it.each<{ name: string; rollout: Rollout; event: RolloutEvent; refused: string }>([
    {
      name: "pausing a paused rollout",
      rollout: given({ phase: Phase.Paused, resumeTo: Phase.Progressing }),
      event: { type: "pause", by: OTHER },
      refused: "reviews-1 is already paused",
    },
    {
      name: "pausing a rollback",
      rollout: given({ phase: Phase.RollingBack }),
      event: { type: "pause", by: OTHER },
      refused: "reviews-1 is rolling-back: it cannot be paused",
    },
    {
      name: "resuming a progressing rollout",
      rollout: given(),
      event: { type: "resume", by: OTHER },
      refused: "reviews-1 is progressing, not paused",
    },
  ])("given $name, then it is refused and audited", ({ rollout, event, refused }) => {
    const result = transition(rollout, event, NOW);
    expect(result.rollout).toBe(rollout);
    expect(result.refused).toBe(refused);
    expect(audits(result.effects)).toMatchObject([{ action: `refused:${event.type}`, actor: OTHER }]);
  });
});

describe("drift", () => {
  it("given progressing, when drift is detected, then it pauses (cause drift) and alerts; resume takes the route back by force", () => {
    const rollout = given({ stepIndex: 1 });
    const drifted = transition(rollout, { type: "drift-detected", detail: "weights are 70/30" }, NOW);

    expect(drifted.rollout).toMatchObject({
      phase: Phase.Paused,
      pauseCause: PauseCause.Drift,
      resumeTo: Phase.Progressing,
      reason: "drift: weights are 70/30",
      tick: rollout.tick + 1,
    });
    expect(drifted.effects).toEqual([
      auditOf({ actor: SYSTEM_ACTOR, action: "drift", fromPhase: Phase.Progressing, toPhase: Phase.Paused }),
      {
        type: "notify",
        kind: "alert",
        text: "reviews-1 paused, holding 50%: drift: weights are 70/30",
      },
    ]);

    const resumed = transition(drifted.rollout, { type: "resume", by: OTHER }, NOW);
    expect(resumed.rollout.phase).toBe(Phase.Progressing);
    expect(effectsOfType(resumed.effects, "set-weights")).toEqual([
      { type: "set-weights", canaryWeight: 50, headerRoute: false, force: true },
    ]);
  });

  it("given a drift at a gate, when resumed, then the route is forced back and it waits for the approval", () => {
    const drifted = transition(atGate(), { type: "drift-detected", detail: "edited" }, NOW);
    const resumed = transition(drifted.rollout, { type: "resume", by: OTHER }, NOW);

    expect(resumed.rollout.phase).toBe(Phase.AwaitingApproval);
    expect(resumed.effects.filter((e) => e.type !== "audit")).toEqual([
      { type: "set-weights", canaryWeight: 50, headerRoute: false, force: true },
    ]);
  });

  it("given a user pause, when resumed, then the route write keeps its drift guard", () => {
    const paused = transition(given(), { type: "pause", by: OTHER }, NOW);
    const resumed = transition(paused.rollout, { type: "resume", by: OTHER }, NOW);
    expect(effectsOfType(resumed.effects, "set-weights")).toEqual([
      { type: "set-weights", canaryWeight: 10, headerRoute: false },
    ]);
  });

  it("given a rollback in progress, when drift is detected, then the rollback goes on", () => {
    const rollout = given({ phase: Phase.RollingBack });
    const result = transition(rollout, { type: "drift-detected", detail: "edited" }, NOW);
    expect(result.rollout).toBe(rollout);
    expect(result.effects).toEqual([]);
  });
});

describe("rollback", () => {
  it.each<{ name: string; rollout: Rollout }>([
    { name: "the header stage", rollout: inHeaderStage() },
    { name: "progressing", rollout: given({ stepIndex: 1 }) },
    {
      name: "paused",
      rollout: given({ phase: Phase.Paused, resumeTo: Phase.Progressing, pauseCause: PauseCause.User }),
    },
    {
      name: "a paused header stage",
      rollout: inHeaderStage({ phase: Phase.Paused, resumeTo: Phase.HeaderStage }),
    },
    { name: "awaiting approval", rollout: atGate() },
  ])(
    "given $name, when someone rolls back, then it restores the route and becomes rolled-back once restored",
    ({ rollout }) => {
      const rolling = transition(rollout, { type: "rollback", by: OTHER, reason: "errors up" }, NOW);

      expect(rolling.rollout).toMatchObject({
        phase: Phase.RollingBack,
        outcome: { at: NOW, by: OTHER, reason: "errors up" },
        reason: undefined,
        pauseCause: undefined,
        resumeTo: undefined,
        tick: rollout.tick + 1,
        nextTickAt: NOW + RESTORE_RETRY_MS,
      });
      expect(rolling.effects).toEqual([
        auditOf({
          actor: OTHER,
          action: "rollback",
          fromPhase: rollout.phase,
          toPhase: Phase.RollingBack,
          canaryWeight: 0,
        }),
        { type: "restore-route" },
        {
          type: "notify",
          kind: "alert",
          text: `reviews-1 is rolling back, requested by ${OTHER}: errors up`,
        },
        { type: "schedule-tick", tick: rollout.tick + 1, delayMs: RESTORE_RETRY_MS },
      ]);

      const restored = transition(rolling.rollout, { type: "route-restored" }, NOW + 1);
      expect(restored.rollout).toMatchObject({
        phase: Phase.RolledBack,
        appliedWeight: 0,
        headerRouteActive: false,
        nextTickAt: undefined,
        outcome: { by: OTHER, reason: "errors up" },
      });
      expect(restored.effects).toEqual([
        auditOf(
          {
            actor: SYSTEM_ACTOR,
            action: "rolled-back",
            fromPhase: Phase.RollingBack,
            toPhase: Phase.RolledBack,
          },
          NOW + 1,
        ),
      ]);
    },
  );

  it("given a rollout stuck in preflight (its start died), when someone rolls back, then it ends failed without a route change", () => {
    const result = transition(inPreflight(), { type: "rollback", by: OTHER, reason: "stuck" }, NOW);
    expect(result.rollout).toMatchObject({
      phase: Phase.Failed,
      outcome: { by: OTHER, reason: "cancelled before any change: stuck" },
    });
    expect(result.effects.filter((effect) => effect.type !== "audit")).toEqual([]);
    expect(audits(result.effects)).toMatchObject([
      { action: "rollback", actor: OTHER, toPhase: Phase.Failed },
    ]);
  });

  it("given a rollback in progress, when someone rolls back again, then the restore is tried now", () => {
    const rollout = given({ phase: Phase.RollingBack, tick: 7, appliedWeight: 50, stepIndex: 1 });
    const result = transition(rollout, { type: "rollback", by: OTHER, reason: "still stuck" }, NOW);

    expect(result.refused).toBeUndefined();
    expect(result.rollout).toMatchObject({ phase: Phase.RollingBack, tick: 8 });
    expect(result.effects).toEqual([
      auditOf({
        actor: OTHER,
        action: "rollback-retry",
        fromPhase: Phase.RollingBack,
        toPhase: Phase.RollingBack,
        canaryWeight: 0,
        detail: "still stuck",
      }),
      { type: "restore-route" },
      { type: "schedule-tick", tick: 8, delayMs: RESTORE_RETRY_MS },
    ]);
  });

  it("given a rollback in progress, when its tick comes, then the restore is tried again", () => {
    const rollout = given({ phase: Phase.RollingBack, tick: 7 });
    const result = transition(rollout, tick(rollout), NOW);

    expect(result.rollout).toMatchObject({
      phase: Phase.RollingBack,
      tick: 8,
      nextTickAt: NOW + RESTORE_RETRY_MS,
    });
    expect(result.effects).toEqual([
      { type: "restore-route" },
      { type: "schedule-tick", tick: 8, delayMs: RESTORE_RETRY_MS },
    ]);
  });

  it("given a rollout that is not rolling back, when route-restored arrives, then it is ignored", () => {
    const rollout = given();
    const result = transition(rollout, { type: "route-restored" }, NOW);
    expect(result.rollout).toBe(rollout);
    expect(result.effects).toEqual([]);
  });
});

describe("terminal phases", () => {
  const AT = Date.UTC(2025, 0, 1, 14, 2, 30);
  const finished: { phase: Phase; outcome: { at: number; by: string; reason: string }; message: string }[] = [
    {
      phase: Phase.RolledBack,
      outcome: { at: AT, by: OTHER, reason: "errors up" },
      message: "reviews-1 already rolled back at 14:02 UTC by U456 (errors up)",
    },
    {
      phase: Phase.Promoted,
      outcome: { at: AT, by: SYSTEM_ACTOR, reason: "all steps passed" },
      message: "reviews-1 already promoted at 14:02 UTC by canarybot (all steps passed)",
    },
    {
      phase: Phase.Failed,
      outcome: { at: AT, by: SYSTEM_ACTOR, reason: "no ready pods" },
      message: "reviews-1 failed at 14:02 UTC by canarybot (no ready pods)",
    },
  ];
  const terminal = (phase: Phase, outcome: Rollout["outcome"]): Rollout =>
    given({
      phase,
      outcome,
      stepIndex: phase === Phase.Promoted ? 2 : 1,
      appliedWeight: phase === Phase.Promoted ? 100 : 0,
    });

  const events: RolloutEvent[] = [
    { type: "approve", by: OTHER },
    { type: "promote", by: OTHER },
    { type: "pause", by: OTHER },
    { type: "resume", by: OTHER },
    { type: "rollback", by: OTHER, reason: "again" },
    { type: "drift-detected", detail: "edited" },
    { type: "error", kind: "internal", detail: "boom" },
    { type: "route-restored" },
    { type: "preflight-passed", baseline: {}, subsetLabels: {} },
    { type: "preflight-failed", reason: "late" },
  ];

  it.each(finished)(
    "given $phase, the refusal says when, by whom and why: $message",
    ({ phase, outcome, message }) => {
      const result = transition(
        terminal(phase, outcome),
        { type: "rollback", by: OTHER, reason: "again" },
        NOW,
      );
      expect(result.refused).toBe(message);
    },
  );

  describe.each(finished)("given $phase", ({ phase, outcome }) => {
    it.each(events)("when $type, then nothing changes; a person's refusal is audited", (event) => {
      const rollout = terminal(phase, outcome);
      const result = transition(rollout, event, NOW);

      expect(result.rollout).toBe(rollout);
      expect(result.refused).toMatch(/ at 14:02 UTC by /);
      // Late system events (a drift, an error, a route write confirmed after the end) are absorbed silently.
      const audited =
        "by" in event
          ? [auditOf({ actor: event.by, action: `refused:${event.type}`, fromPhase: phase, toPhase: phase })]
          : [];
      expect(result.effects).toEqual(audited);
    });

    it("when its tick (or an old one) comes, then nothing happens", () => {
      const rollout = terminal(phase, outcome);
      for (const number of [rollout.tick - 1, rollout.tick]) {
        const result = transition(rollout, { type: "tick", tick: number, verdict: passing() }, NOW);
        expect(result.rollout).toBe(rollout);
        expect(result.effects).toEqual([]);
      }
    });

    it("when a late weights-applied arrives, then the phase and outcome stay", () => {
      const rollout = terminal(phase, outcome);
      const result = transition(
        rollout,
        { type: "weights-applied", weight: 50, headerRouteActive: false },
        NOW,
      );
      expect(result.rollout).toMatchObject({ phase, outcome });
      expect(result.effects).toEqual([]);
    });
  });
});

describe("analysis", () => {
  it("given a failing tick below the failure limit, then it holds the step and counts the failure", () => {
    const rollout = given({ stepIndex: 1, failedChecks: 0 });
    const result = transition(rollout, tick(rollout, failing()), NOW);

    expect(result.rollout).toMatchObject({
      phase: Phase.Progressing,
      stepIndex: 1,
      failedChecks: 1,
      tick: rollout.tick + 1,
    });
    expect(result.effects).toEqual([
      auditOf({
        actor: SYSTEM_ACTOR,
        action: "hold",
        fromPhase: Phase.Progressing,
        toPhase: Phase.Progressing,
        canaryWeight: 50,
        detail: "success-rate 0.8 vs >= 99%",
      }),
      { type: "schedule-tick", tick: rollout.tick + 1, delayMs: INTERVAL },
    ]);
  });

  it("given a failing tick at the failure limit, then canarybot rolls back naming the failing checks", () => {
    const rollout = given({ stepIndex: 1, failedChecks: 1 });
    const result = transition(rollout, tick(rollout, failing({ name: "error-rate" })), NOW);
    const reason = "2 failed checks (limit 2): error-rate 0.8 vs >= 99%";

    expect(result.rollout).toMatchObject({
      phase: Phase.RollingBack,
      failedChecks: 2,
      outcome: { at: NOW, by: SYSTEM_ACTOR, reason },
    });
    expect(result.effects).toEqual([
      auditOf({
        actor: SYSTEM_ACTOR,
        action: "rollback",
        fromPhase: Phase.Progressing,
        toPhase: Phase.RollingBack,
      }),
      { type: "restore-route" },
      { type: "notify", kind: "alert", text: `reviews-1 is rolling back automatically: ${reason}` },
      { type: "schedule-tick", tick: rollout.tick + 1, delayMs: RESTORE_RETRY_MS },
    ]);
  });

  it("given a critical breach on the first failure, then it rolls back at once", () => {
    const rollout = given({ failedChecks: 0, plan: { analysis: makeAnalysisPolicy({ failureLimit: 5 }) } });
    const result = transition(rollout, tick(rollout, failing({ critical: true })), NOW);

    expect(result.rollout).toMatchObject({
      phase: Phase.RollingBack,
      failedChecks: 1,
      outcome: { by: SYSTEM_ACTOR, reason: "critical breach: success-rate 0.8 vs >= 99%" },
    });
    expect(effectsOfType(result.effects, "restore-route")).toHaveLength(1);
  });

  it.each([
    ["a critical breach rolls it back", failing({ critical: true }), Phase.RollingBack],
    ["a third inconclusive tick pauses it", inconclusive(), Phase.Paused],
  ])(
    "given a judged tick with a snapshot, when %s, then the thread still gets that step's numbers",
    (_, verdict, phase) => {
      const snapshot = { at: NOW, windowSeconds: 60, canaryWeight: 10, canary: {}, stable: {} };
      const rollout = given({
        inconclusiveStreak: 2,
        plan: { analysis: makeAnalysisPolicy({ failureLimit: 5 }) },
      });
      const result = transition(rollout, tick(rollout, { ...verdict, snapshot }), NOW);

      expect(result.rollout.phase).toBe(phase);
      expect(result.rollout.snapshots.at(-1)).toBe(snapshot);
      expect(effectsOfType(result.effects, "notify").map((effect) => effect.kind)).toContain("snapshot");
    },
  );

  it("given a failed tick, when the next judged tick passes, then the count resets and the step is taken", () => {
    const { rollout } = chain(given(), [dueTick(failing()), dueTick(passing())], NOW);
    expect(rollout).toMatchObject({ phase: Phase.Progressing, stepIndex: 1, failedChecks: 0 });
  });

  it("given failures with a pass between them, then it does not roll back: failures count in a row", () => {
    const { rollout } = chain(
      given(),
      [dueTick(failing()), dueTick(passing()), confirmed(50), dueTick(failing())],
      NOW,
    );
    expect(rollout).toMatchObject({ phase: Phase.Progressing, stepIndex: 1, failedChecks: 1 });
  });

  it("given failures with inconclusive ticks between them, then they still roll back: those neither count nor reset", () => {
    const { rollout } = chain(
      given(),
      [
        dueTick(failing()),
        dueTick(inconclusive()),
        dueTick(inconclusive()),
        dueTick(failing()),
        { type: "route-restored" },
      ],
      NOW,
    );
    expect(rollout).toMatchObject({
      phase: Phase.RolledBack,
      failedChecks: 2,
      outcome: { reason: "2 failed checks (limit 2): success-rate 0.8 vs >= 99%" },
    });
  });

  it("given a plan without analysis, when a tick carries a failing verdict, then it is not consulted", () => {
    const rollout = given({ plan: { analysis: undefined } });
    const result = transition(rollout, tick(rollout, failing({ critical: true })), NOW);
    expect(result.rollout).toMatchObject({ phase: Phase.Progressing, stepIndex: 1, failedChecks: 0 });
  });

  it("given three inconclusive ticks in a row, then it pauses with cause inconclusive", () => {
    const { rollout, applied } = chain(
      given(),
      [dueTick(inconclusive()), dueTick(inconclusive()), dueTick(inconclusive())],
      NOW,
    );

    expect(rollout).toMatchObject({
      phase: Phase.Paused,
      pauseCause: PauseCause.Inconclusive,
      resumeTo: Phase.Progressing,
      inconclusiveStreak: 3,
      stepIndex: 0,
      reason: "metrics inconclusive 3 times in a row: requests 3 vs >= 50 (too few)",
    });
    const effects = applied.flatMap((a) => a.result.effects);
    expect(audits(effects).map((e) => e.action)).toEqual(["inconclusive", "inconclusive", "pause"]);
    expect(effectsOfType(effects, "notify")).toHaveLength(1);
  });

  it("given a plan with analysis, when ticks carry no verdict, then they count as inconclusive and never advance", () => {
    const { rollout } = chain(given(), [dueTick(), dueTick(), dueTick()], NOW);
    expect(rollout).toMatchObject({ phase: Phase.Paused, pauseCause: PauseCause.Inconclusive, stepIndex: 0 });
    expect(rollout.reason).toMatch(/analysis no data vs a verdict \(none\)/);
  });

  it("given an inconclusive streak, when a tick passes, then the streak resets", () => {
    const rollout = given({ inconclusiveStreak: 2 });
    const result = transition(rollout, tick(rollout, passing()), NOW);
    expect(result.rollout).toMatchObject({ stepIndex: 1, inconclusiveStreak: 0 });
  });

  it("given an inconclusive pause, when resumed, then the streak starts over", () => {
    const { rollout } = chain(given(), [dueTick(), dueTick(), dueTick(), { type: "resume", by: OTHER }], NOW);
    expect(rollout).toMatchObject({ phase: Phase.Progressing, inconclusiveStreak: 0 });
  });
});

describe("promote", () => {
  it("given progressing, when a person promotes, then it jumps to 100% and is promoted once the route carries it", () => {
    const { rollout, applied } = chain(given(), [{ type: "promote", by: OTHER }, confirmed(100)], NOW);

    expect(rollout).toMatchObject({
      phase: Phase.Promoted,
      stepIndex: 2,
      appliedWeight: 100,
      outcome: { by: OTHER, reason: "promoted by U456" },
    });
    expect(applied.map((a) => a.event.type)).toEqual(["promote", "weights-applied"]);
    const first = applied[0]!.result;
    expect(first.rollout).toMatchObject({ phase: Phase.Progressing, stepIndex: 2 });
    expect(effectsOfType(first.effects, "set-weights")).toEqual([
      { type: "set-weights", canaryWeight: 100, headerRoute: false },
    ]);
    expect(
      audits(applied.flatMap((a) => a.result.effects)).map((e) => [e.action, e.actor, e.toPhase]),
    ).toEqual([
      ["promote", OTHER, Phase.Progressing],
      ["promoted", OTHER, Phase.Promoted],
    ]);
  });

  it.each<{ name: string; rollout: Rollout }>([
    { name: "awaiting approval", rollout: atGate() },
    { name: "paused at a gate", rollout: atGate({ phase: Phase.Paused, resumeTo: Phase.AwaitingApproval }) },
    { name: "the header stage", rollout: inHeaderStage({ plan: { twoPersonRule: true } }) },
  ])(
    "given $name and the two-person rule, when the starter promotes past the gate, then it is refused",
    ({ rollout }) => {
      const result = transition(rollout, { type: "promote", by: STARTER }, NOW);

      expect(result.rollout).toBe(rollout);
      expect(result.refused).toBe(
        "two-person rule: U123 started reviews-1, so someone else must promote past the gate",
      );
      expect(audits(result.effects)).toMatchObject([{ action: "refused:promote", actor: STARTER }]);
    },
  );

  it("given awaiting approval, when someone else promotes, then it goes to 100%", () => {
    const result = transition(atGate(), { type: "promote", by: OTHER }, NOW);
    expect(result.rollout).toMatchObject({ phase: Phase.Progressing, stepIndex: 2, approvals: [] });
  });

  it("given paused, when someone promotes, then the pause is over and it goes to 100%", () => {
    const paused = given({
      phase: Phase.Paused,
      resumeTo: Phase.Progressing,
      pauseCause: PauseCause.User,
      reason: "x",
    });
    const result = transition(paused, { type: "promote", by: STARTER }, NOW);
    expect(result.rollout).toMatchObject({
      phase: Phase.Progressing,
      stepIndex: 2,
      reason: undefined,
      pauseCause: undefined,
      resumeTo: undefined,
    });
    expect(effectsOfType(result.effects, "schedule-tick")).toHaveLength(1);
  });

  it.each<{ name: string; rollout: Rollout }>([
    { name: "preflight", rollout: inPreflight() },
    { name: "a rollback", rollout: given({ phase: Phase.RollingBack }) },
  ])("given $name, when someone promotes, then it is refused", ({ rollout }) => {
    const result = transition(rollout, { type: "promote", by: OTHER }, NOW);
    expect(result.rollout).toBe(rollout);
    expect(result.refused).toBe(`reviews-1 is ${rollout.phase}: it cannot be promoted now`);
  });

  // The two-person rule guards gates; Promote by the starter must not be a way around one that is still ahead.
  it("given the two-person rule and a gated step not yet approved, when the starter promotes while progressing there, then it is refused", () => {
    const rollout = given({ stepIndex: 1, plan: { approvalGates: [50], twoPersonRule: true } });
    const result = transition(rollout, { type: "promote", by: STARTER }, NOW);

    expect(result.refused).toMatch(/^two-person rule/);
    expect(result.rollout).toBe(rollout);
  });

  it("given the two-person rule and a gate ahead, when the starter promotes from an earlier step, then it is refused", () => {
    const rollout = given({ stepIndex: 0, plan: { approvalGates: [50], twoPersonRule: true } });
    const result = transition(rollout, { type: "promote", by: STARTER }, NOW);

    expect(result.refused).toMatch(/^two-person rule/);
    expect(result.rollout).toBe(rollout);
  });
});

describe("errors", () => {
  it.each<{ name: string; rollout: Rollout; weight: number }>([
    { name: "progressing", rollout: given({ stepIndex: 1 }), weight: 50 },
    { name: "awaiting approval", rollout: atGate(), weight: 50 },
    { name: "the header stage", rollout: inHeaderStage(), weight: 0 },
  ])(
    "given $name, when an outside system fails past its retries, then it pauses holding $weight% and alerts",
    ({ rollout, weight }) => {
      const result = transition(
        rollout,
        { type: "error", kind: "metrics_unavailable", detail: "timeout" },
        NOW,
      );

      expect(result.rollout).toMatchObject({
        phase: Phase.Paused,
        pauseCause: PauseCause.Error,
        resumeTo: rollout.phase,
        stepIndex: rollout.stepIndex,
        reason: "metrics_unavailable: timeout",
      });
      expect(result.effects).toEqual([
        auditOf({
          actor: SYSTEM_ACTOR,
          action: "pause",
          fromPhase: rollout.phase,
          toPhase: Phase.Paused,
          canaryWeight: weight,
        }),
        {
          type: "notify",
          kind: "alert",
          text: `reviews-1 paused, holding ${weight}%: metrics_unavailable: timeout`,
        },
      ]);
    },
  );

  it("given paused, when an error comes, then it stays paused for its first reason", () => {
    const rollout = given({ phase: Phase.Paused, resumeTo: Phase.Progressing, pauseCause: PauseCause.User });
    const result = transition(rollout, { type: "error", kind: "internal", detail: "boom" }, NOW);
    expect(result.rollout).toBe(rollout);
    expect(result.effects).toEqual([]);
  });

  it("given a rollback in progress, when the restore fails, then it keeps rolling back with a retry tick and says so once", () => {
    const rollout = rollingBackAt50();
    const error: RolloutEvent = { type: "error", kind: "kubernetes_unavailable", detail: "503" };
    const first = transition(rollout, error, NOW);

    expect(first.rollout).toMatchObject({
      phase: Phase.RollingBack,
      outcome: { by: OTHER, reason: "bad" },
      tick: rollout.tick + 1,
      nextTickAt: NOW + RESTORE_RETRY_MS,
      restoreFailure: { attempts: 1, since: NOW, lastError: "kubernetes_unavailable: 503", alertedAt: NOW },
    });
    expect(first.effects).toEqual([
      {
        type: "notify",
        kind: "alert",
        text: "reviews-1: the rollback cannot restore the route yet, 50% → 0% still on the canary (kubernetes_unavailable: 503); retrying every 5s",
      },
      { type: "schedule-tick", tick: rollout.tick + 1, delayMs: RESTORE_RETRY_MS },
    ]);

    // Ten minutes of failures later: counted on the rollout, not announced again.
    let current = first.rollout;
    for (let attempt = 1; attempt <= 120; attempt += 1) {
      const later = transition(current, error, NOW + attempt * RESTORE_RETRY_MS);
      expect(later.effects.filter((effect) => effect.type === "notify")).toEqual([]);
      current = later.rollout;
    }
    expect(current.restoreFailure).toMatchObject({ attempts: 121, since: NOW, alertedAt: NOW });

    // After a long quiet it is said again; when the restore succeeds, that is said too.
    const reminded = transition(current, error, NOW + RESTORE_REALERT_MS);
    expect(reminded.effects.filter((effect) => effect.type === "notify")).toHaveLength(1);
    const restored = transition(reminded.rollout, { type: "route-restored" }, NOW + RESTORE_REALERT_MS);
    expect(restored.rollout).toMatchObject({ phase: Phase.RolledBack, appliedWeight: 0 });
    expect(restored.rollout.restoreFailure).toBeUndefined();
    expect(restored.effects).toContainEqual({
      type: "notify",
      kind: "alert",
      text: "reviews-1 is rolled back: the route is restored after 123 attempts",
    });
  });

  it("given a rollback in progress, when the VirtualService is gone, then it ends rolled back with that reason", () => {
    const rollout = rollingBackAt50({
      restoreFailure: { attempts: 3, since: NOW, lastError: "x", alertedAt: NOW },
    });
    const result = transition(
      rollout,
      { type: "route-gone", detail: "VirtualService default/reviews is gone" },
      NOW,
    );

    expect(result.rollout).toMatchObject({
      phase: Phase.RolledBack,
      appliedWeight: 0,
      outcome: { by: OTHER, reason: "bad; VirtualService default/reviews is gone: nothing left to restore" },
      nextTickAt: undefined,
    });
    expect(result.rollout.restoreFailure).toBeUndefined();
    expect(result.effects.filter((effect) => effect.type === "notify")).toHaveLength(1);
  });

  it("given a progressing rollout, when route-gone arrives, then it is ignored (a tick error pauses it instead)", () => {
    const rollout = given();
    expect(transition(rollout, { type: "route-gone", detail: "gone" }, NOW).refused).toBe("not rolling back");
  });
});

describe("overdue ticks", () => {
  it("given a tick long overdue, when reported, then the rollout says so once, and the next tick clears it", () => {
    const rollout = given({ tick: 4, nextTickAt: NOW - 3 * INTERVAL });
    const detail = "no worker for cluster https://prod:6443";
    const reported = transition(rollout, { type: "tick-overdue", tick: 4, detail }, NOW);

    expect(reported.rollout.overdue).toEqual({ tick: 4, since: NOW, detail });
    expect(reported.effects).toContainEqual({
      type: "notify",
      kind: "alert",
      text: `reviews-1 is not being stepped: ${detail}`,
    });
    expect(transition(reported.rollout, { type: "tick-overdue", tick: 4, detail }, NOW).refused).toBe(
      "already reported",
    );
    expect(transition(rollout, { type: "tick-overdue", tick: 3, detail }, NOW).refused).toBe("not overdue");

    const ticked = transition(reported.rollout, tick(reported.rollout), NOW);
    expect(ticked.rollout.overdue).toBeUndefined();
  });
});

describe("release windows", () => {
  const OPENS = NOW + 3 * 3_600_000;

  it("given a passing tick outside the windows, when it would step, then it holds its weight until the opening and says so once", () => {
    const rollout = given({ tick: 3 });
    const held = transition(rollout, tick(rollout, passing(), OPENS), NOW);

    expect(held.rollout).toMatchObject({
      stepIndex: 0,
      heldUntil: OPENS,
      tick: 4,
      nextTickAt: NOW + INTERVAL,
    });
    expect(effectsOfType(held.effects, "set-weights")).toEqual([]);
    expect(audits(held.effects)).toMatchObject([
      { action: "window-hold", detail: `outside its release windows until ${formatUtcDateTime(OPENS)}` },
    ]);

    const again = transition(held.rollout, tick(held.rollout, passing(), OPENS), NOW + INTERVAL);
    expect(audits(again.effects)).toEqual([]);
    expect(again.rollout.stepIndex).toBe(0);
  });

  it("given a hold, when the opening is nearer than an interval, then the next look is at the opening", () => {
    const rollout = given({ tick: 3 });
    const held = transition(rollout, tick(rollout, passing(), NOW + 5_000), NOW);
    expect(effectsOfType(held.effects, "schedule-tick")).toEqual([
      { type: "schedule-tick", tick: 4, delayMs: 5_000 },
    ]);
  });

  it("given a held rollout, when a tick comes inside a window, then it steps and the hold is gone", () => {
    const rollout = given({ tick: 3, heldUntil: OPENS });
    const stepped = transition(rollout, tick(rollout, passing()), OPENS);
    expect(stepped.rollout.stepIndex).toBe(1);
    expect(stepped.rollout.heldUntil).toBeUndefined();
  });

  it("given a failing canary outside the windows, when the failure limit is reached, then it still rolls back", () => {
    const rollout = given({ tick: 3, failedChecks: 1 });
    const result = transition(rollout, tick(rollout, failing(), OPENS), NOW);
    expect(result.rollout.phase).toBe(Phase.RollingBack);
  });
});

describe("invariant 5: no promotion without a passing verdict or a human Promote", () => {
  it("given a one-step plan with analysis, when it starts, then it does not promote before any verdict", () => {
    const { rollout } = chain(
      inPreflight({ steps: [100] }),
      [{ type: "preflight-passed", baseline: BASELINE, subsetLabels: LABELS }, confirmed(100)],
      NOW,
    );

    expect(rollout.phase).not.toBe(Phase.Promoted);
  });
});
