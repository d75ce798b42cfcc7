import { CanaryError, ErrorCode, isCanaryError, asError } from "../errors.ts";
import type { MetricsProvider } from "../rollout/ports.ts";
import {
  MetricsMesh,
  type CustomCheck,
  type LatencyBucket,
  type MetricsSnapshot,
  type Rollout,
  type SubsetMetrics,
  type Target,
} from "../rollout/types.ts";
import {
  DEFAULT_REPORTER,
  istioQueries,
  renderCustomQuery,
  subsetMatchFromLabels,
  subsetMatchFromWorkloads,
  type SubsetLabels,
} from "./istio-queries.ts";
import { linkerdQueries, linkerdSubsetMatch } from "./linkerd-queries.ts";
import { invalidQuery, type SnapshotQueries, type SubsetMatch } from "./promql.ts";
import type { PrometheusClient, QueryData } from "./prometheus-client.ts";

/**
 * Snapshot window. A `rate()` needs at least two samples inside its range, and one missed or late scrape
 * should not blank a tick, so the window is never shorter than four scrape intervals (the usual rule for rate
 * ranges, as in Grafana's `$__rate_interval`): window = max(requested window, 4 × scrape interval), rounded
 * up to whole seconds. The requested window is the plan's tick interval, so consecutive snapshots neither
 * overlap nor leave gaps. With the common 15 s scrape interval the floor is 60 s; in tests (1 s scrapes) 4 s.
 */
export function snapshotWindowSeconds(requestedSeconds: number, scrapeIntervalSeconds: number): number {
  const requested = Number.isFinite(requestedSeconds) ? requestedSeconds : 0;
  return Math.ceil(Math.max(requested, 4 * scrapeIntervalSeconds));
}

/**
 * How the two subsets are told apart on Istio metrics (Linkerd's are always told apart by Deployment).
 * - `subset-labels`: from the DestinationRule subset labels (`version: v2` → `destination_version="v2"`).
 * - `workload`: by workload (Deployment) name, `destination_workload="reviews-v2"`.
 */
export type SubsetMode =
  | {
      type: "subset-labels";
      /**
       * The DestinationRule subset labels of a rollout's target, as `TrafficRouter.inspect()` reports them
       * (`TargetInspection.subsetLabels`). Read once per snapshot; the caller may cache.
       */
      subsetLabels: (rollout: Rollout) => SubsetLabels | Promise<SubsetLabels>;
    }
  | {
      type: "workload";
      /**
       * Workload name of a subset when the plan's `metrics.deployments` does not name it; default
       * `${service}-${subset}` (`reviews-v2`, the Bookinfo convention). Linkerd's Deployments too.
       */
      workloadName?: (target: Target, subset: string) => string;
    };

export type PrometheusMetricsProviderOptions = {
  /** Istio `reporter` label; default `destination` (the server-side proxy, which sees every request). */
  reporter?: string;
  subsets: SubsetMode;
  /** Prometheus scrape interval of the Istio proxies, for the minimum window. Default 15 s. */
  scrapeIntervalSeconds?: number;
};

/** What the provider needs of a client: instant queries (a `PrometheusClient`, or a fake in tests). */
export type PrometheusQuerier = Pick<PrometheusClient, "query">;

type SubsetValues = { canary?: number; stable?: number };

/** A finite number, or undefined: NaN ("no requests", 0/0) and ±Inf are "no data", never 0. */
function finite(value: number | undefined): number | undefined {
  return value !== undefined && Number.isFinite(value) ? value : undefined;
}

/** Reads one sample per subset out of a `by (<label>)` vector. */
export function valuesBySubset(data: QueryData, match: SubsetMatch): SubsetValues {
  if (data.resultType !== "vector") {
    throw new CanaryError(
      ErrorCode.MetricsQueryInvalid,
      `expected an instant vector, got ${data.resultType}`,
    );
  }
  const out: SubsetValues = {};
  for (const sample of data.result) {
    const key = sample.metric[match.label];
    if (key === match.canary) out.canary = finite(sample.value);
    else if (key === match.stable) out.stable = finite(sample.value);
  }
  return out;
}

type SubsetBuckets = { canary?: LatencyBucket[]; stable?: LatencyBucket[] };

/**
 * Per-bucket request counts per subset out of a `by (le, <label>)` vector of cumulative counts: each bucket's
 * count is its `le` minus the previous one, named by the previous `le` (its lower bound, 0 for the first), rounded
 * to whole requests, empty buckets left out. A subset without series has no buckets (no data, never "no requests").
 */
