import { describe, expect, it } from "vitest";
import { DEFAULT_PROGRESS_DEADLINE_MS, describePods, podProblem } from "../../src/rollout/pod-health.ts";
import { transition } from "../../src/rollout/transition.ts";
import { Phase, SYSTEM_ACTOR } from "../../src/rollout/types.ts";
import type { PodHealth, PodObservation, Rollout } from "../../src/rollout/types.ts";
import { audits, effectsOfType } from "../support/effects.ts";
import { FIXTURE_NOW, makeRollout } from "../support/rollouts.ts";
import type { RolloutOverrides } from "../support/rollouts.ts";
import { failing, passing } from "../support/verdicts.ts";

const MINUTE = 60_000;
const HEALTHY: PodHealth = { pods: 2, ready: 2, restarts: 0 };
const UNREADY: PodHealth = { pods: 2, ready: 0, restarts: 3, waiting: "CrashLoopBackOff" };

function progressing(overrides: RolloutOverrides = {}): Rollout {
  const { plan, ...rest } = overrides;
  return makeRollout({
    stepIndex: 0,
    appliedWeight: 10,
    tick: 3,
    plan: { steps: [10, 50, 100], intervalMs: MINUTE, ...plan },
    ...rest,
  });
}

/** Feed one due tick after another, each `MINUTE` apart, with these pod looks; the rollout after each. */
function ticks(start: Rollout, looks: PodObservation[], verdict = passing()) {
  let rollout = start;
  return looks.map((pods, index) => {
    const now = FIXTURE_NOW + (index + 1) * MINUTE;
    const result = transition(rollout, { type: "tick", tick: rollout.tick, verdict, pods }, now);
    rollout = result.rollout;
    return result;
  });
}

describe("podProblem", () => {
  it.each<[string, PodHealth, number | undefined, string | undefined]>([
    ["all ready, no earlier look", HEALTHY, undefined, undefined],
    ["all ready, restarts as before", { ...HEALTHY, restarts: 4 }, 4, undefined],
    ["no pods at all", { pods: 0, ready: 0, restarts: 0 }, 0, "no canary pods"],
    ["some unready", { pods: 3, ready: 1, restarts: 0 }, 0, "1/3 pods ready"],
    ["unready, with why", UNREADY, 0, "0/2 pods ready (CrashLoopBackOff)"],
    [
      "ready at the look, but restarted since the last",
      { ...HEALTHY, restarts: 2 },
      1,
      "1 restart since the last look",
    ],
    ["fewer restarts than before (pods replaced)", HEALTHY, 5, undefined],
  ])("%s", (_, observed, restartsBefore, expected) => {
    expect(podProblem(observed, restartsBefore)).toBe(expected);
  });
});

