import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { evaluateSnapshot, DEFAULT_ANALYSIS_POLICY, CheckName } from "../../src/metrics/analysis.ts";
import type { SubsetLabels } from "../../src/metrics/istio-queries.ts";
import { PrometheusClient } from "../../src/metrics/prometheus-client.ts";
import { PrometheusMetricsProvider } from "../../src/metrics/prometheus-metrics-provider.ts";
import type { MetricsSnapshot } from "../../src/rollout/types.ts";
import { istioDocuments } from "../support/istio-fixtures.ts";
import { istioFixturePath } from "../support/fixtures.ts";
import { startPrometheus, type TestPrometheus } from "../support/prometheus.ts";
import { makeRollout } from "../support/rollouts.ts";
import {
  renderIstioMetrics,
  serveMetrics,
  type MetricsPage,
  type Workload,
} from "../support/istio-exposition.ts";

/**
 * Given sidecars reporting Istio metrics for reviews v1 (stable: fast, 1 % errors) and v2 (canary: slow, 5 %
 * errors), scraped every second by a real Prometheus, when the provider takes a snapshot, then canary and stable
 * carry what the sidecars reported; and when Prometheus is down, the snapshot says so and the verdict is
 * inconclusive.
 */

const NAMESPACE = "bookinfo";

const WORKLOADS: Workload[] = [
  // stable: p50 in (10, 25], p99 in (50, 100]
  {
    namespace: NAMESPACE,
    service: "reviews",
    version: "v1",
    workload: "reviews-v1",
    requestsPerSecond: 100,
    errorShare: 0.01,
    latency: [
      [20, 0.9],
      [80, 0.1],
    ],
  },
  // canary: p50 in (100, 250], p99 in (250, 500]
  {
    namespace: NAMESPACE,
    service: "reviews",
    version: "v2",
    workload: "reviews-v2",
    requestsPerSecond: 50,
    errorShare: 0.05,
    latency: [
      [150, 0.8],
      [400, 0.2],
    ],
  },
  // Noise the queries must not pick up: the source-side report of the same calls, another service with the same
  // versions, and the same service in another namespace.
  {
    namespace: NAMESPACE,
    service: "reviews",
    version: "v2",
    workload: "reviews-v2",
    reporter: "source",
    requestsPerSecond: 1_000,
    errorShare: 0.9,
    latency: [[9_000, 1]],
  },
  {
    namespace: NAMESPACE,
    service: "ratings",
    version: "v1",
    workload: "ratings-v1",
    requestsPerSecond: 1_000,
    errorShare: 1,
    latency: [[9_000, 1]],
  },
  {
    namespace: "other",
    service: "reviews",
    version: "v1",
    workload: "reviews-v1",
    requestsPerSecond: 1_000,
    errorShare: 1,
    latency: [[9_000, 1]],
  },
];

/** Subset labels as the router reads them from the DestinationRule (the real bookinfo one). */
function bookinfoSubsetLabels(): SubsetLabels {
  const [dr] = istioDocuments("samples/bookinfo-networking/destination-rule-reviews.yaml") as [
    { spec: { subsets: { name: string; labels: Record<string, string> }[] } },
  ];
  return Object.fromEntries(dr.spec.subsets.map((s) => [s.name, s.labels]));
}

const rollout = makeRollout({
  id: "reviews-7",
  target: { namespace: NAMESPACE, service: "reviews", stableSubset: "v1", canarySubset: "v2" },
  appliedWeight: 33,
});

let prometheus: TestPrometheus;
let sidecars: MetricsPage;
let excerpt: MetricsPage;
let client: PrometheusClient;

