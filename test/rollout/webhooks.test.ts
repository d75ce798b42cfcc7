import { describe, expect, it } from "vitest";
import { transition } from "../../src/rollout/transition.ts";
import { FlaggerPhase, HookType, Phase, SYSTEM_ACTOR } from "../../src/rollout/types.ts";
import type { HookResult, Rollout, RolloutEvent, Webhook } from "../../src/rollout/types.ts";
import { flaggerPhase, hooksDue, rolloutChecksum, withHookChecks } from "../../src/rollout/webhooks.ts";
import { FIXTURE_NOW, makeAnalysisPolicy, makeRollout } from "../support/rollouts.ts";
import type { RolloutOverrides } from "../support/rollouts.ts";
import { audits, effectsOfType } from "../support/effects.ts";
import { passing } from "../support/verdicts.ts";

const NOW = FIXTURE_NOW + 5 * 60_000;
const INTERVAL = 60_000;
const STEPS = [10, 50, 100];
const BASELINE = { name: "primary" };
const SECRET = "s3cr3t-token-16688eb5";

function hook(type: Webhook["type"], name: string = type): Webhook {
  return {
    name,
    type,
    url: `http://hooks.test/${name}`,
    timeoutMs: 1_000,
    retries: 0,
    metadata: { token: SECRET },
  };
}

function answer(type: Webhook["type"], status: number, name: string = type, body = ""): HookResult {
  const ok = status >= 200 && status <= 202;
  return { name, type, ok, status, durationMs: 12, attempts: 1, answer: body };
}

/** A rollout on the 10/50/100 plan without analysis, with these webhooks. */
function given(webhooks: Webhook[], overrides: RolloutOverrides = {}): Rollout {
  const { plan, ...rest } = overrides;
  const stepIndex = rest.stepIndex ?? 0;
  return makeRollout({
    stepIndex,
    appliedWeight: STEPS[stepIndex] ?? 0,
    tick: 3,
    baseline: BASELINE,
    plan: { steps: STEPS, intervalMs: INTERVAL, analysis: undefined, webhooks, ...plan },
    ...rest,
  });
}

/** In preflight with the start gate webhooks (passed, unless `baseline: undefined`): nothing touched yet. */
function waitingAtStart(webhooks: Webhook[], overrides: RolloutOverrides = {}): Rollout {
  return given(webhooks, { phase: Phase.Preflight, stepIndex: -1, appliedWeight: 0, ...overrides });
}

/** Preflight passes with the bookinfo baseline. */
function passPreflight(rollout: Rollout) {
  return transition(rollout, { type: "preflight-passed", baseline: BASELINE, subsetLabels: {} }, NOW);
}

function tick(
  rollout: Rollout,
  hooks: HookResult[],
  extra: Partial<Extract<RolloutEvent, { type: "tick" }>> = {},
): RolloutEvent {
  return { type: "tick", tick: rollout.tick, hooks, ...extra };
}