describe("canary pods and the progress deadline", () => {
  it("given healthy pods, when ticks look at them, then the rollout records the look and goes on with its plan", () => {
    const [first] = ticks(progressing(), [HEALTHY]);
    expect(first?.rollout.pods).toEqual({ at: FIXTURE_NOW + MINUTE, observed: HEALTHY, restarts: 0 });
    expect(first?.rollout.stepIndex).toBe(1);
    expect(audits(first?.effects ?? []).map((entry) => entry.action)).toEqual(["step"]);
  });

  it("given pods that turn unready, when they stay so for the deadline, then it rolls back with that reason, though the metrics pass", () => {
    const start = progressing({ plan: { progressDeadlineMs: 3 * MINUTE } });
    const results = ticks(start, [HEALTHY, UNREADY, UNREADY, UNREADY, UNREADY]);
    const [, turned, , , expired] = results;
    // The clock starts at the first unhealthy look, said once in the audit and to the channel.
    expect(turned?.rollout.pods?.unhealthySince).toBe(FIXTURE_NOW + 2 * MINUTE);
    expect(audits(turned?.effects ?? []).map((entry) => entry.action)).toContain("pods-unhealthy");
    expect(effectsOfType(turned?.effects ?? [], "notify")[0]?.text).toContain(
      "0/2 pods ready (CrashLoopBackOff)",
    );
    expect(results.slice(2, 4).every((result) => result.rollout.phase === Phase.Progressing)).toBe(true);
    // Meanwhile it holds its weight, as Flagger waits for a canary that is not ready: no step, nothing judged.
    expect(results.slice(1, 4).map((result) => result.rollout.stepIndex)).toEqual([1, 1, 1]);
    expect(results.slice(1, 4).map((result) => result.rollout.lastVerdict)).toEqual([
      results[0]?.rollout.lastVerdict,
      results[0]?.rollout.lastVerdict,
      results[0]?.rollout.lastVerdict,
    ]);
    expect(effectsOfType(results[2]?.effects ?? [], "schedule-tick")).toEqual([
      { type: "schedule-tick", tick: (results[1]?.rollout.tick ?? 0) + 1, delayMs: MINUTE },
    ]);
    expect(audits(results[2]?.effects ?? []).map((entry) => entry.action)).not.toContain("pods-unhealthy");
    // Three minutes after the first unhealthy look: rolled back, by canarybot, saying why.
    expect(expired?.rollout.phase).toBe(Phase.RollingBack);
    expect(expired?.rollout.outcome).toMatchObject({
      by: SYSTEM_ACTOR,
      reason: "canary pods unhealthy for 3m (progress deadline 3m): 0/2 pods ready (CrashLoopBackOff)",
    });
    expect(effectsOfType(expired?.effects ?? [], "restore-route")).toHaveLength(1);
  });

  it("does not count failing metrics while the pods are unhealthy, and rolls back on the pods at the deadline", () => {
    const start = progressing({ plan: { progressDeadlineMs: MINUTE } });
    const [held, expired] = ticks(start, [UNREADY, UNREADY], failing());
    expect(held?.rollout.failedChecks).toBe(0);
    expect(expired?.rollout.phase).toBe(Phase.RollingBack);
    expect(expired?.rollout.outcome?.reason).toMatch(/^canary pods unhealthy/);
  });

  it("given pods that recover before the deadline, then the clock stops, and a later failure starts it afresh", () => {
    const start = progressing({ plan: { progressDeadlineMs: 2 * MINUTE, steps: [10, 20, 30, 40, 50, 100] } });
    const results = ticks(start, [UNREADY, HEALTHY, UNREADY, UNREADY]);
    expect(results[1]?.rollout.pods?.unhealthySince).toBeUndefined();
    expect(audits(results[1]?.effects ?? []).map((entry) => entry.action)).toContain("pods-healthy");
    expect(results[2]?.rollout.pods?.unhealthySince).toBe(FIXTURE_NOW + 3 * MINUTE);
    expect(results[3]?.rollout.phase).toBe(Phase.Progressing);
  });

  it("counts a crash loop that is ready at every look by its restarts", () => {
    const start = progressing({ plan: { progressDeadlineMs: MINUTE } });
    const [, , expired] = ticks(start, [HEALTHY, { ...HEALTHY, restarts: 1 }, { ...HEALTHY, restarts: 2 }]);
    expect(expired?.rollout.outcome?.reason).toContain("1 restart since the last look");
  });

  it("decides nothing on a look that could not read the pods: the clock neither starts nor stops", () => {
    const start = progressing({ plan: { progressDeadlineMs: 2 * MINUTE, steps: [10, 20, 30, 40, 100] } });
    const unreadable = { unreadable: "pods: the Kubernetes API did not answer in time" };
    const results = ticks(start, [unreadable, UNREADY, unreadable, unreadable]);
    expect(results[0]?.rollout.pods?.unhealthySince).toBeUndefined();
    expect(results[2]?.rollout.pods?.unhealthySince).toBe(FIXTURE_NOW + 2 * MINUTE);
    expect(results[3]?.rollout.phase).toBe(Phase.Progressing);
    expect(describePods(results[3]?.rollout ?? start)).toBe(`pods unreadable: ${unreadable.unreadable}`);
    // Once it can read them again and they are still unhealthy, the deadline counts from the first unhealthy look.
    const later = transition(
      results[3]?.rollout ?? start,
      { type: "tick", tick: results[3]?.rollout.tick ?? 0, verdict: passing(), pods: UNREADY },
      FIXTURE_NOW + 5 * MINUTE,
    );
    expect(later.rollout.phase).toBe(Phase.RollingBack);
  });

  it("watches the pods in the header stage too", () => {
    const start = makeRollout({
      phase: Phase.HeaderStage,
      stepIndex: -1,
      appliedWeight: 0,
      headerRouteActive: true,
      tick: 3,
      plan: { headerMatch: { name: "x-canary", value: "1" }, progressDeadlineMs: MINUTE },
    });
    const [, expired] = ticks(start, [UNREADY, UNREADY]);
    expect(expired?.rollout.phase).toBe(Phase.RollingBack);
  });

  it("uses Flagger's 10 minutes when the plan names no deadline", () => {
    expect(DEFAULT_PROGRESS_DEADLINE_MS).toBe(600_000);
    const looks = Array.from({ length: 11 }, () => UNREADY);
    const results = ticks(progressing({ plan: { steps: [10, 100] } }), looks, passing());
    const phases = results.map((result) => result.rollout.phase);
    expect(phases.slice(0, 10).every((phase) => phase !== Phase.RollingBack)).toBe(true);
    expect(phases[10]).toBe(Phase.RollingBack);
  });

  it("leaves a tick without a look as it was: no pods recorded", () => {
    const result = transition(progressing(), { type: "tick", tick: 3, verdict: passing() }, FIXTURE_NOW);
    expect(result.rollout.pods).toBeUndefined();
  });

  it("says how the pods are, briefly, for the message and the status", () => {
    const [healthy] = ticks(progressing(), [HEALTHY]);
    expect(describePods(healthy?.rollout ?? progressing())).toBe("pods 2/2 ready, 0 restarts");
    const [unhealthy] = ticks(progressing(), [UNREADY]);
    expect(describePods(unhealthy?.rollout ?? progressing())).toBe(
      "pods unhealthy since 12:01 UTC: 0/2 pods ready (CrashLoopBackOff); rolls back at 12:11 UTC",
    );
    expect(describePods(progressing())).toBeUndefined();
  });
});