export function bucketsBySubset(data: QueryData, match: SubsetMatch): SubsetBuckets {
  if (data.resultType !== "vector") {
    throw new CanaryError(
      ErrorCode.MetricsQueryInvalid,
      `expected an instant vector, got ${data.resultType}`,
    );
  }
  const cumulative = { canary: [] as [number, number][], stable: [] as [number, number][] };
  for (const sample of data.result) {
    const key = sample.metric[match.label];
    const which = key === match.canary ? "canary" : key === match.stable ? "stable" : undefined;
    const le = Number(sample.metric.le === "+Inf" ? Infinity : sample.metric.le);
    const value = sample.value;
    if (which === undefined || Number.isNaN(le) || value === undefined || !Number.isFinite(value)) continue;
    cumulative[which].push([le, value]);
  }
  const buckets = (rows: [number, number][]): LatencyBucket[] | undefined => {
    if (rows.length === 0) return undefined;
    rows.sort((a, b) => a[0] - b[0]);
    const out: LatencyBucket[] = [];
    let fromMs = 0;
    let below = 0;
    for (const [le, total] of rows) {
      // Cumulative counts never fall; extrapolated ones can, by a hair.
      const count = Math.round(Math.max(0, total - below));
      if (count > 0) out.push({ fromMs, count });
      below = Math.max(below, total);
      fromMs = le;
    }
    return out;
  };
  const out: SubsetBuckets = {};
  const canary = buckets(cumulative.canary);
  const stable = buckets(cumulative.stable);
  if (canary !== undefined) out.canary = canary;
  if (stable !== undefined) out.stable = stable;
  return out;
}

/** The one number a custom check's query answers: a scalar, or a vector of at most one sample. */
export function singleValue(data: QueryData, checkName: string): number | undefined {
  switch (data.resultType) {
    case "scalar":
      return finite(data.result.value);
    case "vector":
      if (data.result.length > 1) {
        throw new CanaryError(
          ErrorCode.MetricsQueryInvalid,
          `custom check "${checkName}" returned ${data.result.length} series; aggregate it to one (sum, max, ...)`,
        );
      }
      return finite(data.result[0]?.value);
    case "matrix":
    case "string":
      throw new CanaryError(
        ErrorCode.MetricsQueryInvalid,
        `custom check "${checkName}" returned a ${data.resultType}; it must return one number`,
      );
  }
}

/**
 * A mesh's metrics for a rollout's canary and stable subsets from Prometheus: Istio's standard metrics, or the
 * Linkerd proxy's when the plan's analysis says `metrics.mesh: linkerd` (`#queries` is the one place that knows).
 *
 * One snapshot is six PromQL queries (request rate, success rate, p50, p90, p99, and the latency histogram's
 * bucket counts for the statistical judge), each covering both subsets, plus one per custom check, all run
 * concurrently and evaluated at the same instant. Requests in the window are rate × window (what `increase()`
 * computes) and errors requests × (1 - success rate), so no query for either.
 *
 * Outcomes: Prometheus unreachable / timing out / 5xx → a snapshot with `unavailable` set (data: the verdict is
 * inconclusive); a query Prometheus rejects as malformed, or a subset mapping that cannot work
 * (`metrics_query_invalid`) → throws, because our configuration is wrong and no tick will fix it.
 *
 * Batching (DESIGN: 1,000 live rollouts per worker). The queries are shaped so that they can be shared: dropping
 * the service/subset matchers and grouping `by (destination_service_namespace, destination_service_name,
 * destination_version)` answers every rollout's subsets in one query per metric and window, e.g.
 * `sum by (destination_service_namespace, destination_service_name, destination_version)
 * (rate(istio_requests_total{reporter="destination"}[60s]))`. A batcher would collect the rollouts due within
 * a tick period, group them by window, subset label and reporter, run those six queries once (optionally with
 * a `destination_service_name=~"a|b|c"` matcher to bound the answer) and hand each rollout its rows. It is not
 * implemented: ticks of different rollouts are not aligned (each has its own interval and start), so today's
 * 6 small queries per tick (~100 queries/s for 1,000 rollouts on 60 s intervals) are cheaper than the
 * coordination; the client's keep-alive pool bounds the connections.
 */
export class PrometheusMetricsProvider implements MetricsProvider {
  readonly #client: PrometheusQuerier;
  readonly #reporter: string;
  readonly #subsets: SubsetMode;
  readonly #scrapeIntervalSeconds: number;

  constructor(client: PrometheusQuerier, options: PrometheusMetricsProviderOptions) {
    this.#client = client;
    this.#reporter = options.reporter ?? DEFAULT_REPORTER;
    this.#subsets = options.subsets;
    this.#scrapeIntervalSeconds = options.scrapeIntervalSeconds ?? 15;
  }

