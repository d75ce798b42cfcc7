import { describe, expect, it } from "vitest";
import { MetricsAnalyzer } from "../../src/metrics/metrics-analyzer.ts";
import type { MetricsProvider } from "../../src/rollout/ports.ts";
import type { MetricsSnapshot, SubsetMetrics } from "../../src/rollout/types.ts";
import { makeAnalysisPolicy, makeRollout } from "../support/rollouts.ts";

const NOW = 1_700_000_000_000;

/** A canary slower across the board on 50 requests: only the rank test on the buckets can fail it. */
const subset = (requests: number, p99Ms: number, fromMs: number): SubsetMetrics => ({
  requestRate: requests / 60,
  successRate: 1,
  p50Ms: p99Ms / 4,
  p90Ms: p99Ms / 2,
  p99Ms,
  requests,
  errors: 0,
  latencyBuckets: [
    { fromMs, count: Math.round(requests * 0.6) },
    { fromMs: fromMs * 2, count: Math.round(requests * 0.4) },
  ],
});
const slowCanary: MetricsSnapshot = {
  at: NOW,
  windowSeconds: 60,
  canaryWeight: 5,
  canary: subset(50, 240, 50),
  stable: subset(2000, 92, 10),
};

describe("MetricsAnalyzer", () => {
  it("judges with the buckets, then keeps the snapshot without them (the detail holds the test's outcome)", async () => {
    const provider: MetricsProvider = { snapshot: () => Promise.resolve(slowCanary) };
    const rollout = makeRollout({ plan: { analysis: makeAnalysisPolicy() } });
    const verdict = await new MetricsAnalyzer(provider).analyze(rollout, NOW);

    expect(verdict.status).toBe("fail");
    expect(verdict.checks.find((c) => c.name === "p99-vs-stable")?.detail).toMatch(/Mann-Whitney p<0\.001/);
    expect(verdict.snapshot?.canary).not.toHaveProperty("latencyBuckets");
    expect(verdict.snapshot?.stable).not.toHaveProperty("latencyBuckets");
    expect(verdict.snapshot?.canary).toMatchObject({ requests: 50, errors: 0, p99Ms: 240 });
  });
});
