import { describe, expect, it } from "vitest";
import { CanaryError, isCanaryError } from "../../src/errors.ts";
import { istioQueries, subsetMatchFromLabels } from "../../src/metrics/istio-queries.ts";
import type { QueryData, QueryResponse } from "../../src/metrics/prometheus-client.ts";
import {
  PrometheusMetricsProvider,
  snapshotWindowSeconds,
  type PrometheusQuerier,
} from "../../src/metrics/prometheus-metrics-provider.ts";
import { makeAnalysisPolicy, makeRollout } from "../support/rollouts.ts";

const NOW = 1_700_000_000_000;
const LABELS = { v1: { app: "reviews", version: "v1" }, v2: { app: "reviews", version: "v2" } };
const rollout = makeRollout({ target: { stableSubset: "v1", canarySubset: "v2" }, appliedWeight: 25 });

/** A scripted Prometheus: answers each query from a function, records what was asked and when. */
class FakePrometheus implements PrometheusQuerier {
  readonly asked: { promql: string; time: number | undefined }[] = [];
  readonly #answer: (promql: string) => QueryData | Error;
  constructor(answer: (promql: string) => QueryData | Error) {
    this.#answer = answer;
  }
  query(promql: string, time?: number): Promise<QueryResponse> {
    this.asked.push({ promql, time });
    const data = this.#answer(promql);
    return data instanceof Error ? Promise.reject(data) : Promise.resolve({ data, warnings: [], infos: [] });
  }
}

const vector = (rows: [Record<string, string>, number][]): QueryData => ({
  resultType: "vector",
  result: rows.map(([metric, value]) => ({ metric, timestamp: NOW / 1000, value })),
});
const byVersion = (canary: number | undefined, stable: number | undefined): QueryData =>
  vector([
    ...(canary === undefined
      ? []
      : [[{ destination_version: "v2" }, canary] as [Record<string, string>, number]]),
    ...(stable === undefined
      ? []
      : [[{ destination_version: "v1" }, stable] as [Record<string, string>, number]]),
  ]);

/** Cumulative counts by `le` as `increase()` answers them: not whole numbers, and one dip from extrapolation. */
const BUCKETS = vector([
  [{ destination_version: "v2", le: "10" }, 30.4],
  [{ destination_version: "v2", le: "25" }, 120.2],
  [{ destination_version: "v2", le: "+Inf" }, 150.1],
  [{ destination_version: "v2", le: "100" }, 149.6],
  [{ destination_version: "v2", le: "50" }, 149.9],
  [{ destination_version: "v1", le: "25" }, 400],
  [{ destination_version: "v1", le: "+Inf" }, 450],
  [{ destination_version: "v3", le: "+Inf" }, 9],
]);

function provider(fake: PrometheusQuerier, scrapeIntervalSeconds = 15): PrometheusMetricsProvider {
  return new PrometheusMetricsProvider(fake, {
    subsets: { type: "subset-labels", subsetLabels: () => LABELS },
    scrapeIntervalSeconds,
  });
}

function scripted(
  overrides: Partial<
    Record<"requestRate" | "successRate" | "p50" | "p90" | "p99" | "latencyBuckets", QueryData | Error>
  > = {},
  window = 60,
) {
  const q = istioQueries({
    namespace: "default",
    service: "reviews",
    reporter: "destination",
    subsets: subsetMatchFromLabels({ canarySubset: "v2", stableSubset: "v1" }, LABELS),
    windowSeconds: window,
  });
  const answers = new Map<string, QueryData | Error>([
    [q.requestRate, overrides.requestRate ?? byVersion(2.5, 7.5)],
    [q.successRate, overrides.successRate ?? byVersion(0.98, 0.999)],
    [q.p50, overrides.p50 ?? byVersion(12, 10)],
    [q.p90, overrides.p90 ?? byVersion(40, 30)],
    [q.p99, overrides.p99 ?? byVersion(180, 150)],
    [q.latencyBuckets, overrides.latencyBuckets ?? BUCKETS],
  ]);
  return (promql: string): QueryData | Error =>
    answers.get(promql) ?? new Error(`unexpected query ${promql}`);
}

describe("snapshotWindowSeconds", () => {
  it.each([
    [60, 15, 60],
    [30, 15, 60],
    [0, 15, 60],
    [Number.NaN, 15, 60],
    [2, 1, 4],
    [10.2, 1, 11],
    [300, 30, 300],
  ])("requested %ss with %ss scrapes → %ss", (requested, scrape, window) => {
    expect(snapshotWindowSeconds(requested, scrape)).toBe(window);
  });
});

