import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { isCanaryError } from "../../src/errors.ts";
import { evaluateSnapshot } from "../../src/metrics/analysis.ts";
import { linkerdQueries } from "../../src/metrics/linkerd-queries.ts";
import type { LinkerdQueryScope } from "../../src/metrics/linkerd-queries.ts";
import { parseQueryData } from "../../src/metrics/prometheus-client.ts";
import type { QueryData, QueryResponse } from "../../src/metrics/prometheus-client.ts";
import { PrometheusMetricsProvider } from "../../src/metrics/prometheus-metrics-provider.ts";
import type { PrometheusQuerier } from "../../src/metrics/prometheus-metrics-provider.ts";
import type { SnapshotQueries } from "../../src/metrics/promql.ts";
import type { MetricsSource } from "../../src/rollout/types.ts";
import { fixturePath } from "../support/fixtures.ts";
import { makeAnalysisPolicy, makeRollout } from "../support/rollouts.ts";

const reviews: LinkerdQueryScope = {
  namespace: "default",
  deployments: { canary: "reviews-v2", stable: "reviews-v1" },
  windowSeconds: 10,
};

describe("linkerdQueries", () => {
  it("asks Flagger's series (response_total, response_latency_ms_bucket, inbound, by namespace and deployment) for both Deployments at once", () => {
    const sel = '{namespace="default",deployment=~"reviews-v2|reviews-v1",direction="inbound"}';
    const ok =
      '{namespace="default",deployment=~"reviews-v2|reviews-v1",direction="inbound",classification!="failure"}';
    expect(linkerdQueries(reviews)).toStrictEqual({
      requestRate: `sum by (deployment) (rate(response_total${sel}[10s]))`,
      successRate:
        `(sum by (deployment) (rate(response_total${ok}[10s])) or 0 * sum by (deployment) (rate(response_total${sel}[10s]))) / ` +
        `sum by (deployment) (rate(response_total${sel}[10s]))`,
      p50: `histogram_quantile(0.5, sum by (le, deployment) (rate(response_latency_ms_bucket${sel}[10s])))`,
      p90: `histogram_quantile(0.9, sum by (le, deployment) (rate(response_latency_ms_bucket${sel}[10s])))`,
      p99: `histogram_quantile(0.99, sum by (le, deployment) (rate(response_latency_ms_bucket${sel}[10s])))`,
      latencyBuckets: `sum by (le, deployment) (increase(response_latency_ms_bucket${sel}[10s]))`,
    } satisfies SnapshotQueries);
  });

  it("escapes odd names literally", () => {
    const odd = linkerdQueries({
      ...reviews,
      namespace: 'a"b',
      deployments: { canary: "x.v2", stable: "x+1" },
    });
    expect(odd.requestRate).toContain('namespace="a\\"b",deployment=~"x\\\\.v2|x\\\\+1"');
  });

  it.each([
    ["an empty namespace", { ...reviews, namespace: "" }, /namespace is empty/],
    [
      "one Deployment for both subsets",
      { ...reviews, deployments: { canary: "reviews", stable: "reviews" } },
      /canary and stable both carry deployment="reviews"/,
    ],
    ["an empty window", { ...reviews, windowSeconds: 0 }, /positive number of seconds/],
  ])("refuses %s as metrics_query_invalid", (_what, scope, message) => {
    let caught: unknown;
    try {
      linkerdQueries(scope);
    } catch (error) {
      caught = error;
    }
    expect(isCanaryError(caught, "metrics_query_invalid")).toBe(true);
    expect((caught as Error).message).toMatch(message);
  });
});

/**
 * Answers recorded from a real Prometheus scraping the mesh sandbox's Linkerd metrics (test/fixtures/prometheus/
 * linkerd/, `record.ts` there): `split` (reviews-v2 fails 5 % and is slower), `canaryDown` (ratings-v2 fails
 * every request), `noTraffic` (details has no pods).
 */
function recorded(scenario: string): Map<string, QueryData> {
  const service = { split: "reviews", canaryDown: "ratings", noTraffic: "details" }[scenario] ?? scenario;
  const queries = linkerdQueries({
    namespace: "default",
    deployments: { canary: `${service}-v2`, stable: `${service}-v1` },
    windowSeconds: 10,
  });
  return new Map(
    Object.entries(queries).map(([name, promql]) => {
      const file = fixturePath(`prometheus/linkerd/${scenario}.${name}.json`);
      const answer = JSON.parse(readFileSync(file, "utf8")) as { data: unknown };
      return [promql, parseQueryData(answer.data)];
    }),
  );
}

/** Answers each query from the recording; a query the recording has no answer for fails the test. */
class RecordedPrometheus implements PrometheusQuerier {
  readonly asked: string[] = [];
  readonly #answers: Map<string, QueryData>;
  constructor(answers: Map<string, QueryData>) {
    this.#answers = answers;
  }
  query(promql: string): Promise<QueryResponse> {
    this.asked.push(promql);
    const data = this.#answers.get(promql);
    if (data === undefined) return Promise.reject(new Error(`not recorded: ${promql}`));
    return Promise.resolve({ data, warnings: [], infos: [] });
  }
}

const linkerd: MetricsSource = { mesh: "linkerd" };
const judged = (service: string, metrics: MetricsSource = linkerd) =>
  makeRollout({
    target: { service, virtualService: service, host: service, canarySubset: "v2", stableSubset: "v1" },
    plan: { intervalMs: 10_000, analysis: makeAnalysisPolicy({ metrics, minRequests: 20 }) },
  });
