import { describe, expect, it } from "vitest";
import { MIN_OVERDUE_MS, planSweep, TICK_GRACE_MS } from "../../src/rollout/overdue.ts";
import { Phase } from "../../src/rollout/types.ts";
import type { Rollout } from "../../src/rollout/types.ts";
import { FIXTURE_NOW, makeRollout } from "../support/rollouts.ts";

const PROD_CLUSTER = { server: "https://prod.example:6443", context: "prod" };
const STAGING = { server: "https://staging.example:6443", context: "staging" };
/** A process on production, as RolloutService.foreignReason decides it: the same API server, or none recorded. */
const PROD = (rollout: Rollout): boolean =>
  rollout.cluster === undefined || rollout.cluster.server === PROD_CLUSTER.server;
const DUE = FIXTURE_NOW;

describe("planSweep", () => {
  it("enqueues a tick of its own cluster once it is past due by the grace, and not before", () => {
    const rollout = makeRollout({ cluster: PROD_CLUSTER, tick: 4, nextTickAt: DUE });
    expect(planSweep([rollout], PROD, DUE + TICK_GRACE_MS - 1).ensure).toEqual([]);
    expect(planSweep([rollout], PROD, DUE + TICK_GRACE_MS).ensure).toEqual([
      { rolloutId: rollout.id, tick: 4 },
    ]);
  });

  it("never enqueues a tick of a rollout the process does not serve", () => {
    const theirs = makeRollout({ id: "reviews-1", cluster: STAGING, nextTickAt: DUE });
    const legacy = makeRollout({ id: "reviews-2", nextTickAt: DUE });
    expect(planSweep([theirs, legacy], PROD, DUE + 10_000).ensure.map((entry) => entry.rolloutId)).toEqual([
      "reviews-2",
    ]);
  });

  it("leaves rollouts that wait for nobody's tick (paused, awaiting approval) and finished ones alone", () => {
    const paused = makeRollout({ phase: Phase.Paused, cluster: PROD_CLUSTER, nextTickAt: undefined });
    const promoted = makeRollout({ phase: Phase.Promoted, cluster: PROD_CLUSTER, nextTickAt: DUE });
    expect(planSweep([paused, promoted], PROD, DUE + 3_600_000)).toEqual({ ensure: [], overdue: [] });
  });

  it("reports a rollout three intervals late, naming the cluster nobody serves, once per tick", () => {
    const intervalMs = 60_000;
    const theirs = makeRollout({ cluster: STAGING, tick: 7, nextTickAt: DUE, plan: { intervalMs } });
    expect(planSweep([theirs], PROD, DUE + 3 * intervalMs - 1).overdue).toEqual([]);
    const [report] = planSweep([theirs], PROD, DUE + 3 * intervalMs).overdue;
    expect(report).toMatchObject({ rolloutId: theirs.id, tick: 7 });
    expect(report?.detail).toContain("no worker for cluster https://staging.example:6443 (context staging)");

    const reported = { ...theirs, overdue: { tick: 7, since: DUE, detail: "x" } };
    expect(planSweep([reported], PROD, DUE + 10 * intervalMs).overdue).toEqual([]);
  });

  it("waits at least the minimum before calling a short-interval rollout overdue", () => {
    const fast = makeRollout({ cluster: PROD_CLUSTER, nextTickAt: DUE, plan: { intervalMs: 1_000 } });
    expect(planSweep([fast], PROD, DUE + MIN_OVERDUE_MS - 1).overdue).toEqual([]);
    expect(planSweep([fast], PROD, DUE + MIN_OVERDUE_MS).overdue).toHaveLength(1);
  });
});