describe("start gate webhooks (confirm-rollout, pre-rollout)", () => {
  it("given a pre-rollout hook, when preflight passes, then nothing moves: it waits in preflight and asks for a tick at once", () => {
    const rollout = waitingAtStart([hook(HookType.PreRollout)], { baseline: undefined });

    const result = passPreflight(rollout);

    expect(result.rollout).toMatchObject({ phase: Phase.Preflight, baseline: BASELINE, stepIndex: -1 });
    expect(effectsOfType(result.effects, "set-weights")).toEqual([]);
    expect(effectsOfType(result.effects, "schedule-tick")).toEqual([
      { type: "schedule-tick", tick: 4, delayMs: 0 },
    ]);
    expect(hooksDue(result.rollout)).toEqual([HookType.PreRollout]);
  });

  it("given a confirm-rollout hook answering 403, when ticks come, then it holds without touching the route and says so once", () => {
    const rollout = waitingAtStart([hook(HookType.ConfirmRollout, "start gate"), hook(HookType.PreRollout)]);

    const first = transition(
      rollout,
      tick(rollout, [answer(HookType.ConfirmRollout, 403, "start gate", "closed")]),
      NOW,
    );
    const second = transition(
      first.rollout,
      tick(first.rollout, [answer(HookType.ConfirmRollout, 403, "start gate", "closed")]),
      NOW + INTERVAL,
    );

    expect(first.rollout).toMatchObject({
      phase: Phase.Preflight,
      waitingFor: 'confirm-rollout "start gate" (403: closed)',
    });
    expect(flaggerPhase(first.rollout)).toBe(FlaggerPhase.Waiting);
    for (const result of [first, second]) {
      expect(effectsOfType(result.effects, "set-weights")).toEqual([]);
      expect(effectsOfType(result.effects, "schedule-tick")).toHaveLength(1);
    }
    expect(audits(first.effects).map((entry) => entry.action)).toEqual(["webhook", "hook-hold"]);
    expect(audits(second.effects).map((entry) => entry.action)).toEqual(["webhook"]);
    expect(first.rollout.failedChecks).toBe(0);
  });

  it("given a pre-rollout hook answering 500 and a failure limit of 1, when the tick comes, then the rollout fails with nothing changed", () => {
    const rollout = waitingAtStart([hook(HookType.PreRollout, "smoke")], {
      plan: { analysis: makeAnalysisPolicy({ failureLimit: 1 }) },
    });

    const result = transition(
      rollout,
      tick(rollout, [answer(HookType.PreRollout, 500, "smoke", "boom")]),
      NOW,
    );

    expect(result.rollout.phase).toBe(Phase.Failed);
    expect(result.rollout.outcome?.reason).toContain('pre-rollout "smoke" (500: boom)');
    expect(effectsOfType(result.effects, "set-weights")).toEqual([]);
    expect(effectsOfType(result.effects, "restore-route")).toEqual([]);
  });

  it("given a pre-rollout hook answering 500 without analysis, then the first failure holds and the second (Flagger's limit 2) fails it", () => {
    const rollout = waitingAtStart([hook(HookType.PreRollout, "smoke")]);

    const first = transition(rollout, tick(rollout, [answer(HookType.PreRollout, 500, "smoke")]), NOW);
    const second = transition(
      first.rollout,
      tick(first.rollout, [answer(HookType.PreRollout, 500, "smoke")]),
      NOW + INTERVAL,
    );

    expect(first.rollout).toMatchObject({ phase: Phase.Preflight, failedChecks: 1 });
    expect(second.rollout).toMatchObject({ phase: Phase.Failed, failedChecks: 2, stepIndex: -1 });
    expect(second.rollout.outcome?.reason).toMatch(/^2 failed checks \(limit 2\) before any traffic/);
  });

  it("given both start gate hooks answering 200, when the tick comes, then the first step is taken", () => {
    const rollout = waitingAtStart([hook(HookType.ConfirmRollout), hook(HookType.PreRollout)]);

    const result = transition(
      rollout,
      tick(rollout, [answer(HookType.ConfirmRollout, 200), answer(HookType.PreRollout, 202)]),
      NOW,
    );

    expect(result.rollout).toMatchObject({ phase: Phase.Progressing, stepIndex: 0, waitingFor: undefined });
    expect(effectsOfType(result.effects, "set-weights")).toEqual([
      { type: "set-weights", canaryWeight: 10, headerRoute: false },
    ]);
  });

  it("given a start gate tick whose hooks were not called, then nothing passes: a missing answer is never a confirmation", () => {
    const rollout = waitingAtStart([hook(HookType.ConfirmRollout)]);

    const result = transition(rollout, { type: "tick", tick: rollout.tick }, NOW);

    expect(result.rollout.phase).toBe(Phase.Preflight);
    expect(result.rollout.waitingFor).toBe('confirm-rollout "confirm-rollout" (not called)');
  });
});

describe("rollout webhooks are checks", () => {
  it("given a rollout hook failing on two ticks without analysis, then the second failure rolls back at the limit", () => {
    const rollout = given([hook(HookType.Rollout, "load test")]);

    const first = transition(
      rollout,
      tick(rollout, [answer(HookType.Rollout, 500, "load test", "hey failed")]),
      NOW,
    );
    const second = transition(
      first.rollout,
      tick(first.rollout, [answer(HookType.Rollout, 500, "load test")]),
      NOW + INTERVAL,
    );

    expect(first.rollout).toMatchObject({ phase: Phase.Progressing, stepIndex: 0, failedChecks: 1 });
    expect(effectsOfType(first.effects, "set-weights")).toEqual([]);
    expect(second.rollout).toMatchObject({ phase: Phase.RollingBack, failedChecks: 2 });
    expect(second.rollout.outcome).toMatchObject({ by: SYSTEM_ACTOR });
    expect(second.rollout.outcome?.reason).toContain("webhook load test");
    expect(effectsOfType(second.effects, "restore-route")).toHaveLength(1);
  });

  it("given passing metrics and a failing rollout hook, then the tick is a failed check", () => {
    const plan = { analysis: makeAnalysisPolicy(), webhooks: [hook(HookType.Rollout)] };

    const verdict = withHookChecks(plan, passing(), [answer(HookType.Rollout, 503)]);

    expect(verdict?.status).toBe("fail");
    expect(verdict?.checks.at(-1)).toMatchObject({ name: "webhook rollout", status: "fail", value: 503 });
  });

  it("given a rollout hook answering 200, then the rollout steps on", () => {
    const rollout = given([hook(HookType.Rollout)]);

    const result = transition(rollout, tick(rollout, [answer(HookType.Rollout, 200)]), NOW);

    expect(result.rollout).toMatchObject({ stepIndex: 1, failedChecks: 0 });
  });
});

