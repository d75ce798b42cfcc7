import { describe, expect, it } from "vitest";
import {
  describeProgress,
  desiredWeight,
  isGateOpen,
  isLive,
  isTerminal,
  lastStepIndex,
  MIN_INTERVAL_MS,
  planProblems,
  problemText,
  wantsHeaderRoute,
} from "../../src/rollout/plan.ts";
import { Phase } from "../../src/rollout/types.ts";
import type { Plan } from "../../src/rollout/types.ts";
import { makePlan, makeRollout } from "../support/rollouts.ts";

describe("planProblems", () => {
  it.each<{ name: string; plan: Partial<Plan> }>([
    { name: "the fixture plan", plan: {} },
    { name: "a single step to 100", plan: { steps: [100] } },
    { name: "1 then 100", plan: { steps: [1, 100] } },
    { name: "gates at earlier steps", plan: { steps: [10, 50, 100], approvalGates: [10, 50] } },
    { name: "a header stage", plan: { headerMatch: { name: "x-canary", value: "always" } } },
    { name: "no analysis", plan: { analysis: undefined } },
    { name: "the shortest interval", plan: { intervalMs: MIN_INTERVAL_MS } },
    { name: "the two-person rule", plan: { approvalGates: [25], twoPersonRule: true } },
  ])("accepts $name", ({ plan }) => {
    expect(planProblems(makePlan(plan))).toEqual([]);
  });

  it.each<{ name: string; plan: Partial<Plan>; problems: RegExp[] }>([
    {
      name: "steps that go down",
      plan: { steps: [10, 5, 100] },
      problems: [/^steps: 5 after 10: steps must be strictly increasing$/],
    },
    {
      name: "a repeated step",
      plan: { steps: [10, 50, 50, 100] },
      problems: [/^steps: 50 after 50: steps must be strictly increasing$/],
    },
    {
      name: "a step of 0",
      plan: { steps: [0, 50, 100] },
      problems: [/^steps: 0 is not a whole percentage between 1 and 100$/],
    },
    {
      name: "a step over 100",
      plan: { steps: [10, 101] },
      problems: [/^steps: 101 is not a whole percentage/, /^steps: the last step must be 100/],
    },
    {
      name: "a fractional step",
      plan: { steps: [2.5, 50, 100] },
      problems: [/^steps: 2\.5 is not a whole percentage/],
    },
    { name: "no steps", plan: { steps: [] }, problems: [/^steps: at least one step is needed$/] },
    {
      name: "a last step short of 100",
      plan: { steps: [10, 50] },
      problems: [/^steps: the last step must be 100/],
    },
    { name: "an interval of 0", plan: { intervalMs: 0 }, problems: [/^interval: must be at least 1s$/] },
    {
      name: "an interval of 999 ms",
      plan: { intervalMs: 999 },
      problems: [/^interval: must be at least 1s$/],
    },
    { name: "an interval that is not a number", plan: { intervalMs: NaN }, problems: [/^interval: /] },
    {
      name: "a gate that is not a step",
      plan: { steps: [10, 50, 100], approvalGates: [30] },
      problems: [/^approve-at: 30 is not one of the steps \(10, 50, 100\)$/],
    },
    {
      name: "a gate at 100",
      plan: { steps: [10, 50, 100], approvalGates: [100] },
      problems: [/^approve-at: 100 is the promotion itself/],
    },
    {
      name: "a header with an empty name",
      plan: { headerMatch: { name: "", value: "always" } },
      problems: [/^header: needs name=value$/],
    },
    {
      name: "a header with an empty value",
      plan: { headerMatch: { name: "x-canary", value: "" } },
      problems: [/^header: needs name=value$/],
    },
    {
      name: "everything wrong at once",
      plan: { steps: [50, 20], intervalMs: 10, approvalGates: [30], headerMatch: { name: "", value: "" } },
      problems: [
        /^steps: 20 after 50/,
        /^steps: the last step/,
        /^interval: /,
        /^approve-at: 30 /,
        /^header: /,
      ],
    },
  ])("names the field for $name", ({ plan, problems }) => {
    const found = planProblems(makePlan(plan));
    expect(found.map(problemText)).toEqual(
      problems.map((pattern): string => expect.stringMatching(pattern) as string),
    );
    for (const problem of found) expect(problem.field).toMatch(/^[-a-z0-9]+$/);
  });
});

describe("planProblems with a lowered interval floor", () => {
  it.each([
    { intervalMs: 100, floor: 100, problems: [] },
    { intervalMs: 99, floor: 100, problems: ["interval: must be at least 100ms"] },
    { intervalMs: 1_500, floor: 2_000, problems: ["interval: must be at least 2s"] },
  ])("$intervalMs ms against a floor of $floor ms: $problems", ({ intervalMs, floor, problems }) => {
    expect(planProblems(makePlan({ intervalMs }), floor).map(problemText)).toEqual(problems);
  });
});

