import type { Target } from "../rollout/types.ts";
import {
  checkLabelValue,
  checkQuantile,
  checkSubsetMatch,
  escapePromString,
  invalidQuery,
  promDuration,
  promString,
  subsetMatcher,
  type SnapshotQueries,
  type SubsetMatch,
} from "./promql.ts";

/**
 * PromQL for Istio's standard metrics, built purely from a target and a window.
 *
 * One query per metric covers both subsets: the subsets are told apart by one Istio metric label
 * (`destination_version`, `destination_workload`, ...) matched with an anchored regex of the two values and
 * kept in the `by (...)` clause, so the answer carries one sample per subset.
 */

/** Everything a query needs: which service, which reporter, which subsets, over which window. */
export type IstioQueryScope = {
  namespace: string;
  service: string;
  /** Istio `reporter` label: `destination` (the server-side proxy, default), `source`, or `waypoint` (ambient). */
  reporter: string;
  subsets: SubsetMatch;
  windowSeconds: number;
};

export const ISTIO_REQUESTS_TOTAL = "istio_requests_total";
export const ISTIO_REQUEST_DURATION_BUCKET = "istio_request_duration_milliseconds_bucket";
export const DEFAULT_REPORTER = "destination";

/**
 * How a DestinationRule subset's pod labels show up on Istio metrics. The first pod label a subset selects on
 * that appears here decides the metric label. Istio fills `destination_version` from the pod's `version` label
 * (`app.kubernetes.io/version` in newer releases) and `destination_canonical_revision` from
 * `service.istio.io/canonical-revision`.
 */
export const SUBSET_LABEL_TO_METRIC_LABEL: Readonly<Record<string, string>> = {
  version: "destination_version",
  "app.kubernetes.io/version": "destination_version",
  "service.istio.io/canonical-revision": "destination_canonical_revision",
};

/** DestinationRule subset labels, e.g. `{ v1: { version: "v1" }, v2: { version: "v2" } }` (TargetInspection). */
export type SubsetLabels = Record<string, Record<string, string>>;

/** Validates a scope once, so every builder can trust it. */
function checkScope(scope: IstioQueryScope): void {
  checkLabelValue(scope.namespace, "namespace");
  checkLabelValue(scope.service, "service");
  checkLabelValue(scope.reporter, "reporter");
  checkSubsetMatch(scope.subsets);
}

/** `{reporter="destination",destination_service_namespace="ns",destination_service_name="svc",<label>=~"v2|v1"}` */
function selector(scope: IstioQueryScope, extra: string[] = []): string {
  const matchers = [
    `reporter=${promString(scope.reporter)}`,
    `destination_service_namespace=${promString(scope.namespace)}`,
    `destination_service_name=${promString(scope.service)}`,
    subsetMatcher(scope.subsets),
    ...extra,
  ];
  return `{${matchers.join(",")}}`;
}

/** Requests per second reaching each subset. (Requests in the window = rate × window: `increase` is exactly that.) */
export function requestRateQuery(scope: IstioQueryScope): string {
  checkScope(scope);
  const w = promDuration(scope.windowSeconds);
  return `sum by (${scope.subsets.label}) (rate(${ISTIO_REQUESTS_TOTAL}${selector(scope)}[${w}]))`;
}

/**
 * Share of requests that did not answer 5xx, per subset, 0..1.
 *
 * The numerator falls back to `0 * total` for a subset whose every answer was a 5xx (it then has no non-5xx
 * series at all), so a fully failing canary reads 0 instead of "no data". With no requests in the window the
 * ratio is 0/0 = NaN, and with no series at all there is no sample: both are "no data", never 0 % or 100 %.
 */
export function successRateQuery(scope: IstioQueryScope): string {
  checkScope(scope);
  const w = promDuration(scope.windowSeconds);
  const by = `sum by (${scope.subsets.label})`;
  const total = `${by} (rate(${ISTIO_REQUESTS_TOTAL}${selector(scope)}[${w}]))`;
  const ok = `${by} (rate(${ISTIO_REQUESTS_TOTAL}${selector(scope, ['response_code!~"5.."'])}[${w}]))`;
  return `(${ok} or 0 * ${total}) / ${total}`;
}

/** Latency quantile `q` (0..1) in milliseconds per subset, from Istio's request duration histogram. */
export function latencyQuantileQuery(scope: IstioQueryScope, q: number): string {
  checkScope(scope);
  checkQuantile(q);
  const w = promDuration(scope.windowSeconds);
  return (
    `histogram_quantile(${String(q)}, sum by (le, ${scope.subsets.label}) ` +
    `(rate(${ISTIO_REQUEST_DURATION_BUCKET}${selector(scope)}[${w}])))`
  );
}