const provider = (prometheus: PrometheusQuerier) =>
  new PrometheusMetricsProvider(prometheus, {
    // Labels mode for Istio: Linkerd's subsets are told apart by Deployment whatever this says.
    subsets: { type: "subset-labels", subsetLabels: () => ({}) },
    scrapeIntervalSeconds: 1,
  });

describe("PrometheusMetricsProvider with Linkerd metrics, on recorded answers", () => {
  it("reads a canary failing 5 %: success rate, requests and errors, latencies and buckets per Deployment", async () => {
    const prometheus = new RecordedPrometheus(recorded("split"));
    const snapshot = await provider(prometheus).snapshot(judged("reviews"), 10, 0);

    expect(prometheus.asked).toHaveLength(6);
    expect(snapshot.unavailable).toBeUndefined();
    expect(snapshot.windowSeconds).toBe(10);
    expect(snapshot.canary).toMatchObject({ successRate: 0.9502164502164502, requests: 513, errors: 26 });
    expect(snapshot.canary.p99Ms).toBeCloseTo(307.6, 1);
    expect(snapshot.stable).toMatchObject({ successRate: 1, requests: 481, errors: 0 });
    expect(snapshot.stable.p99Ms).toBeCloseTo(31.34, 2);
    // The rank test's samples: whole requests per Linkerd bucket, adding up to about the window's responses.
    const total = (which: "canary" | "stable") =>
      (snapshot[which].latencyBuckets ?? []).reduce((sum, bucket) => sum + bucket.count, 0);
    // Each bucket is rounded on its own, so the sum may miss the window's count by a request or two.
    expect(Math.abs(total("canary") - 513)).toBeLessThanOrEqual(3);
    expect(Math.abs(total("stable") - 481)).toBeLessThanOrEqual(3);
    // Named by their lower bounds on Linkerd's 1-2-3-4-5 scale: 10-20 ms, 20-30 ms, 30-40 ms.
    expect(snapshot.stable.latencyBuckets?.map((bucket) => bucket.fromMs)).toEqual([10, 20, 30]);

    const verdict = evaluateSnapshot(snapshot, judged("reviews").plan.analysis ?? makeAnalysisPolicy());
    expect(verdict.status).toBe("fail");
    expect(verdict.checks.find((check) => check.name === "success-rate")).toMatchObject({
      status: "fail",
      value: 0.9502164502164502,
    });
    expect(verdict.checks.find((check) => check.name === "p99-vs-stable")?.status).toBe("fail");
  });

  it("reads a canary failing every request as 0 %, a critical failure, not as no data", async () => {
    const snapshot = await provider(new RecordedPrometheus(recorded("canaryDown"))).snapshot(
      judged("ratings"),
      10,
      0,
    );
    expect(snapshot.canary.successRate).toBe(0);
    expect(snapshot.canary.errors).toBe(snapshot.canary.requests);
    const verdict = evaluateSnapshot(snapshot, makeAnalysisPolicy({ minRequests: 20 }));
    expect(verdict.checks.find((check) => check.name === "success-rate")).toMatchObject({
      status: "fail",
      critical: true,
    });
  });

  it("finds Deployments without traffic inconclusive, never a pass", async () => {
    const snapshot = await provider(new RecordedPrometheus(recorded("noTraffic"))).snapshot(
      judged("details"),
      10,
      0,
    );
    expect(snapshot.canary).toStrictEqual({
      requestRate: undefined,
      successRate: undefined,
      p50Ms: undefined,
      p90Ms: undefined,
      p99Ms: undefined,
      requests: undefined,
    });
    expect(evaluateSnapshot(snapshot, makeAnalysisPolicy()).status).toBe("inconclusive");
  });

  it("names the Deployments the plan maps subsets to, and fills custom checks with them", async () => {
    const prometheus = new RecordedPrometheus(new Map());
    const rollout = judged("reviews", { mesh: "linkerd", deployments: { v2: "reviews-canary" } });
    rollout.plan.analysis?.customChecks.push({
      name: "canary-5xx",
      query: 'sum(rate(response_total{deployment="{{canary}}",status_code=~"5.."}[{{interval}}]))',
      max: 1,
    });
    await expect(provider(prometheus).snapshot(rollout, 10, 0)).rejects.toThrow(/not recorded/);
    expect(prometheus.asked[0]).toContain('deployment=~"reviews-canary|reviews-v1"');
    expect(prometheus.asked.at(-1)).toBe(
      'sum(rate(response_total{deployment="reviews-canary",status_code=~"5.."}[10s]))',
    );
  });

  it("keeps Istio's queries for a plan without a metrics source", async () => {
    const prometheus = new RecordedPrometheus(new Map());
    const rollout = judged("reviews");
    delete rollout.plan.analysis?.metrics;
    const istio = new PrometheusMetricsProvider(prometheus, { subsets: { type: "workload" } });
    await expect(istio.snapshot(rollout, 60, 0)).rejects.toThrow(/not recorded/);
    expect(prometheus.asked.every((promql) => promql.includes("istio_"))).toBe(true);
    expect(prometheus.asked[0]).toContain('destination_workload=~"reviews-v2|reviews-v1"');
  });
});
