import {
  checkLabelValue,
  checkQuantile,
  checkSubsetMatch,
  promDuration,
  promString,
  subsetMatcher,
  type SnapshotQueries,
  type SubsetMatch,
} from "./promql.ts";

/**
 * PromQL for the Linkerd proxy's metrics, built purely from a namespace, two Deployments and a window.
 *
 * The series are the ones Flagger's Linkerd observer reads (fluxcd/flagger `pkg/metrics/observers/linkerd.go`):
 * `response_total` and `response_latency_ms_bucket` as reported by the server-side proxy (`direction="inbound"`),
 * in the pod's `namespace`, by its `deployment` (labels the linkerd-viz Prometheus adds from the pod), success
 * being `classification!="failure"`. Flagger asks once per Deployment; here one query covers both, grouped
 * `by (deployment)`, so the answer carries one sample per subset, as with Istio.
 */

export const LINKERD_RESPONSE_TOTAL = "response_total";
export const LINKERD_RESPONSE_LATENCY_BUCKET = "response_latency_ms_bucket";
/** The label a subset is told apart by: the Deployment of the pod whose proxy answered. */
export const LINKERD_SUBSET_LABEL = "deployment";

export type LinkerdQueryScope = {
  namespace: string;
  /** Deployment names, e.g. `{ canary: "reviews-v2", stable: "reviews-v1" }`. */
  deployments: { canary: string; stable: string };
  windowSeconds: number;
};

/** The subset match of a Linkerd scope: `deployment="reviews-v2"` against `deployment="reviews-v1"`. */
export function linkerdSubsetMatch(deployments: { canary: string; stable: string }): SubsetMatch {
  return { label: LINKERD_SUBSET_LABEL, canary: deployments.canary, stable: deployments.stable };
}

function checkScope(scope: LinkerdQueryScope): SubsetMatch {
  checkLabelValue(scope.namespace, "namespace");
  const match = linkerdSubsetMatch(scope.deployments);
  checkSubsetMatch(match);
  return match;
}

/** `{namespace="ns",deployment=~"reviews-v2|reviews-v1",direction="inbound"}` */
function selector(scope: LinkerdQueryScope, match: SubsetMatch, extra: string[] = []): string {
  const matchers = [
    `namespace=${promString(scope.namespace)}`,
    subsetMatcher(match),
    'direction="inbound"',
    ...extra,
  ];
  return `{${matchers.join(",")}}`;
}

/**
 * Every query of one snapshot. The request rate counts responses (`response_total`, as Flagger's success rate
 * does) rather than `request_total`, so requests and errors in a window come from one counter. The success
 * rate falls back to `0 * total` for a Deployment whose every answer failed, so it reads 0 rather than "no
 * data"; with no responses it is 0/0 = NaN, "no data".
 */
export function linkerdQueries(scope: LinkerdQueryScope): SnapshotQueries {
  const match = checkScope(scope);
  const w = promDuration(scope.windowSeconds);
  const by = `sum by (${LINKERD_SUBSET_LABEL})`;
  const byLe = `sum by (le, ${LINKERD_SUBSET_LABEL})`;
  const responses = (extra: string[] = []) =>
    `rate(${LINKERD_RESPONSE_TOTAL}${selector(scope, match, extra)}[${w}])`;
  const buckets = `${LINKERD_RESPONSE_LATENCY_BUCKET}${selector(scope, match)}[${w}]`;
  const total = `${by} (${responses()})`;
  const ok = `${by} (${responses(['classification!="failure"'])})`;
  const quantile = (q: number): string => {
    checkQuantile(q);
    return `histogram_quantile(${String(q)}, ${byLe} (rate(${buckets})))`;
  };
  return {
    requestRate: total,
    successRate: `(${ok} or 0 * ${total}) / ${total}`,
    p50: quantile(0.5),
    p90: quantile(0.9),
    p99: quantile(0.99),
    latencyBuckets: `${byLe} (increase(${buckets}))`,
  };
}
