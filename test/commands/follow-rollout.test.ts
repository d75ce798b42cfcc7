import { describe, expect, it } from "vitest";
import {
  WaitExit,
  finishedExit,
  followUpdate,
  isWaitingForPerson,
} from "../../src/commands/follow-rollout.ts";
import { followRollout } from "../../src/cli/wait-command.ts";
import { Phase } from "../../src/rollout/types.ts";
import type { Rollout } from "../../src/rollout/types.ts";
import { FIXTURE_NOW, makeRollout } from "../support/rollouts.ts";

const at = (phase: Phase, extra: Partial<Rollout> = {}): Rollout =>
  makeRollout({
    id: "reviews-3",
    phase,
    startedBy: "cli:alice",
    plan: { steps: [10, 100], twoPersonRule: true },
    ...extra,
  });

describe("what a wait decides", () => {
  it("ends 0 promoted, 3 rolled back or failed, and follows every live phase", () => {
    expect(Object.values(Phase).map((phase) => [phase, finishedExit({ phase })])).toEqual([
      ...Object.values(Phase).map((phase) => [
        phase,
        phase === Phase.Promoted ? 0 : phase === Phase.RolledBack || phase === Phase.Failed ? 3 : undefined,
      ]),
    ]);
  });

  it("waits for a person at an approval gate, in the header stage and while paused; nowhere else", () => {
    expect(Object.values(Phase).filter((phase) => isWaitingForPerson({ phase }))).toEqual([
      Phase.HeaderStage,
      Phase.Paused,
      Phase.AwaitingApproval,
    ]);
  });

  it("prints a line per phase change and per weight change, nothing when only the tick moved", () => {
    const first = at(Phase.Progressing, { stepIndex: 0, appliedWeight: 10 });
    expect(followUpdate(undefined, first)).toBe("reviews-3 progressing 10% · step 1/2");
    expect(followUpdate(first, { ...first, tick: first.tick + 1, version: 9 })).toBeUndefined();
    const gate = { ...first, phase: Phase.AwaitingApproval };
    expect(followUpdate(first, gate)).toBe(
      "reviews-3 awaiting-approval 10% · step 1/2: waits for a person's approval (not cli:alice)",
    );
    const moving = { ...gate, phase: Phase.Progressing, stepIndex: 1 };
    expect(followUpdate(gate, moving)).toBe("reviews-3 progressing 10% → 100% · step 2/2");
    const back = at(Phase.RolledBack, {
      appliedWeight: 0,
      outcome: { at: FIXTURE_NOW, by: "webhook:load", reason: "rollout webhook load failed twice" },
    });
    expect(followUpdate(moving, back)).toBe(
      "reviews-3 rolled-back 0% · back from step 1/2: rollout webhook load failed twice",
    );
    const paused = { ...first, phase: Phase.Paused, reason: "paused by cli:bob: looks odd" };
    expect(followUpdate(first, paused)).toBe(
      "reviews-3 paused 10% · step 1/2: paused by cli:bob: looks odd; waits for a person to resume or roll back",
    );
    const overdue = { ...first, overdue: { tick: 4, since: FIXTURE_NOW, detail: "no worker is running" } };
    expect(followUpdate(first, overdue)).toBe(
      "reviews-3 progressing 10% · step 1/2: not being stepped: no worker is running",
    );
  });
});

/** A store that answers with the next state each read (the last repeats), and a clock that moves with each sleep. */
function scripted(states: Rollout[]) {
  let reads = 0;
  let clock = FIXTURE_NOW;
  const out: string[] = [];
  return {
    out,
    reads: () => reads,
    run: (timeoutMs?: number) =>
      followRollout(
        { get: () => Promise.resolve(states[Math.min(reads++, states.length - 1)]) },
        "reviews-3",
        { stdout: (text) => out.push(text) },
        {
          ...(timeoutMs === undefined ? {} : { timeoutMs }),
          now: () => clock,
          sleep: (ms) => {
            clock += ms;
            return Promise.resolve();
          },
        },
      ),
  };
}

describe("followRollout", () => {
  it("follows to the end and says how it ended", async () => {
    const progressing = at(Phase.Progressing, { appliedWeight: 10 });
    const run = scripted([
      progressing,
      progressing,
      at(Phase.Promoted, { stepIndex: 1, appliedWeight: 100 }),
    ]);
    expect(await run.run()).toBe(WaitExit.Promoted);
    expect(run.out).toEqual([
      "reviews-3 progressing 10% · step 1/2\n",
      "reviews-3 promoted 100% · step 2/2\n",
    ]);
  });

  it("after --wait-timeout, stops with 4 only once the rollout waits for a person; progress is followed on", async () => {
    const progressing = at(Phase.Progressing, { appliedWeight: 10 });
    const gate = at(Phase.AwaitingApproval, { appliedWeight: 10 });
    const run = scripted([...Array.from({ length: 10 }, () => progressing), gate]);
    expect(await run.run(1_000)).toBe(WaitExit.StillWaitingForPerson);
    expect(run.reads()).toBe(11);
    expect(run.out.at(-1)).toBe(
      "reviews-3 still awaiting-approval after --wait-timeout 1s: stopped waiting, the rollout goes on " +
        "(canarybot wait reviews-3 follows it again)\n",
    );
  });

  it("without --wait-timeout waits for a person as long as it takes", async () => {
    const gate = at(Phase.AwaitingApproval, { appliedWeight: 10 });
    const run = scripted([...Array.from({ length: 50 }, () => gate), at(Phase.RolledBack)]);
    expect(await run.run()).toBe(WaitExit.NotPromoted);
  });

  it("names a rollout that is not there", async () => {
    await expect(
      followRollout({ get: () => Promise.resolve(undefined) }, "reviews-9", { stdout: () => undefined }),
    ).rejects.toThrow("no rollout reviews-9 (canarybot status lists them)");
  });
});