  async snapshot(rollout: Rollout, windowSeconds: number, now: number): Promise<MetricsSnapshot> {
    const window = snapshotWindowSeconds(windowSeconds, this.#scrapeIntervalSeconds);
    const base = {
      at: now,
      windowSeconds: window,
      canaryWeight: rollout.appliedWeight,
    };
    const { target } = rollout;
    const { match, queries } = await this.#queries(rollout, window);
    const customChecks: CustomCheck[] = rollout.plan.analysis?.customChecks ?? [];
    const customQueries = customChecks.map((check) =>
      renderCustomQuery(check.query, {
        namespace: target.namespace,
        service: target.service,
        canary: match.canary,
        stable: match.stable,
        windowSeconds: window,
      }),
    );

    const run = (promql: string): Promise<QueryData> => this.#client.query(promql, now).then((r) => r.data);
    const settled = await Promise.allSettled([
      run(queries.requestRate),
      run(queries.successRate),
      run(queries.p50),
      run(queries.p90),
      run(queries.p99),
      run(queries.latencyBuckets),
      ...customQueries.map(run),
    ]);

    const failures = settled.flatMap((s) => (s.status === "rejected" ? [asError(s.reason)] : []));
    const invalid = failures.find((e) => isCanaryError(e, ErrorCode.MetricsQueryInvalid));
    if (invalid !== undefined) throw invalid;
    const other = failures[0];
    if (other !== undefined) {
      if (isCanaryError(other, ErrorCode.MetricsUnavailable)) {
        return { ...base, canary: {}, stable: {}, unavailable: other.message };
      }
      throw other;
    }

    // No failures: every answer is there.
    const answers = settled.map((s) => (s.status === "fulfilled" ? s.value : undefined));
    const answer = (i: number): QueryData => answers[i] as QueryData;
    const rate = valuesBySubset(answer(0), match);
    const success = valuesBySubset(answer(1), match);
    const p50 = valuesBySubset(answer(2), match);
    const p90 = valuesBySubset(answer(3), match);
    const p99 = valuesBySubset(answer(4), match);
    const latency = bucketsBySubset(answer(5), match);
    const subset = (which: "canary" | "stable"): SubsetMetrics => {
      const requestRate = rate[which];
      const successRate = success[which];
      // What increase() over the window would answer, without another query.
      const requests = requestRate === undefined ? undefined : Math.round(requestRate * window);
      const latencyBuckets = latency[which];
      return {
        requestRate,
        successRate,
        p50Ms: p50[which],
        p90Ms: p90[which],
        p99Ms: p99[which],
        requests,
        ...(requests !== undefined && successRate !== undefined
          ? { errors: Math.round(requests * (1 - successRate)) }
          : {}),
        ...(latencyBuckets !== undefined ? { latencyBuckets } : {}),
      };
    };
    const snapshot: MetricsSnapshot = { ...base, canary: subset("canary"), stable: subset("stable") };
    if (customChecks.length > 0) {
      snapshot.custom = Object.fromEntries(
        customChecks.map((check, i) => [check.name, singleValue(answer(6 + i), check.name)]),
      );
    }
    return snapshot;
  }

  /**
   * The seam between meshes: which queries, and which label tells the subsets apart in their answers. Everything
   * after it (reading the answers, the snapshot, the verdict) is the same for every mesh.
   */
  async #queries(
    rollout: Rollout,
    windowSeconds: number,
  ): Promise<{ match: SubsetMatch; queries: SnapshotQueries }> {
    const { target } = rollout;
    const mesh = rollout.plan.analysis?.metrics?.mesh ?? MetricsMesh.Istio;
    switch (mesh) {
      case MetricsMesh.Istio: {
        const match = await this.#istioSubsetMatch(rollout);
        const scope = {
          namespace: target.namespace,
          service: target.service,
          reporter: this.#reporter,
          subsets: match,
          windowSeconds,
        };
        return { match, queries: istioQueries(scope) };
      }
      case MetricsMesh.Linkerd: {
        const deployments = this.#deployments(rollout);
        const scope = { namespace: target.namespace, deployments, windowSeconds };
        return { match: linkerdSubsetMatch(deployments), queries: linkerdQueries(scope) };
      }
      default:
        throw invalidQuery(`${rollout.id} asks for metrics of an unknown mesh "${String(mesh)}"`);
    }
  }

  /** The Deployments of the canary and stable subsets: the plan's mapping, else the configured naming rule. */
  #deployments(rollout: Rollout): { canary: string; stable: string } {
    const { target } = rollout;
    const named = rollout.plan.analysis?.metrics?.deployments ?? {};
    const rule =
      (this.#subsets.type === "workload" ? this.#subsets.workloadName : undefined) ??
      ((t: Target, subset: string) => `${t.service}-${subset}`);
    const of = (subset: string): string => named[subset] ?? rule(target, subset);
    return { canary: of(target.canarySubset), stable: of(target.stableSubset) };
  }

  async #istioSubsetMatch(rollout: Rollout): Promise<SubsetMatch> {
    switch (this.#subsets.type) {
      case "subset-labels":
        return subsetMatchFromLabels(rollout.target, await this.#subsets.subsetLabels(rollout));
      case "workload":
        return subsetMatchFromWorkloads(this.#deployments(rollout));
    }
  }
}