describe("desiredWeight", () => {
  const plan = { steps: [10, 50, 100] };
  it.each([
    { phase: Phase.Preflight, stepIndex: -1, weight: 0 },
    { phase: Phase.HeaderStage, stepIndex: -1, weight: 0 },
    { phase: Phase.Progressing, stepIndex: 0, weight: 10 },
    { phase: Phase.Progressing, stepIndex: 1, weight: 50 },
    { phase: Phase.Paused, stepIndex: 1, weight: 50 },
    { phase: Phase.AwaitingApproval, stepIndex: 1, weight: 50 },
    { phase: Phase.Progressing, stepIndex: 2, weight: 100 },
    { phase: Phase.Promoted, stepIndex: 2, weight: 100 },
    { phase: Phase.RollingBack, stepIndex: 1, weight: 0 },
    { phase: Phase.RolledBack, stepIndex: 2, weight: 0 },
    { phase: Phase.Failed, stepIndex: -1, weight: 0 },
  ])("is $weight while $phase at step index $stepIndex", ({ phase, stepIndex, weight }) => {
    expect(desiredWeight(makeRollout({ plan, phase, stepIndex }))).toBe(weight);
  });
});

describe("isGateOpen", () => {
  const plan = { steps: [10, 50, 100], approvalGates: [50] };
  it.each([
    { name: "a gated step without approval", stepIndex: 1, approvedAt: [], open: true },
    { name: "a gated step approved", stepIndex: 1, approvedAt: [1], open: false },
    { name: "a gated step approved at another step only", stepIndex: 1, approvedAt: [-1, 0], open: true },
    { name: "an ungated step", stepIndex: 0, approvedAt: [], open: false },
    { name: "the last step", stepIndex: 2, approvedAt: [], open: false },
    { name: "before the first step", stepIndex: -1, approvedAt: [], open: false },
  ])("is $open at $name", ({ stepIndex, approvedAt, open }) => {
    const approvals = approvedAt.map((index) => ({ by: "U456", at: 0, stepIndex: index }));
    expect(isGateOpen(makeRollout({ plan, stepIndex, approvals }))).toBe(open);
  });
});

describe("wantsHeaderRoute", () => {
  const headerMatch = { name: "x-canary", value: "always" };
  it.each([
    { name: "the header stage", headerMatch, phase: Phase.HeaderStage, resumeTo: undefined, wants: true },
    {
      name: "a paused header stage",
      headerMatch,
      phase: Phase.Paused,
      resumeTo: Phase.HeaderStage,
      wants: true,
    },
    {
      name: "a paused progression",
      headerMatch,
      phase: Phase.Paused,
      resumeTo: Phase.Progressing,
      wants: false,
    },
    { name: "progressing", headerMatch, phase: Phase.Progressing, resumeTo: undefined, wants: false },
    { name: "rolling back", headerMatch, phase: Phase.RollingBack, resumeTo: undefined, wants: false },
    {
      name: "a plan without header",
      headerMatch: undefined,
      phase: Phase.HeaderStage,
      resumeTo: undefined,
      wants: false,
    },
  ])("is $wants for $name", ({ headerMatch: match, phase, resumeTo, wants }) => {
    const rollout = makeRollout({ plan: { headerMatch: match }, phase, resumeTo, stepIndex: -1 });
    expect(wantsHeaderRoute(rollout)).toBe(wants);
  });
});

describe("describeProgress", () => {
  const plan = { steps: [10, 50, 100] };
  it.each([
    { phase: Phase.HeaderStage, stepIndex: -1, applied: 0, text: "0% · step 0/3" },
    { phase: Phase.Progressing, stepIndex: 0, applied: 10, text: "10% · step 1/3" },
    { phase: Phase.Progressing, stepIndex: 1, applied: 10, text: "10% → 50% · step 2/3" },
    { phase: Phase.Paused, stepIndex: 1, applied: 50, text: "50% · step 2/3" },
    { phase: Phase.Promoted, stepIndex: 2, applied: 100, text: "100% · step 3/3" },
    { phase: Phase.RollingBack, stepIndex: 1, applied: 50, text: "50% → 0% · back from step 2/3" },
    { phase: Phase.RolledBack, stepIndex: 1, applied: 0, text: "0% · back from step 2/3" },
  ])(
    "reads $text while $phase at step index $stepIndex with $applied% on the route",
    ({ phase, stepIndex, applied, text }) => {
      expect(describeProgress(makeRollout({ plan, phase, stepIndex, appliedWeight: applied }))).toBe(text);
    },
  );
});

describe("phase classes", () => {
  it.each([
    { phase: Phase.Preflight, live: true, terminal: false },
    { phase: Phase.HeaderStage, live: true, terminal: false },
    { phase: Phase.Progressing, live: true, terminal: false },
    { phase: Phase.Paused, live: true, terminal: false },
    { phase: Phase.AwaitingApproval, live: true, terminal: false },
    { phase: Phase.RollingBack, live: true, terminal: false },
    { phase: Phase.Promoted, live: false, terminal: true },
    { phase: Phase.RolledBack, live: false, terminal: true },
    { phase: Phase.Failed, live: false, terminal: true },
  ])("$phase is live: $live, terminal: $terminal", ({ phase, live, terminal }) => {
    expect(isLive(phase)).toBe(live);
    expect(isTerminal(phase)).toBe(terminal);
  });

  it("lastStepIndex points at the 100% step", () => {
    expect(lastStepIndex(makePlan({ steps: [10, 50, 100] }))).toBe(2);
    expect(lastStepIndex(makePlan({ steps: [100] }))).toBe(0);
  });
});