describe("confirmations", () => {
  it("given confirm-promotion answering 403 at the step before promotion, then it holds at 50% (WaitingPromotion) and steps to 100% once it answers 200", () => {
    const hooks = [hook(HookType.ConfirmPromotion, "promotion gate")];
    const rollout = given(hooks, { stepIndex: 1 });
    expect(hooksDue(rollout)).toEqual([HookType.ConfirmPromotion]);

    const held = transition(
      rollout,
      tick(rollout, [answer(HookType.ConfirmPromotion, 403, "promotion gate")]),
      NOW,
    );
    expect(held.rollout).toMatchObject({ phase: Phase.Progressing, stepIndex: 1 });
    expect(held.rollout.outcome).toBeUndefined();
    expect(flaggerPhase(held.rollout)).toBe(FlaggerPhase.WaitingPromotion);
    expect(effectsOfType(held.effects, "set-weights")).toEqual([]);

    const opened = transition(
      held.rollout,
      tick(held.rollout, [answer(HookType.ConfirmPromotion, 200, "promotion gate")]),
      NOW + INTERVAL,
    );
    expect(opened.rollout).toMatchObject({ stepIndex: 2, waitingFor: undefined });
    expect(opened.rollout.outcome).toBeDefined();
    expect(effectsOfType(opened.effects, "set-weights")).toEqual([
      { type: "set-weights", canaryWeight: 100, headerRoute: false },
    ]);
  });

  it("given confirm-traffic-increase answering 500 at 10%, then it holds at 10%; confirm-promotion is not asked before the last increase", () => {
    const rollout = given([hook(HookType.ConfirmTrafficIncrease), hook(HookType.ConfirmPromotion)]);
    expect(hooksDue(rollout)).toEqual([HookType.ConfirmTrafficIncrease]);

    const held = transition(rollout, tick(rollout, [answer(HookType.ConfirmTrafficIncrease, 500)]), NOW);

    expect(held.rollout).toMatchObject({ stepIndex: 0, failedChecks: 0 });
    expect(held.rollout.waitingFor).toContain("confirm-traffic-increase");
  });
});

describe("rollback webhooks", () => {
  it("given a rollback hook answering 200 while progressing, then the tick rolls back", () => {
    const rollout = given([hook(HookType.Rollback, "rollback gate"), hook(HookType.Rollout)]);
    expect(hooksDue(rollout)).toEqual([HookType.Rollback, HookType.Rollout]);

    const result = transition(rollout, tick(rollout, [answer(HookType.Rollback, 200, "rollback gate")]), NOW);

    expect(result.rollout.phase).toBe(Phase.RollingBack);
    expect(result.rollout.outcome?.reason).toBe('rollback requested by the rollback webhook "rollback gate"');
    expect(effectsOfType(result.effects, "restore-route")).toHaveLength(1);
  });

  it("given a rollback hook answering 200 while the start gate waits, then it ends failed with nothing touched", () => {
    const rollout = waitingAtStart([hook(HookType.Rollback), hook(HookType.ConfirmRollout)]);

    const result = transition(rollout, tick(rollout, [answer(HookType.Rollback, 200)]), NOW);

    expect(result.rollout.phase).toBe(Phase.Failed);
    expect(effectsOfType(result.effects, "restore-route")).toEqual([]);
  });

  it("given a rollback hook answering 403, then nothing happens beyond the audit", () => {
    const rollout = given([hook(HookType.Rollback)]);

    const result = transition(rollout, tick(rollout, [answer(HookType.Rollback, 403)]), NOW);

    expect(result.rollout).toMatchObject({ phase: Phase.Progressing, stepIndex: 1 });
  });
});

