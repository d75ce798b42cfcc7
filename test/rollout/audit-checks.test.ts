import { describe, expect, it } from "vitest";
import { transition } from "../../src/rollout/transition.ts";
import { CheckStatus, SYSTEM_ACTOR } from "../../src/rollout/types.ts";
import type { Verdict } from "../../src/rollout/types.ts";
import { FIXTURE_NOW, makeRollout } from "../support/rollouts.ts";
import { audits } from "../support/effects.ts";

const NOW = FIXTURE_NOW + 5 * 60_000;

const failingBadly: Verdict = {
  status: CheckStatus.Fail,
  checks: [
    {
      name: "request-volume",
      status: CheckStatus.Pass,
      value: 188,
      unit: "requests",
      threshold: "≥ 20 requests",
    },
    {
      name: "success-rate",
      status: CheckStatus.Fail,
      value: 0.882,
      unit: "share",
      threshold: "≥ 99% (critical below 90%)",
      detail: "canary success rate 88.2% is below the critical floor 90%",
      critical: true,
    },
    { name: "p99-latency", status: CheckStatus.Pass, value: 130.4, unit: "ms", threshold: "≤ 500ms" },
  ],
};

/** Issue 7 item 6: the audit keeps what a verdict decided on, as data, in one unit per check. */
describe("the audit entry of a judged tick", () => {
  it("states values in the unit of their threshold", () => {
    const rollout = makeRollout({ routeSince: FIXTURE_NOW });
    const result = transition(rollout, { type: "tick", tick: rollout.tick, verdict: failingBadly }, NOW);
    const [rollback] = audits(result.effects);
    expect(rollback).toMatchObject({ action: "rollback", actor: SYSTEM_ACTOR });
    expect(rollback?.detail).toBe(
      "critical breach: success-rate 88.2% vs ≥ 99% (critical below 90%) (canary success rate 88.2% is below the critical floor 90%)",
    );
  });

  it("keeps each check's value, unit, threshold and status, without the prose", () => {
    const rollout = makeRollout({ routeSince: FIXTURE_NOW });
    const result = transition(rollout, { type: "tick", tick: rollout.tick, verdict: failingBadly }, NOW);
    expect(audits(result.effects)[0]?.checks).toEqual([
      { name: "request-volume", status: "pass", value: 188, unit: "requests", threshold: "≥ 20 requests" },
      {
        name: "success-rate",
        status: "fail",
        value: 0.882,
        unit: "share",
        threshold: "≥ 99% (critical below 90%)",
      },
      { name: "p99-latency", status: "pass", value: 130.4, unit: "ms", threshold: "≤ 500ms" },
    ]);
  });

  it("a person's pause keeps its reason", () => {
    const rollout = makeRollout();
    const result = transition(rollout, { type: "pause", by: "U9", reason: "db migration" }, NOW);
    expect(audits(result.effects)[0]?.detail).toBe("paused by U9: db migration");
  });
});
