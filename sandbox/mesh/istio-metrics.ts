import { Counter, Histogram, Registry } from "prom-client";
import type { RouteOutcome } from "./traffic-routing.ts";
import { serviceFqdn } from "./traffic-routing.ts";
import { workloadOf } from "./simulator.ts";
import type { MeshMetrics, Reporter } from "./simulator.ts";

/**
 * Istio's standard request metrics, named and labelled as the Istio proxy stats filter emits them (label names and
 * order from istio/proxy `testdata/metric/server_request_total.yaml.tmpl`, a superset of the Istio 1.5 scrape in
 * the shared fixtures), with Istio's default duration buckets.
 */
export const ISTIO_REQUEST_LABELS = [
  "reporter",
  "source_workload",
  "source_canonical_service",
  "source_canonical_revision",
  "source_workload_namespace",
  "source_principal",
  "source_app",
  "source_version",
  "source_cluster",
  "destination_workload",
  "destination_workload_namespace",
  "destination_principal",
  "destination_app",
  "destination_version",
  "destination_service",
  "destination_canonical_service",
  "destination_canonical_revision",
  "destination_service_name",
  "destination_service_namespace",
  "destination_cluster",
  "request_protocol",
  "response_code",
  "grpc_response_status",
  "response_flags",
  "connection_security_policy",
] as const;
export type IstioRequestLabel = (typeof ISTIO_REQUEST_LABELS)[number];
export type IstioRequestLabels = Record<IstioRequestLabel, string>;

/** Istio's default `istio_request_duration_milliseconds` buckets (+Inf is implicit). */
export const ISTIO_DURATION_BUCKETS_MS = [
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000,
  3600000,
] as const;

/** The calling workload (bookinfo's `productpage-v1` calls `reviews`). */
export type SourceWorkload = {
  workload: string;
  namespace: string;
  app: string;
  version: string;
  serviceAccount: string;
};

export const DEFAULT_SOURCE: SourceWorkload = {
  workload: "productpage-v1",
  namespace: "default",
  app: "productpage",
  version: "v1",
  serviceAccount: "bookinfo-productpage",
};

/** Istio's cluster id when none is configured. */
const CLUSTER = "Kubernetes";

export type IstioMetrics = {
  registry: Registry;
  requests: Counter<IstioRequestLabel>;
  duration: Histogram<IstioRequestLabel>;
};

/** A fresh registry (never prom-client's global one) holding the two request metrics. */
export function createIstioMetrics(): IstioMetrics {
  const registry = new Registry();
  const labelNames = [...ISTIO_REQUEST_LABELS];
  const requests = new Counter({
    name: "istio_requests_total",
    help: "Total requests.",
    labelNames,
    registers: [registry],
  });
  const duration = new Histogram({
    name: "istio_request_duration_milliseconds",
    help: "Request duration in milliseconds.",
    labelNames,
    buckets: [...ISTIO_DURATION_BUCKETS_MS],
    registers: [registry],
  });
  return { registry, requests, duration };
}

/**
 * Labels for one request as reported by `reporter`. A request answered before a workload (no route, fault abort)
 * has only a source report and unknown destination workload labels, as in a real mesh.
 */
export function istioRequestLabels(input: {
  reporter: Reporter;
  source: SourceWorkload;
  namespace: string;
  outcome: RouteOutcome;
  responseCode: number;
  responseFlags: string;
}): IstioRequestLabels {
  const { reporter, source, namespace, outcome } = input;
  const reached = outcome.kind === "upstream";
  const version = reached
    ? (outcome.labels.version ?? outcome.labels["app.kubernetes.io/version"] ?? "unknown")
    : "unknown";
  const revision = reached
    ? (outcome.labels["service.istio.io/canonical-revision"] ?? (version === "unknown" ? "latest" : version))
    : "latest";
  const app = reached ? (outcome.labels.app ?? outcome.service) : "unknown";
  const workload = reached ? workloadOf(outcome) : "unknown";
  return {
    reporter,
    source_workload: source.workload,
    source_canonical_service: source.app,
    source_canonical_revision: source.version,
    source_workload_namespace: source.namespace,
    source_principal: `spiffe://cluster.local/ns/${source.namespace}/sa/${source.serviceAccount}`,
    source_app: source.app,
    source_version: source.version,
    source_cluster: CLUSTER,
    destination_workload: workload,
    destination_workload_namespace: reached ? namespace : "unknown",
    destination_principal: reached
      ? `spiffe://cluster.local/ns/${namespace}/sa/bookinfo-${outcome.service}`
      : "unknown",
    destination_app: app,
    destination_version: version,
    destination_service: serviceFqdn(outcome.service, namespace),
    destination_canonical_service: reached
      ? (outcome.labels["service.istio.io/canonical-name"] ?? app)
      : "unknown",
    destination_canonical_revision: revision,
    destination_service_name: outcome.service,
    destination_service_namespace: namespace,
    destination_cluster: reached ? CLUSTER : "unknown",
    request_protocol: "http",
    response_code: String(input.responseCode),
    grpc_response_status: "",
    response_flags: input.responseFlags,
    // The client sidecar cannot know the server's policy and reports `unknown`; the server reports mTLS.
    connection_security_policy: reporter === "destination" ? "mutual_tls" : "unknown",
  };
}

/** Istio's metrics of the simulated requests, reported as the proxies of `source` and of `namespace`'s pods would. */
export function createIstioMeshMetrics(context: { source: SourceWorkload; namespace: string }): MeshMetrics {
  const metrics = createIstioMetrics();
  return {
    registry: metrics.registry,
    record({ reporter, outcome, code, flags, ms }) {
      const labels = istioRequestLabels({
        reporter,
        ...context,
        outcome,
        responseCode: code,
        responseFlags: flags,
      });
      metrics.requests.inc(labels);
      metrics.duration.observe(labels, ms);
    },
  };
}