beforeAll(async () => {
  const started = Date.now();
  sidecars = await serveMetrics(() => renderIstioMetrics(WORKLOADS, (Date.now() - started) / 1000));
  // A real Istio 1.5 sidecar scrape (other services, PassthroughCluster) beside ours, verbatim.
  const real = readFileSync(istioFixturePath("metrics/istio-proxy-1.5.excerpt.prom"), "utf8");
  excerpt = await serveMetrics(() => real);
  prometheus = await startPrometheus({ targets: [sidecars.target, excerpt.target] });
  client = new PrometheusClient({ url: prometheus.url, timeoutMs: 2_000, retries: 1, backoffMs: 10 });
  // Wait until Prometheus holds four scrapes of the sidecars: rates need two, and with four the samples span
  // the whole 4 s window (4 x the 1 s scrape interval), so rate() is not diluted by a series younger than the
  // window. Prometheus 2.x applies scrape targets on a 5 s tick, so the first scrape comes after ~6 s.
  const deadline = Date.now() + 15_000;
  for (;;) {
    const response = await client.query(
      `min(count_over_time(istio_requests_total{destination_service_name="reviews",destination_service_namespace="${NAMESPACE}"}[1m]))`,
    );
    const n = response.data.resultType === "vector" ? (response.data.result[0]?.value ?? 0) : 0;
    if (n >= 4) break;
    if (Date.now() > deadline) throw new Error(`only ${n} scrapes after 15 s`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
});

afterAll(async () => {
  await prometheus?.stop();
  await sidecars?.close();
  await excerpt?.close();
});

function expectBetween(value: number | undefined, low: number, high: number): void {
  expect(value).toBeDefined();
  expect(value).toBeGreaterThan(low);
  expect(value).toBeLessThanOrEqual(high);
}

function expectSensible(snapshot: MetricsSnapshot): void {
  expect(snapshot.unavailable).toBeUndefined();
  const { canary, stable } = snapshot;
  expectBetween(stable.successRate, 0.98, 1);
  expectBetween(canary.successRate, 0.93, 0.97);
  expectBetween(stable.requestRate, 70, 120);
  expectBetween(canary.requestRate, 35, 60);
  expectBetween((canary.requestRate ?? 0) / (stable.requestRate ?? 1), 0.4, 0.6);
  expect(canary.requests).toBe(Math.round((canary.requestRate ?? 0) * snapshot.windowSeconds));
  expectBetween(stable.p50Ms, 10, 25);
  expectBetween(stable.p99Ms, 50, 100);
  expectBetween(canary.p50Ms, 100, 250);
  expectBetween(canary.p90Ms, 250, 500);
  expectBetween(canary.p99Ms, 250, 500);
  // The statistical judge's samples: every request of the window in its bucket (the lower bound names it).
  for (const subset of [canary, stable]) {
    const total = (subset.latencyBuckets ?? []).reduce((sum, bucket) => sum + bucket.count, 0);
    expectBetween(total, (subset.requests ?? 0) - 3, (subset.requests ?? 0) + 3);
    expect(subset.errors).toBe(Math.round((subset.requests ?? 0) * (1 - (subset.successRate ?? 0))));
  }
  expect(canary.latencyBuckets?.map((bucket) => bucket.fromMs)).toEqual([100, 250]);
  expect(stable.latencyBuckets?.map((bucket) => bucket.fromMs)).toEqual([10, 50]);
}

describe("PrometheusMetricsProvider against a real Prometheus", () => {
  it("reads canary and stable from DestinationRule subset labels (destination_version)", async () => {
    const provider = new PrometheusMetricsProvider(client, {
      subsets: { type: "subset-labels", subsetLabels: bookinfoSubsetLabels },
      scrapeIntervalSeconds: 1,
    });
    const now = Date.now();
    const snapshot = await provider.snapshot(rollout, 4, now);
    expect(snapshot).toMatchObject({ at: now, windowSeconds: 4, canaryWeight: 33 });
    expectSensible(snapshot);

    const verdict = evaluateSnapshot(snapshot, DEFAULT_ANALYSIS_POLICY);
    expect(verdict.status).toBe("fail");
    const success = verdict.checks.find((c) => c.name === CheckName.SuccessRate);
    expect(success).toMatchObject({ status: "fail" });
    expect(success?.critical).toBeUndefined();
    // 200 canary requests support no p99 comparison, but the rank test sees a canary slower across the board.
    expect(verdict.checks.find((c) => c.name === CheckName.P99VsStable)).toMatchObject({
      status: "fail",
      detail: expect.stringMatching(
        /slower than stable with 95% confidence \(Mann-Whitney p<0\.001\)/,
      ) as string,
    });
    expect(verdict.checks.find((c) => c.name === CheckName.RequestVolume)).toMatchObject({ status: "pass" });
  });

  it("reads the same numbers by workload name (destination_workload)", async () => {
    const provider = new PrometheusMetricsProvider(client, {
      subsets: { type: "workload" },
      scrapeIntervalSeconds: 1,
    });
    expectSensible(await provider.snapshot(rollout, 4, Date.now()));
  });

  it("returns custom check values", async () => {
    const withChecks = makeRollout({
      ...rollout,
      plan: {
        analysis: {
          ...DEFAULT_ANALYSIS_POLICY,
          customChecks: [
            {
              name: "canary-5xx-per-second",
              query:
                'sum(rate(istio_requests_total{reporter="destination",destination_service_namespace="{{namespace}}",' +
                'destination_service_name="{{service}}",destination_version="{{canary}}",response_code=~"5.."}[{{interval}}]))',
              max: 1,
            },
            {
              name: "nothing",
              query:
                'sum(rate(istio_requests_total{destination_version="{{stable}}-missing"}[{{interval}}]))',
            },
          ],
        },
      },
    });
    const provider = new PrometheusMetricsProvider(client, {
      subsets: { type: "subset-labels", subsetLabels: bookinfoSubsetLabels },
      scrapeIntervalSeconds: 1,
    });
    const snapshot = await provider.snapshot(withChecks, 4, Date.now());
    expectBetween(snapshot.custom?.["canary-5xx-per-second"], 1.5, 3.5); // 5 % of 50 rps
    expect(snapshot.custom).toHaveProperty("nothing", undefined);
    const verdict = evaluateSnapshot(snapshot, withChecks.plan.analysis!);
    expect(verdict.checks.find((c) => c.name === "canary-5xx-per-second")).toMatchObject({ status: "fail" });
    expect(verdict.checks.find((c) => c.name === "nothing")).toMatchObject({ status: "inconclusive" });
  });

  it("Prometheus down → snapshot unavailable and the verdict inconclusive; back up → data again", async () => {
    const provider = new PrometheusMetricsProvider(client, {
      subsets: { type: "subset-labels", subsetLabels: bookinfoSubsetLabels },
      scrapeIntervalSeconds: 1,
    });
    await prometheus.kill();
    const snapshot = await provider.snapshot(rollout, 4, Date.now());
    expect(snapshot.unavailable).toMatch(/ECONNREFUSED/);
    expect(snapshot.canary).toEqual({});
    expect(snapshot.stable).toEqual({});
    const verdict = evaluateSnapshot(snapshot, DEFAULT_ANALYSIS_POLICY);
    expect(verdict.status).toBe("inconclusive");
    expect(
      verdict.checks.every((c) => c.status === "inconclusive" && c.detail?.includes("ECONNREFUSED")),
    ).toBe(true);

    await prometheus.start();
    const again = await provider.snapshot(rollout, 4, Date.now());
    expect(again.unavailable).toBeUndefined();
  });
});