/**
 * Requests per subset and latency bucket in the window, cumulative by `le` as Istio's histogram counts them:
 * the samples of the statistical judge's rank test. `increase()` extrapolates to the window's edges, so the
 * counts are not whole numbers.
 */
export function latencyBucketsQuery(scope: IstioQueryScope): string {
  checkScope(scope);
  const w = promDuration(scope.windowSeconds);
  return `sum by (le, ${scope.subsets.label}) (increase(${ISTIO_REQUEST_DURATION_BUCKET}${selector(scope)}[${w}]))`;
}

/** Every query of one snapshot. */
export function istioQueries(scope: IstioQueryScope): SnapshotQueries {
  return {
    requestRate: requestRateQuery(scope),
    successRate: successRateQuery(scope),
    p50: latencyQuantileQuery(scope, 0.5),
    p90: latencyQuantileQuery(scope, 0.9),
    p99: latencyQuantileQuery(scope, 0.99),
    latencyBuckets: latencyBucketsQuery(scope),
  };
}

/**
 * Which Istio metric label tells the subsets apart, from the DestinationRule subset labels the router found.
 * `{ v1: { version: "v1" }, v2: { version: "v2" } }` with canary `v2` → `destination_version`, canary "v2",
 * stable "v1". Throws `metrics_query_invalid` when a subset is unknown or selects on no label Istio reports.
 */
export function subsetMatchFromLabels(
  target: Pick<Target, "canarySubset" | "stableSubset">,
  subsetLabels: SubsetLabels,
): SubsetMatch {
  const pick = (subset: string): { label: string; value: string } => {
    const labels = subsetLabels[subset];
    if (labels === undefined) {
      throw invalidQuery(
        `subset "${subset}" is not defined by the DestinationRule; cannot select its metrics`,
      );
    }
    for (const [podLabel, metricLabel] of Object.entries(SUBSET_LABEL_TO_METRIC_LABEL)) {
      const value = labels[podLabel];
      if (value !== undefined) return { label: metricLabel, value };
    }
    throw invalidQuery(
      `subset "${subset}" selects pods by ${JSON.stringify(labels)}, none of which Istio reports on its metrics ` +
        `(${Object.keys(SUBSET_LABEL_TO_METRIC_LABEL).join(", ")}); use the workload subset mode`,
    );
  };
  const canary = pick(target.canarySubset);
  const stable = pick(target.stableSubset);
  if (canary.label !== stable.label) {
    throw invalidQuery(
      `subsets "${target.canarySubset}" and "${target.stableSubset}" are told apart by different labels ` +
        `(${canary.label}, ${stable.label}); use the workload subset mode`,
    );
  }
  return { label: canary.label, canary: canary.value, stable: stable.value };
}

/** Subsets told apart by workload (Deployment) name: `destination_workload="reviews-v2"`. */
export function subsetMatchFromWorkloads(workloads: { canary: string; stable: string }): SubsetMatch {
  return { label: "destination_workload", canary: workloads.canary, stable: workloads.stable };
}

/** Values a custom check's `{{placeholder}}`s take. */
export type CustomQueryVars = {
  namespace: string;
  service: string;
  /** The value that tells the canary apart on metrics (`v2`, or `reviews-v2` in workload mode). */
  canary: string;
  stable: string;
  windowSeconds: number;
};

export const CUSTOM_QUERY_PLACEHOLDERS = ["namespace", "service", "canary", "stable", "interval"] as const;

const PLACEHOLDER = /\{\{\s*([^{}]*?)\s*\}\}/g;

/**
 * Fills a custom check's PromQL template. `{{namespace}} {{service}} {{canary}} {{stable}}` are escaped for the
 * inside of a double-quoted PromQL string (write `{version="{{canary}}"}`); `{{interval}}` is a duration (`60s`),
 * written bare (`[{{interval}}]`). An unknown placeholder is a config error (`metrics_query_invalid`).
 */
export function renderCustomQuery(template: string, vars: CustomQueryVars): string {
  const interval = promDuration(vars.windowSeconds);
  return template.replace(PLACEHOLDER, (_match, name: string) => {
    switch (name) {
      case "namespace":
        return escapePromString(vars.namespace);
      case "service":
        return escapePromString(vars.service);
      case "canary":
        return escapePromString(vars.canary);
      case "stable":
        return escapePromString(vars.stable);
      case "interval":
        return interval;
      default:
        throw invalidQuery(
          `unknown placeholder {{${name}}} in custom query; known: ${CUSTOM_QUERY_PLACEHOLDERS.map((p) => `{{${p}}}`).join(" ")}`,
        );
    }
  });
}