describe("event and post-rollout webhooks", () => {
  it("given event hooks, when the phase changes, then each is called with Flagger's phase and the audit's words; no change, no call", () => {
    const events = [hook(HookType.Event, "slack")];
    const rollout = waitingAtStart(events, { baseline: undefined });

    const started = passPreflight(rollout);
    const stepped = transition(started.rollout, tick(started.rollout, []), NOW + INTERVAL);

    expect(effectsOfType(started.effects, "call-webhook")).toEqual([
      {
        type: "call-webhook",
        hook: events[0],
        phase: FlaggerPhase.Progressing,
        event: { message: "reviews-1 step", type: "Normal", at: NOW },
      },
    ]);
    expect(effectsOfType(stepped.effects, "call-webhook")).toEqual([]);
    // Queued before the route effect, so that the change its confirmation brings is announced after this one.
    const types = started.effects.map((effect) => effect.type);
    expect(types.indexOf("call-webhook")).toBeLessThan(types.indexOf("set-weights"));
  });

  it("given post-rollout hooks, when the rollout is rolled back, then they are called with phase Failed, and a failing event is a Warning", () => {
    const webhooks = [hook(HookType.PostRollout, "notify"), hook(HookType.Event)];
    const rollout = given(webhooks, {
      phase: Phase.RollingBack,
      stepIndex: 1,
      appliedWeight: 50,
      outcome: { at: NOW, by: "U1", reason: "bad" },
    });

    const result = transition(rollout, { type: "route-restored" }, NOW);

    const calls = effectsOfType(result.effects, "call-webhook");
    expect(calls.map((call) => [call.hook.type, call.phase, call.event?.type])).toEqual([
      [HookType.Event, FlaggerPhase.Failed, "Warning"],
      [HookType.PostRollout, FlaggerPhase.Failed, undefined],
    ]);
  });

  it("given a finished rollout, when its post-rollout results come in, then they are recorded and audited without the metadata", () => {
    const rollout = given([hook(HookType.PostRollout)], {
      phase: Phase.Promoted,
      stepIndex: 2,
      appliedWeight: 100,
    });

    const result = transition(
      rollout,
      { type: "webhooks-called", results: [answer(HookType.PostRollout, 500, "post-rollout", "down")] },
      NOW,
    );

    expect(result.refused).toBeUndefined();
    expect(result.rollout.phase).toBe(Phase.Promoted);
    expect(result.rollout.hookResults).toEqual([answer(HookType.PostRollout, 500, "post-rollout", "down")]);
    expect(audits(result.effects)).toEqual([
      expect.objectContaining({
        action: "webhook",
        actor: "webhook:post-rollout",
        detail: 'post-rollout "post-rollout" → 500 in 12 ms: down',
      }),
    ]);
    expect(JSON.stringify(result.effects)).not.toContain(SECRET);
  });
});

describe("Flagger phases", () => {
  it.each([
    [{ phase: Phase.Preflight, baseline: undefined }, FlaggerPhase.Initializing],
    [{ phase: Phase.Preflight, baseline: BASELINE }, FlaggerPhase.Waiting],
    [{ phase: Phase.HeaderStage }, FlaggerPhase.Progressing],
    [{ phase: Phase.Progressing }, FlaggerPhase.Progressing],
    [{ phase: Phase.Progressing, outcome: { at: NOW, by: "U1", reason: "x" } }, FlaggerPhase.Promoting],
    [{ phase: Phase.Paused }, FlaggerPhase.Waiting],
    [{ phase: Phase.AwaitingApproval }, FlaggerPhase.Waiting],
    [{ phase: Phase.Promoted }, FlaggerPhase.Succeeded],
    [{ phase: Phase.RollingBack }, FlaggerPhase.Failed],
    [{ phase: Phase.RolledBack }, FlaggerPhase.Failed],
    [{ phase: Phase.Failed }, FlaggerPhase.Failed],
  ])("%o is %s", (state, expected) => {
    expect(flaggerPhase(state)).toBe(expected);
  });

  it("the checksum is stable for a rollout and differs for the next", () => {
    const rollout = given([]);
    expect(rolloutChecksum(rollout)).toMatch(/^[0-9a-f]{8}$/);
    const later: Rollout = { ...rollout, version: 9, tick: 12 };
    expect(rolloutChecksum(later)).toBe(rolloutChecksum(rollout));
    expect(rolloutChecksum({ ...rollout, id: "reviews-2" })).not.toBe(rolloutChecksum(rollout));
  });
});