describe("PrometheusMetricsProvider", () => {
  it("maps one query per metric to canary and stable, all evaluated at `now`", async () => {
    const fake = new FakePrometheus(scripted());
    const snapshot = await provider(fake).snapshot(rollout, 60, NOW);
    expect(snapshot).toEqual({
      at: NOW,
      windowSeconds: 60,
      canaryWeight: 25,
      canary: {
        requestRate: 2.5,
        successRate: 0.98,
        p50Ms: 12,
        p90Ms: 40,
        p99Ms: 180,
        requests: 150,
        errors: 3,
        latencyBuckets: [
          { fromMs: 0, count: 30 },
          { fromMs: 10, count: 90 },
          { fromMs: 25, count: 30 },
        ],
      },
      stable: {
        requestRate: 7.5,
        successRate: 0.999,
        p50Ms: 10,
        p90Ms: 30,
        p99Ms: 150,
        requests: 450,
        errors: 0,
        latencyBuckets: [
          { fromMs: 0, count: 400 },
          { fromMs: 25, count: 50 },
        ],
      },
    });
    expect(fake.asked).toHaveLength(6);
    expect(new Set(fake.asked.map((a) => a.time))).toEqual(new Set([NOW]));
  });

  it("widens a short window to four scrape intervals and says so in the snapshot", async () => {
    const fake = new FakePrometheus(scripted({}, 60));
    const snapshot = await provider(fake).snapshot(rollout, 10, NOW);
    expect(snapshot.windowSeconds).toBe(60);
    expect(fake.asked.every((a) => a.promql.includes("[60s]"))).toBe(true);
  });

  it("missing series and NaN become undefined, never 0", async () => {
    const fake = new FakePrometheus(
      scripted({
        requestRate: byVersion(undefined, 7.5),
        successRate: byVersion(Number.NaN, 1),
        p99: byVersion(Number.POSITIVE_INFINITY, 150),
        p50: vector([]),
        latencyBuckets: vector([[{ destination_version: "v2", le: "+Inf" }, Number.NaN]]),
      }),
    );
    const snapshot = await provider(fake).snapshot(rollout, 60, NOW);
    expect(snapshot.canary).toEqual({
      requestRate: undefined,
      successRate: undefined,
      p50Ms: undefined,
      p90Ms: 40,
      p99Ms: undefined,
      requests: undefined,
    });
    expect(snapshot.stable.successRate).toBe(1);
    expect(snapshot.unavailable).toBeUndefined();
  });

  it("ignores series of other label values", async () => {
    const fake = new FakePrometheus(
      scripted({
        requestRate: vector([
          [{ destination_version: "v3" }, 99],
          [{ destination_version: "v2" }, 1],
          [{}, 5],
        ]),
      }),
    );
    const snapshot = await provider(fake).snapshot(rollout, 60, NOW);
    expect(snapshot.canary.requestRate).toBe(1);
    expect(snapshot.stable.requestRate).toBeUndefined();
  });

  it("Prometheus unavailable → a snapshot saying so (data, not a throw)", async () => {
    const down = new CanaryError("metrics_unavailable", "Prometheus /api/v1/query: ECONNREFUSED", {
      retryable: true,
    });
    const fake = new FakePrometheus(scripted({ p90: down }));
    const snapshot = await provider(fake).snapshot(rollout, 60, NOW);
    expect(snapshot).toEqual({
      at: NOW,
      windowSeconds: 60,
      canaryWeight: 25,
      canary: {},
      stable: {},
      unavailable: "Prometheus /api/v1/query: ECONNREFUSED",
    });
  });

  it("an invalid query (our config is wrong) throws, even when another query is merely unavailable", async () => {
    const fake = new FakePrometheus(
      scripted({
        p50: new CanaryError("metrics_unavailable", "down", { retryable: true }),
        p99: new CanaryError("metrics_query_invalid", "bad_data: parse error"),
      }),
    );
    await expect(provider(fake).snapshot(rollout, 60, NOW)).rejects.toSatisfy((e) =>
      isCanaryError(e, "metrics_query_invalid"),
    );
  });

  it("a subset mapping that cannot work throws metrics_query_invalid before querying", async () => {
    const fake = new FakePrometheus(scripted());
    const p = new PrometheusMetricsProvider(fake, {
      subsets: {
        type: "subset-labels",
        subsetLabels: () => Promise.resolve({ v1: { track: "stable" }, v2: { track: "canary" } }),
      },
    });
    await expect(p.snapshot(rollout, 60, NOW)).rejects.toSatisfy((e) =>
      isCanaryError(e, "metrics_query_invalid"),
    );
    expect(fake.asked).toHaveLength(0);
  });

  it("workload mode queries destination_workload with `<service>-<subset>` names by default", async () => {
    const fake = new FakePrometheus((promql) =>
      vector([
        [{ destination_workload: "reviews-v2" }, promql.startsWith("histogram_quantile") ? 100 : 0.5],
        [{ destination_workload: "reviews-v1" }, promql.startsWith("histogram_quantile") ? 90 : 0.25],
      ]),
    );
    const p = new PrometheusMetricsProvider(fake, { subsets: { type: "workload" }, reporter: "source" });
    const snapshot = await p.snapshot(rollout, 60, NOW);
    expect(fake.asked[0]?.promql).toContain('reporter="source"');
    expect(fake.asked[0]?.promql).toContain('destination_workload=~"reviews-v2|reviews-v1"');
    expect(snapshot.canary).toMatchObject({ requestRate: 0.5, p99Ms: 100, requests: 30 });
    expect(snapshot.stable).toMatchObject({ requestRate: 0.25, p99Ms: 90, requests: 15 });
  });

  it("workload names can be configured", async () => {
    const fake = new FakePrometheus(() => vector([]));
    const p = new PrometheusMetricsProvider(fake, {
      subsets: {
        type: "workload",
        workloadName: (t, subset) => `${t.service}-${subset === "v2" ? "canary" : "primary"}`,
      },
    });
    await p.snapshot(rollout, 60, NOW);
    expect(fake.asked[0]?.promql).toContain('destination_workload=~"reviews-canary|reviews-primary"');
  });

  describe("custom checks", () => {
    const withChecks = makeRollout({
      target: { stableSubset: "v1", canarySubset: "v2" },
      plan: {
        analysis: makeAnalysisPolicy({
          customChecks: [
            {
              name: "errors",
              query: 'sum(rate(app_errors_total{version="{{canary}}"}[{{interval}}]))',
              max: 1,
            },
            { name: "scalar", query: "scalar(vector(3))", min: 1 },
            { name: "empty", query: 'absent(up{job="{{service}}"}) * 0', max: 1 },
            { name: "nan", query: "vector(0) / 0", max: 1 },
          ],
        }),
      },
    });
    const base = scripted();
    const answer = (promql: string): QueryData | Error => {
      if (promql === 'sum(rate(app_errors_total{version="v2"}[60s]))') return vector([[{}, 0.25]]);
      if (promql === "scalar(vector(3))") return { resultType: "scalar", result: { timestamp: 1, value: 3 } };
      if (promql === 'absent(up{job="reviews"}) * 0') return vector([]);
      if (promql === "vector(0) / 0") return vector([[{}, Number.NaN]]);
      return base(promql);
    };

    it("renders the templates and returns one value per check (missing and NaN → undefined)", async () => {
      const fake = new FakePrometheus(answer);
      const snapshot = await provider(fake).snapshot(withChecks, 60, NOW);
      expect(snapshot.custom).toEqual({ errors: 0.25, scalar: 3, empty: undefined, nan: undefined });
      expect(fake.asked).toHaveLength(10);
    });

    it("a custom query answering several series is a config error", async () => {
      const fake = new FakePrometheus((promql) =>
        promql.startsWith("sum(rate(app_errors_total")
          ? vector([
              [{ pod: "a" }, 1],
              [{ pod: "b" }, 2],
            ])
          : answer(promql),
      );
      await expect(provider(fake).snapshot(withChecks, 60, NOW)).rejects.toThrow(
        /returned 2 series; aggregate it/,
      );
    });

    it("an unknown placeholder is a config error", async () => {
      const bad = makeRollout({
        target: { stableSubset: "v1", canarySubset: "v2" },
        plan: { analysis: makeAnalysisPolicy({ customChecks: [{ name: "x", query: 'up{pod="{{pod}}"}' }] }) },
      });
      await expect(provider(new FakePrometheus(answer)).snapshot(bad, 60, NOW)).rejects.toSatisfy((e) =>
        isCanaryError(e, "metrics_query_invalid"),
      );
    });
  });
});
