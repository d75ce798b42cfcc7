import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { istioFixturePath } from "./fixtures.ts";

/**
 * A stand-in for Istio sidecars' `/stats/prometheus`: `istio_requests_total` and the
 * `istio_request_duration_milliseconds` histogram for a few workloads, growing with time so rates are non-zero,
 * in the Prometheus text format, with Istio's real label set.
 */

/** Istio's default request-duration buckets (ms). */
export const ISTIO_BUCKETS_MS = [
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000,
  3600000,
];

/**
 * The labels (names, order and sample values) Istio's stats filter puts on `istio_requests_total`, read from
 * istio/proxy's own expectation (`server_request_total.yaml.tmpl`, a Go template over YAML). A value the
 * template computes (`request_protocol`, `response_code`, `grpc_response_status`) is read as "": the caller sets it.
 */
export function istioRequestLabels(): [string, string][] {
  const text = readFileSync(
    istioFixturePath("metrics/istio-proxy-testdata.server_request_total.yaml.tmpl"),
    "utf8",
  );
  const labels: [string, string | undefined][] = [];
  let depth = 0;
  for (const line of text.split("\n")) {
    if (/\{\{-?\s*if\b/.test(line)) depth++;
    else if (/\{\{-?\s*end\b/.test(line)) depth--;
    const name = /^\s*- name: (\S+)\s*$/.exec(line)?.[1];
    const value = /^\s*value: (.*)$/.exec(line)?.[1];
    const last = labels.at(-1);
    if (name !== undefined) labels.push([name, undefined]);
    else if (value !== undefined && last !== undefined && last[1] === undefined) {
      last[1] = depth > 0 || value.includes("{{") ? "" : value.replace(/^"(.*)"$/, "$1");
    }
  }
  return labels.map(([name, value]) => [name, value ?? ""]);
}

export type Workload = {
  namespace: string;
  service: string;
  /** destination_version */
  version: string;
  /** destination_workload */
  workload: string;
  reporter?: string;
  requestsPerSecond: number;
  /** Share of requests answered 503. */
  errorShare: number;
  /** Latency distribution: [milliseconds, share of requests]. Shares sum to 1. */
  latency: [number, number][];
};

function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function labelText(labels: [string, string][]): string {
  return `{${labels.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(",")}}`;
}

/** Text exposition of the workloads' counters after `elapsedSeconds`. Counters are whole numbers, as Envoy's. */
export function renderIstioMetrics(workloads: Workload[], elapsedSeconds: number): string {
  const base = istioRequestLabels();
  const requests: string[] = [];
  const durations: string[] = [];
  for (const w of workloads) {
    const total = Math.floor(w.requestsPerSecond * elapsedSeconds);
    const errors = Math.floor(total * w.errorShare);
    const labels = (code: string): [string, string][] =>
      base.map(([name, value]): [string, string] => {
        switch (name) {
          case "reporter":
            return [name, w.reporter ?? "destination"];
          case "destination_workload":
            return [name, w.workload];
          case "destination_workload_namespace":
          case "destination_service_namespace":
            return [name, w.namespace];
          case "destination_app":
          case "destination_canonical_service":
          case "destination_service_name":
            return [name, w.service];
          case "destination_service":
            return [name, `${w.service}.${w.namespace}.svc.cluster.local`];
          case "destination_version":
          case "destination_canonical_revision":
            return [name, w.version];
          case "request_protocol":
            return [name, "http"];
          case "response_code":
            return [name, code];
          default:
            return [name, value];
        }
      });
    for (const [code, count] of [
      ["200", total - errors],
      ["503", errors],
    ] as const) {
      requests.push(`istio_requests_total${labelText(labels(code))} ${count}`);
      // One histogram per response code, as Istio reports it; observations split by the latency shares.
      const observed = w.latency.map(([ms, share]): [number, number] => [ms, Math.floor(count * share)]);
      const n = observed.reduce((sum, [, c]) => sum + c, 0);
      for (const le of ISTIO_BUCKETS_MS) {
        const cumulative = observed.filter(([ms]) => ms <= le).reduce((sum, [, c]) => sum + c, 0);
        durations.push(
          `istio_request_duration_milliseconds_bucket${labelText([...labels(code), ["le", String(le)]])} ${cumulative}`,
        );
      }
      durations.push(
        `istio_request_duration_milliseconds_bucket${labelText([...labels(code), ["le", "+Inf"]])} ${n}`,
      );
      const sum = observed.reduce((s, [ms, c]) => s + ms * c, 0);
      durations.push(`istio_request_duration_milliseconds_sum${labelText(labels(code))} ${sum}`);
      durations.push(`istio_request_duration_milliseconds_count${labelText(labels(code))} ${n}`);
    }
  }
  return [
    "# TYPE istio_requests_total counter",
    ...requests,
    "# TYPE istio_request_duration_milliseconds histogram",
    ...durations,
    "",
  ].join("\n");
}

export type MetricsPage = { target: string; close(): Promise<void> };

/** Serves `render()` at `/metrics` on 127.0.0.1; `target` is `host:port` for a scrape config. */
export async function serveMetrics(render: () => string): Promise<MetricsPage> {
  const server: Server = createServer((req, res) => {
    if (req.url !== "/metrics") {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "Content-Type": "text/plain; version=0.0.4" });
    res.end(render());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    target: `127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
