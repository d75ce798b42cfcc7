import { Counter, Histogram, Registry } from "prom-client";
import { hashSuffix } from "../kube/scenarios.ts";
import type { SourceWorkload } from "./istio-metrics.ts";
import { serviceFqdn } from "./traffic-routing.ts";
import { workloadOf } from "./simulator.ts";
import type { MeshMetrics, ProxyReport } from "./simulator.ts";

/**
 * The Linkerd proxy's HTTP metrics (`request_total`, `response_total`, `response_latency_ms`), named and labelled
 * as the linkerd-viz Prometheus stores them: the proxy's own labels (https://linkerd.io/2/reference/proxy-metrics/:
 * `direction`, `authority`, `tls`, `status_code`, `classification`, the `dst_*` labels of an outbound request)
 * and the pod's, which that Prometheus adds when it scrapes a proxy (`namespace`, `pod`, `deployment`,
 * `pod_template_hash`, `serviceaccount`, `control_plane_ns`). The server-side proxy reports a request as
 * `direction="inbound"`, the client's as `direction="outbound"`; an answer that never reached a pod (no route,
 * fault abort) only as outbound.
 */
export const LINKERD_LABELS = [
  "direction",
  "authority",
  "target_addr",
  "target_ip",
  "target_port",
  "tls",
  "client_id",
  "server_id",
  "srv_kind",
  "srv_name",
  "dst_namespace",
  "dst_deployment",
  "dst_pod",
  "dst_pod_template_hash",
  "dst_service",
  "dst_serviceaccount",
  "dst_control_plane_ns",
  "status_code",
  "classification",
  "namespace",
  "pod",
  "deployment",
  "pod_template_hash",
  "serviceaccount",
  "control_plane_ns",
] as const;
export type LinkerdLabel = (typeof LINKERD_LABELS)[number];
type LinkerdLabels = Partial<Record<LinkerdLabel, string>>;

/** The proxy's latency buckets, ms: 1-2-3-4-5 in each decade up to 50 s (+Inf is implicit). */
export const LINKERD_LATENCY_BUCKETS_MS = [
  1, 2, 3, 4, 5, 10, 20, 30, 40, 50, 100, 200, 300, 400, 500, 1000, 2000, 3000, 4000, 5000, 10000, 20000,
  30000, 40000, 50000,
] as const;

const CONTROL_PLANE_NS = "linkerd";
/** Bookinfo's container port. */
const PORT = "9080";

/** A pod of a Deployment, named as the Kubernetes sandbox names the first pod of its workloads. */
function podOf(deployment: string, namespace: string, serviceAccount: string): LinkerdLabels {
  const hash = hashSuffix(deployment, 10);
  return {
    namespace,
    pod: `${deployment}-${hash}-${hashSuffix(`${deployment}/0`, 5)}`,
    deployment,
    pod_template_hash: hash,
    serviceaccount: serviceAccount,
    control_plane_ns: CONTROL_PLANE_NS,
  };
}

function identity(serviceAccount: string, namespace: string): string {
  return `${serviceAccount}.${namespace}.serviceaccount.identity.${CONTROL_PLANE_NS}.cluster.local`;
}

/** A stable pod IP for a pod name, in the 10.244.0.0/16 pod network kind and kubeadm use. */
function podIp(pod: string): string {
  const digest = hashSuffix(pod, 2);
  return `10.244.${digest.charCodeAt(0) % 250}.${(digest.charCodeAt(1) % 250) + 2}`;
}

/** The labels of one report, without the response's (`status_code`, `classification`). */
export function linkerdRequestLabels(
  report: Pick<ProxyReport, "reporter" | "outcome">,
  context: { source: SourceWorkload; namespace: string },
): LinkerdLabels {
  const { outcome } = report;
  const { source, namespace } = context;
  const authority = `${serviceFqdn(outcome.service, namespace)}:${PORT}`;
  const client = podOf(source.workload, source.namespace, source.serviceAccount);
  const server =
    outcome.kind === "upstream"
      ? podOf(workloadOf(outcome), namespace, `bookinfo-${outcome.service}`)
      : undefined;
  if (report.reporter === "destination" && server !== undefined) {
    const ip = podIp(server.pod ?? "");
    return {
      direction: "inbound",
      authority,
      target_addr: `${ip}:${PORT}`,
      target_ip: ip,
      target_port: PORT,
      tls: "true",
      client_id: identity(source.serviceAccount, source.namespace),
      srv_kind: "default",
      srv_name: "all-unauthenticated",
      ...server,
    };
  }
  const outbound: LinkerdLabels = { direction: "outbound", authority, ...client };
  if (server === undefined) return { ...outbound, tls: "no_identity" };
  return {
    ...outbound,
    target_addr: `${podIp(server.pod ?? "")}:${PORT}`,
    tls: "true",
    server_id: identity(server.serviceaccount ?? "", namespace),
    dst_namespace: namespace,
    dst_deployment: server.deployment ?? "",
    dst_pod: server.pod ?? "",
    dst_pod_template_hash: server.pod_template_hash ?? "",
    dst_service: outcome.service,
    dst_serviceaccount: server.serviceaccount ?? "",
    dst_control_plane_ns: CONTROL_PLANE_NS,
  };
}

/** Linkerd's metrics of the simulated requests, reported as the proxies of `source` and of `namespace`'s pods would. */
export function createLinkerdMeshMetrics(context: {
  source: SourceWorkload;
  namespace: string;
}): MeshMetrics {
  const registry = new Registry();
  const labelNames = [...LINKERD_LABELS];
  const requests = new Counter({
    name: "request_total",
    help: "Total count of HTTP requests.",
    labelNames,
    registers: [registry],
  });
  const responses = new Counter({
    name: "response_total",
    help: "Total count of HTTP responses.",
    labelNames,
    registers: [registry],
  });
  const latency = new Histogram({
    name: "response_latency_ms",
    help: "Elapsed times between a request's headers being received and its response stream completing",
    labelNames,
    buckets: [...LINKERD_LATENCY_BUCKETS_MS],
    registers: [registry],
  });
  return {
    registry,
    record(report) {
      const labels = linkerdRequestLabels(report, context);
      const status = { ...labels, status_code: String(report.code) };
      requests.inc(labels);
      // The proxy's default classifier: a 5xx is a failure, every other answer a success.
      responses.inc({ ...status, classification: report.code >= 500 ? "failure" : "success" });
      latency.observe(status, report.ms);
    },
  };
}
