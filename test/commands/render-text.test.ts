import { describe, expect, it } from "vitest";
import {
  auditLine,
  auditTable,
  statusJson,
  statusLine,
  statusTable,
  unfinishedRollback,
} from "../../src/commands/render-text.ts";
import type { AuditEntry } from "../../src/rollout/types.ts";
import { FIXTURE_NOW, makeRollout } from "../support/rollouts.ts";

const entry = (actor: string, action: string, detail?: string): AuditEntry => ({
  at: FIXTURE_NOW,
  rolloutId: "reviews-1",
  actor,
  action,
  fromPhase: "progressing",
  toPhase: "progressing",
  canaryWeight: 5,
  ...(detail === undefined ? {} : { detail }),
});

describe("status and list tables", () => {
  it("have column headers, and every column starts where its header does", () => {
    const rollouts = [
      makeRollout(),
      makeRollout({
        id: "ratings-12",
        target: { service: "ratings", virtualService: "ratings-internal-api" },
      }),
    ];
    const lines = statusTable(rollouts).split("\n");
    expect(lines[0]).toMatch(/^ID\s+VIRTUALSERVICE\s+PHASE\s+WEIGHT · STEP\s+SUBSETS\s+STARTED BY\s+WHY$/);
    const column = (header: string) => lines[0]?.indexOf(header) ?? -1;
    expect(lines[1]?.indexOf("default/reviews")).toBe(column("VIRTUALSERVICE"));
    expect(lines[2]?.indexOf("default/ratings-internal-api")).toBe(column("VIRTUALSERVICE"));
    expect(lines[2]?.indexOf("progressing")).toBe(column("PHASE"));
    expect(lines[2]?.indexOf("U123")).toBe(column("STARTED BY"));
  });

  it("keeps the one-line answer of an action in fixed columns", () => {
    expect(statusLine(makeRollout())).toBe(
      "reviews-1      default/reviews          progressing        5% · step 1/4    stable→canary by U123",
    );
  });
});

describe("the weight a screen shows (issue 8.2)", () => {
  it("is what the route carries, with the target beside it while a write is pending", () => {
    const rollingBack = makeRollout({
      phase: "rolling-back",
      plan: { steps: [10, 20, 50, 100] },
      stepIndex: 1,
      appliedWeight: 20,
      restoreFailure: {
        attempts: 3,
        since: FIXTURE_NOW,
        lastError: "kubernetes_unavailable: 503",
        alertedAt: 0,
      },
    });
    expect(statusJson(rollingBack)).toMatchObject({
      canaryWeight: 20,
      targetWeight: 0,
      note: "restore failing, 3 attempts: kubernetes_unavailable: 503",
    });
    expect(statusLine(rollingBack)).toContain("20% → 0% · back from step 2/4");
    expect(statusLine(rollingBack)).toContain("(restore failing, 3 attempts: kubernetes_unavailable: 503)");
  });

  it("says when a step waits for its release window, and when nobody steps the rollout", () => {
    const held = makeRollout({ heldUntil: Date.UTC(2026, 11, 28, 8, 0) });
    expect(statusJson(held).note).toBe("outside its release windows until 2026-12-28 08:00 UTC");
    const overdue = makeRollout({
      overdue: { tick: 0, since: FIXTURE_NOW, detail: "no worker for cluster x" },
    });
    expect(statusLine(overdue)).toContain("(not being stepped: no worker for cluster x)");
  });

  it("says when the canary's pods are unhealthy, and when the deadline rolls it back; healthy pods say nothing", () => {
    const observed = { pods: 2, ready: 1, restarts: 4 };
    const unhealthy = makeRollout({
      pods: {
        at: FIXTURE_NOW,
        observed,
        restarts: 4,
        unhealthySince: FIXTURE_NOW,
        problem: "1/2 pods ready",
      },
    });
    expect(statusLine(unhealthy)).toContain(
      "(pods unhealthy since 12:00 UTC: 1/2 pods ready; rolls back at 12:10 UTC)",
    );
    const healthy = makeRollout({
      pods: { at: FIXTURE_NOW, observed: { ...observed, ready: 2 }, restarts: 4 },
    });
    expect(statusJson(healthy).note).toBeUndefined();
  });
});

describe("the history table", () => {
  it("stays aligned however long an actor is", () => {
    const lines = auditTable([
      entry("cli:a-rather-long-user-name@example.com", "start"),
      entry("canarybot", "step", "pass: success-rate 100% vs ≥ 99%"),
      entry("U123", "refused:approve", "two-person rule"),
    ]).split("\n");
    expect(lines[0]).toMatch(/^AT\s+ACTOR\s+ACTION\s+PHASE\s+WEIGHT\s+DETAIL$/);
    const actions = lines.map((line) => line.search(/start|step|refused:approve|ACTION/));
    expect(new Set(actions).size).toBe(1);
    const weights = lines.map((line) => line.search(/ 5%|WEIGHT/));
    expect(new Set(weights.slice(1)).size).toBe(1);
  });

  it("keeps Slack's fixed-width audit line", () => {
    expect(auditLine(entry("U123", "approve", "ok"))).toBe(
      `2025-01-01T12:00:00.000Z  U123           approve          progressing                      5%  ok`,
    );
  });
});

describe("the answer to a rollback", () => {
  it("is nothing more when the route is restored", () => {
    expect(unfinishedRollback(makeRollout({ phase: "rolled-back", appliedWeight: 0 }))).toBeUndefined();
  });

  it("says the restore is failing and why, from the rollout's restore failure", () => {
    // Not a literal in place: the core may record more about the failure (when it alerted) than this reads.
    const restoreFailure = {
      attempts: 2,
      since: FIXTURE_NOW,
      alertedAt: FIXTURE_NOW,
      lastError: "kubernetes_unavailable: VirtualService default/reviews: restore failed: HTTP 503",
    };
    const rollout = makeRollout({ phase: "rolling-back", restoreFailure });
    expect(unfinishedRollback(rollout)).toBe(
      "rollback requested, restore failing: kubernetes_unavailable: VirtualService default/reviews: restore failed: HTTP 503",
    );
  });
});
