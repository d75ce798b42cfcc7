import { describe, expect, it } from "vitest";
import { instrumentRouter, instrumentSlackClient, instrumentStore } from "../../src/ops/instrument.ts";
import { OpsMetrics } from "../../src/ops/metrics.ts";
import type { RolloutStore, TrafficRouter } from "../../src/rollout/ports.ts";
import type { AuditEntry } from "../../src/rollout/types.ts";
import { startSlackSandbox } from "../../sandbox/slack/web-api-sandbox.ts";
import { createNotifierClient } from "../../src/slack/slack-notifier.ts";
import { makeTarget } from "../support/rollouts.ts";

function entry(overrides: Partial<AuditEntry>): AuditEntry {
  return {
    at: 0,
    rolloutId: "reviews-1",
    actor: "canarybot",
    action: "tick",
    fromPhase: "progressing",
    toPhase: "progressing",
    canaryWeight: 10,
    ...overrides,
  };
}

async function value(
  metrics: OpsMetrics,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const metric = await metrics.registry.getSingleMetric(name)?.get();
  const found = metric?.values.find((sample) =>
    Object.entries(labels).every(([key, wanted]) => sample.labels[key] === wanted),
  );
  return found?.value ?? 0;
}

describe("OpsMetrics from the audit entries", () => {
  it("counts phase changes and rollbacks by reason, and nothing for an entry that keeps the phase", async () => {
    const metrics = new OpsMetrics();
    const appended: AuditEntry[] = [];
    const store = instrumentStore(
      { appendAudit: (e: AuditEntry) => Promise.resolve(void appended.push(e)) } as unknown as RolloutStore,
      metrics,
    );
    await store.appendAudit(entry({ action: "tick" }));
    await store.appendAudit(entry({ action: "tick", toPhase: "rolling-back" }));
    await store.appendAudit(entry({ action: "rollback", actor: "U0ALICE1", toPhase: "rolling-back" }));
    await store.appendAudit(entry({ action: "drift-detected", toPhase: "paused" }));
    expect(appended).toHaveLength(4);
    expect(await value(metrics, "canarybot_rollbacks_total", { reason: "analysis" })).toBe(1);
    expect(await value(metrics, "canarybot_rollbacks_total", { reason: "manual" })).toBe(1);
    expect(await value(metrics, "canarybot_rollout_transitions_total", { phase: "rolling-back" })).toBe(2);
    expect(await value(metrics, "canarybot_rollout_transitions_total", { phase: "paused" })).toBe(1);
    expect(await value(metrics, "canarybot_rollout_transitions_total", { phase: "progressing" })).toBe(0);
  });
});

describe("OpsMetrics from the entries saved with a change", () => {
  it("counts them once the save went through, and not when it was refused", async () => {
    const metrics = new OpsMetrics();
    let stale = false;
    const store = instrumentStore(
      {
        save: (rollout: unknown) => (stale ? Promise.reject(new Error("stale")) : Promise.resolve(rollout)),
      } as unknown as RolloutStore,
      metrics,
    );
    const rollout = {} as Parameters<RolloutStore["save"]>[0];
    await store.save(rollout, 1, [entry({ action: "promoted", toPhase: "promoted" })]);
    stale = true;
    await expect(
      store.save(rollout, 1, [entry({ action: "promoted", toPhase: "promoted" })]),
    ).rejects.toThrow();
    expect(await value(metrics, "canarybot_rollout_transitions_total", { phase: "promoted" })).toBe(1);
  });
});

describe("instrumentRouter", () => {
  it("times every call, counts errors, and counts a step only when the weight moves", async () => {
    const metrics = new OpsMetrics();
    let fail = false;
    const router = instrumentRouter(
      {
        setWeights: () => (fail ? Promise.reject(new Error("500")) : Promise.resolve()),
      } as unknown as TrafficRouter,
      metrics,
    );
    const target = makeTarget();
    const expected = (appliedWeight: number) => ({ baseline: {}, appliedWeight, headerRouteActive: false });
    await router.setWeights(target, { canaryWeight: 10, headerRouteActive: false }, expected(0));
    await router.setWeights(target, { canaryWeight: 10, headerRouteActive: false }, expected(10));
    fail = true;
    await expect(
      router.setWeights(target, { canaryWeight: 50, headerRouteActive: false }, expected(10)),
    ).rejects.toThrow("500");
    expect(await value(metrics, "canarybot_steps_total")).toBe(1);
    const calls = { system: "kubernetes", operation: "setWeights" };
    expect(await value(metrics, "canarybot_external_calls_total", { ...calls, outcome: "ok" })).toBe(2);
    expect(await value(metrics, "canarybot_external_calls_total", { ...calls, outcome: "error" })).toBe(1);
  });
});

describe("instrumentSlackClient", () => {
  it("counts and times every Web API call by method, against the Slack sandbox", async () => {
    const slack = await startSlackSandbox({ botToken: "xoxb-1-2-metrics" });
    try {
      const metrics = new OpsMetrics();
      const client = instrumentSlackClient(
        createNotifierClient({ token: "xoxb-1-2-metrics", slackApiUrl: slack.apiUrl }),
        metrics,
      );
      await client.auth.test();
      const wrong = instrumentSlackClient(
        createNotifierClient({ token: "xoxb-0-0-wrong", slackApiUrl: slack.apiUrl }),
        metrics,
      );
      await expect(wrong.auth.test()).rejects.toThrow(/invalid_auth/);
      const calls = { system: "slack", operation: "auth.test" };
      expect(await value(metrics, "canarybot_external_calls_total", { ...calls, outcome: "ok" })).toBe(1);
      expect(await value(metrics, "canarybot_external_calls_total", { ...calls, outcome: "error" })).toBe(1);
    } finally {
      await slack.close();
    }
  });
});
