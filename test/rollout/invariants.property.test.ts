import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { desiredWeight, isTerminal, lastStepIndex, planProblems } from "../../src/rollout/plan.ts";
import { CheckStatus, Phase, SYSTEM_ACTOR } from "../../src/rollout/types.ts";
import type { Plan, Rollout, RolloutEvent, Verdict } from "../../src/rollout/types.ts";
import { FIXTURE_NOW, makeAnalysisPolicy, makeRollout } from "../support/rollouts.ts";
import { applyLikeService, audits, effectsOfType, failing, inconclusive, passing } from "./harness.ts";
import type { Applied, World } from "./harness.ts";

/**
 * The core's invariants (DESIGN.md) over random plans and random event sequences, with the service's effect loop
 * simulated: weights-applied after a confirmed route write, drift-detected when a write meets someone's edit,
 * route-restored (or an error) after a restore.
 */

const STARTER = "U-starter";
const OTHER = "U-other";
const RUNS = 500;
const HUMAN_EVENTS: ReadonlySet<RolloutEvent["type"]> = new Set([
  "approve",
  "promote",
  "pause",
  "resume",
  "rollback",
]);

type Who = "starter" | "other";
type Action =
  | { kind: "tick"; staleBy: number; verdict: CheckStatus | "none"; critical: boolean }
  | { kind: "approve" | "promote" | "pause" | "resume" | "rollback"; who: Who }
  | { kind: "drift" | "error" | "preflight-passed" | "preflight-failed" };
type Step = { action: Action; world: World };
type Scenario = { plan: Plan; steps: Step[] };

const planArb: fc.Arbitrary<Plan> = fc
  .uniqueArray(fc.integer({ min: 1, max: 99 }), { maxLength: 5 })
  .map((weights) => [...weights].sort((a, b) => a - b).concat(100))
  .chain((steps) =>
    fc.record({
      steps: fc.constant(steps),
      intervalMs: fc.constant(60_000),
      approvalGates: fc.subarray(steps.slice(0, -1)),
      twoPersonRule: fc.boolean(),
      headerMatch: fc.option(fc.constant({ name: "x-canary", value: "always" }), { nil: undefined }),
      analysis: fc.option(
        fc
          .record({
            failureLimit: fc.integer({ min: 1, max: 3 }),
            inconclusiveLimit: fc.integer({ min: 1, max: 3 }),
          })
          .map((limits) => makeAnalysisPolicy(limits)),
        { nil: undefined },
      ),
    }),
  );

const whoArb = fc.constantFrom<Who>("starter", "other");

const tickArb: fc.Arbitrary<Action> = fc.record({
  kind: fc.constant("tick" as const),
  staleBy: fc.oneof(
    { weight: 5, arbitrary: fc.constant(0) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 3 }) },
  ),
  verdict: fc.oneof(
    { weight: 6, arbitrary: fc.constant(CheckStatus.Pass) },
    { weight: 2, arbitrary: fc.constant(CheckStatus.Fail) },
    { weight: 2, arbitrary: fc.constant(CheckStatus.Inconclusive) },
    { weight: 1, arbitrary: fc.constant("none" as const) },
  ),
  critical: fc.boolean(),
});

function human(kind: "approve" | "promote" | "pause" | "resume" | "rollback"): fc.Arbitrary<Action> {
  return whoArb.map((who) => ({ kind, who }));
}

const actionArb: fc.Arbitrary<Action> = fc.oneof(
  { weight: 12, arbitrary: tickArb },
  { weight: 4, arbitrary: human("approve") },
  { weight: 1, arbitrary: human("promote") },
  { weight: 1, arbitrary: human("pause") },
  { weight: 3, arbitrary: human("resume") },
  { weight: 1, arbitrary: human("rollback") },
  { weight: 1, arbitrary: fc.constant({ kind: "drift" as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: "error" as const }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom({ kind: "preflight-passed" as const }, { kind: "preflight-failed" as const }),
  },
);

const worldArb: fc.Arbitrary<World> = fc.record({
  write: fc.oneof(
    { weight: 16, arbitrary: fc.constant("ok" as const) },
    { weight: 2, arbitrary: fc.constant("fail" as const) },
    { weight: 1, arbitrary: fc.constant("drift" as const) },
  ),
  restore: fc.oneof(
    { weight: 5, arbitrary: fc.constant("ok" as const) },
    { weight: 1, arbitrary: fc.constant("fail" as const) },
  ),
});

/** Preflight first (mostly passing), then up to 40 random events. */
const scenarioArb: fc.Arbitrary<Scenario> = fc.record({
  plan: planArb,
  steps: fc
    .tuple(
      fc.record({
        action: fc.oneof(
          { weight: 18, arbitrary: fc.constant<Action>({ kind: "preflight-passed" }) },
          { weight: 1, arbitrary: fc.constant<Action>({ kind: "preflight-failed" }) },
          { weight: 1, arbitrary: fc.constant<Action>({ kind: "error" }) },
        ),
        world: worldArb,
      }),
      fc.array(fc.record({ action: actionArb, world: worldArb }), { maxLength: 40 }),
    )
    .map(([first, rest]) => [first, ...rest]),
});

function verdictFor(status: CheckStatus, critical: boolean): Verdict {
  switch (status) {
    case CheckStatus.Pass:
      return passing();
    case CheckStatus.Fail:
      return failing({ critical });
    case CheckStatus.Inconclusive:
      return inconclusive();
  }
}

function toEvent(action: Action, current: Rollout): RolloutEvent {
  switch (action.kind) {
    case "tick": {
      const verdict = action.verdict === "none" ? undefined : verdictFor(action.verdict, action.critical);
      return { type: "tick", tick: current.tick - action.staleBy, ...(verdict ? { verdict } : {}) };
    }
    case "approve":
    case "promote":
    case "pause":
    case "resume":
      return { type: action.kind, by: action.who === "starter" ? STARTER : OTHER };
    case "rollback":
      return { type: "rollback", by: action.who === "starter" ? STARTER : OTHER, reason: "looks wrong" };
    case "drift":
      return { type: "drift-detected", detail: "someone edited the route" };
    case "error":
      return { type: "error", kind: "kubernetes_unavailable", detail: "connection reset" };
    case "preflight-passed":
      return { type: "preflight-passed", baseline: { route: "original" }, subsetLabels: {} };
    case "preflight-failed":
      return { type: "preflight-failed", reason: "no ready pods" };
  }
}

/** Every transition made, in order, and the state after each scenario step (`at`: transitions made so far). */
type Trace = { applied: Applied[]; ends: { rollout: Rollout; at: number }[] };

function run(scenario: Scenario): Trace {
  let rollout = makeRollout({
    plan: scenario.plan,
    phase: Phase.Preflight,
    stepIndex: -1,
    appliedWeight: 0,
    tick: 0,
    startedBy: STARTER,
  });
  const applied: Applied[] = [];
  const ends: Trace["ends"] = [];
  scenario.steps.forEach(({ action, world }, index) => {
    const outcome = applyLikeService(rollout, toEvent(action, rollout), FIXTURE_NOW + index * 1_000, world);
    rollout = outcome.rollout;
    applied.push(...outcome.applied);
    ends.push({ rollout, at: applied.length });
  });
  return { applied, ends };
}

function where(applied: Applied, index: number): string {
  return `transition #${index}: ${applied.event.type} in ${applied.before.phase} (step ${applied.before.stepIndex})`;
}

/** A cheap assertion for the hot loops (hundreds of thousands of checks): say where and what on failure. */
function ensure(ok: boolean, applied: Applied, index: number, what: () => string): void {
  if (!ok) throw new Error(`${where(applied, index)}: ${what()}`);
}

function holds(check: (scenario: Scenario, trace: Trace) => void): void {
  fc.assert(
    fc.property(scenarioArb, (scenario) => {
      check(scenario, run(scenario));
    }),
    { numRuns: RUNS },
  );
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

describe("rollout invariants over random event sequences", () => {
  it("generates only plans planProblems accepts", () => {
    fc.assert(
      fc.property(planArb, (plan) => {
        expect(planProblems(plan)).toEqual([]);
      }),
      { numRuns: RUNS },
    );
  });

  it("(1) canary weights take only plan values or 0; stable + canary = 100", () => {
    holds(({ plan }, { applied }) => {
      const allowed = [0, ...plan.steps];
      applied.forEach((a, i) => {
        const after = a.result.rollout;
        for (const effect of effectsOfType(a.result.effects, "set-weights")) {
          const { canaryWeight, headerRoute } = effect;
          ensure(
            allowed.includes(canaryWeight),
            a,
            i,
            () => `set-weights ${canaryWeight} not in ${allowed.join()}`,
          );
          // Only header requests reach the canary while the header route is on.
          ensure(
            !headerRoute || (plan.headerMatch !== undefined && canaryWeight === 0),
            a,
            i,
            () => `header route with canary weight ${canaryWeight}`,
          );
        }
        const desired = desiredWeight(after);
        ensure(allowed.includes(desired), a, i, () => `desired weight ${desired} not in ${allowed.join()}`);
        ensure(allowed.includes(after.appliedWeight), a, i, () => `applied weight ${after.appliedWeight}`);
      });
    });
  });

  it("(2) promoted only on a passing verdict at or into the final step, or a human Promote (invariant 5)", () => {
    holds(({ plan }, { applied }) => {
      const last = lastStepIndex(plan);
      let enteredFinalBy: string | undefined;
      applied.forEach((a, i) => {
        const { event, before } = a;
        const after = a.result.rollout;
        if (plan.analysis && event.type === "tick" && event.verdict?.status !== CheckStatus.Pass) {
          // No verdict, or one that is not a pass, never moves the rollout on.
          ensure(
            after.stepIndex === before.stepIndex,
            a,
            i,
            () => `stepped to ${after.stepIndex} without a pass`,
          );
        }
        if (before.stepIndex !== last && after.stepIndex === last) {
          enteredFinalBy =
            event.type === "tick" && event.verdict?.status === CheckStatus.Pass
              ? "pass"
              : event.type === "promote"
                ? "human promote"
                : `${event.type} in ${before.phase}`;
        }
        // At the final step, a passing tick or an accepted human Promote is what decides the promotion.
        if (before.stepIndex === last && a.result.refused === undefined) {
          if (event.type === "promote") enteredFinalBy = "human promote";
          if (event.type === "tick" && event.verdict?.status === CheckStatus.Pass && after.outcome) {
            enteredFinalBy = "pass";
          }
        }
        if (plan.analysis && after.phase === Phase.Promoted && before.phase !== Phase.Promoted) {
          ensure(
            enteredFinalBy === "pass" || enteredFinalBy === "human promote",
            a,
            i,
            () => `promoted, but the final step was entered by ${enteredFinalBy}`,
          );
        }
      });
    });
  });

  it("(3) under the two-person rule no approval by the starter is ever recorded", () => {
    holds(({ plan }, { applied }) => {
      if (!plan.twoPersonRule) return;
      applied.forEach((a, i) => {
        const own = a.result.rollout.approvals.filter((approval) => approval.by === STARTER);
        ensure(own.length === 0, a, i, () => `starter approvals ${JSON.stringify(own)}`);
      });
    });
  });

  it("(4) every state change has exactly one audit entry with from, to and actor; refusals of people are audited", () => {
    holds((_, { applied }) => {
      applied.forEach((a, i) => {
        const { event, before, result } = a;
        const after = result.rollout;
        const entries = audits(result.effects);
        const got = (): string => `audits ${JSON.stringify(entries)}`;
        ensure(entries.length <= 1, a, i, got);
        if (result.refused !== undefined) {
          ensure(after === before, a, i, () => "a refused event changed the rollout");
          ensure(
            result.effects.every((effect) => effect.type === "audit"),
            a,
            i,
            () => `a refused event had effects ${JSON.stringify(result.effects)}`,
          );
          if ("by" in event) {
            const entry = entries[0];
            ensure(
              entries.length === 1 &&
                entry?.actor === event.by &&
                entry.action === `refused:${event.type}` &&
                entry.fromPhase === before.phase &&
                entry.toPhase === before.phase &&
                entry.detail === result.refused,
              a,
              i,
              got,
            );
          }
          return;
        }
        const changed =
          before.phase !== after.phase ||
          before.stepIndex !== after.stepIndex ||
          before.failedChecks !== after.failedChecks ||
          !same(before.approvals, after.approvals) ||
          !same(before.outcome, after.outcome);
        if (changed || HUMAN_EVENTS.has(event.type)) {
          const actor =
            "by" in event
              ? event.by
              : event.type === "preflight-passed"
                ? before.startedBy
                : event.type === "weights-applied"
                  ? (after.outcome?.by ?? SYSTEM_ACTOR)
                  : SYSTEM_ACTOR;
          const entry = entries[0];
          ensure(
            entries.length === 1 &&
              entry?.actor === actor &&
              entry.fromPhase === before.phase &&
              entry.toPhase === after.phase &&
              entry.canaryWeight === desiredWeight(after) &&
              entry.rolloutId === before.id,
            a,
            i,
            () => `expected one audit by ${actor} from ${before.phase} to ${after.phase}; ${got()}`,
          );
        }
      });
    });
  });

  it("(5) terminal phases never change again", () => {
    holds((_, { applied }) => {
      applied.forEach((a, i) => {
        if (!isTerminal(a.before.phase)) return;
        if (a.result.rollout !== a.before) expect(a.result.rollout, where(a, i)).toEqual(a.before);
        ensure(
          a.result.effects.every((effect) => effect.type === "audit"),
          a,
          i,
          () => `effects after the end: ${JSON.stringify(a.result.effects)}`,
        );
      });
    });
  });

  it("(6) rolled-back is reached only through rolling-back + route-restored, and no weight is set after a rollback", () => {
    holds((_, { applied }) => {
      let rollingBack = false;
      applied.forEach((a, i) => {
        const { event, before } = a;
        const after = a.result.rollout;
        if (after.phase === Phase.RolledBack && before.phase !== Phase.RolledBack) {
          ensure(
            before.phase === Phase.RollingBack && event.type === "route-restored",
            a,
            i,
            () => "rolled back without rolling-back + route-restored",
          );
        }
        if (rollingBack) {
          ensure(
            effectsOfType(a.result.effects, "set-weights").length === 0,
            a,
            i,
            () => "set-weights after a rollback",
          );
          ensure(
            after.phase === Phase.RollingBack || after.phase === Phase.RolledBack,
            a,
            i,
            () => `left the rollback for ${after.phase}`,
          );
        }
        if (after.phase === Phase.RollingBack) rollingBack = true;
      });
    });
  });

  it("(7) scheduled tick numbers strictly increase and a stale tick does nothing", () => {
    holds((_, { applied }) => {
      let lastScheduled = 0;
      applied.forEach((a, i) => {
        const { event, before, result } = a;
        ensure(result.rollout.tick >= before.tick, a, i, () => `tick went back to ${result.rollout.tick}`);
        for (const effect of effectsOfType(result.effects, "schedule-tick")) {
          ensure(
            effect.tick > lastScheduled && effect.tick === result.rollout.tick && effect.delayMs >= 0,
            a,
            i,
            () =>
              `scheduled tick ${effect.tick} (+${effect.delayMs}ms) after ${lastScheduled}, state tick ${result.rollout.tick}`,
          );
          lastScheduled = effect.tick;
        }
        if (event.type === "tick" && event.tick !== before.tick) {
          ensure(
            result.effects.length === 0 && result.rollout === before,
            a,
            i,
            () => `stale tick ${event.tick} (current ${before.tick}) acted`,
          );
        }
      });
    });
  });

  it("(8) a rollout that moves on its own always has its next tick scheduled", () => {
    holds((_, { applied, ends }) => {
      let lastScheduled: number | undefined;
      let next = 0;
      for (const end of ends) {
        for (; next < end.at; next++) {
          const a = applied[next]!;
          for (const effect of effectsOfType(a.result.effects, "schedule-tick")) lastScheduled = effect.tick;
        }
        const { phase, tick } = end.rollout;
        if (phase === Phase.Progressing || phase === Phase.HeaderStage || phase === Phase.RollingBack) {
          expect(lastScheduled, `${phase} after transition #${end.at - 1}`).toBe(tick);
        }
      }
    });
  });
});
