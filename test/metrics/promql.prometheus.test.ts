import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isCanaryError } from "../../src/errors.ts";
import {
  istioQueries,
  renderCustomQuery,
  subsetMatchFromLabels,
  subsetMatchFromWorkloads,
  type IstioQueryScope,
} from "../../src/metrics/istio-queries.ts";
import { linkerdQueries } from "../../src/metrics/linkerd-queries.ts";
import type { SubsetMatch } from "../../src/metrics/promql.ts";
import { PrometheusClient } from "../../src/metrics/prometheus-client.ts";
import { startPrometheus, type TestPrometheus } from "../support/prometheus.ts";
import {
  renderIstioMetrics,
  serveMetrics,
  type MetricsPage,
  type Workload,
} from "../support/istio-exposition.ts";

/**
 * Every PromQL string canarybot builds is accepted by a real Prometheus (a `bad_data` answer fails the test),
 * and the escaping selects exactly the series it means to, odd characters included.
 */

const ODD_SERVICE = 'we"ird\\svc';
const ODD_NAMESPACE = "team-a";
const ODD_CANARY = "1.5.0-rc.1+build";
const ODD_STABLE = "a|b";

const targets: [string, string][] = [
  ["default", "reviews"],
  ["team-a", "my.svc-1"],
  [ODD_NAMESPACE, ODD_SERVICE],
  ['ns"quote', "ünï-côdé"],
  ["tab\tns", "new\nline"],
];

const subsetMatches: SubsetMatch[] = [
  subsetMatchFromLabels(
    { canarySubset: "v2", stableSubset: "v1" },
    { v1: { version: "v1" }, v2: { version: "v2" } },
  ),
  subsetMatchFromLabels(
    { canarySubset: "canary", stableSubset: "stable" },
    {
      stable: { "app.kubernetes.io/version": ODD_STABLE },
      canary: { "app.kubernetes.io/version": ODD_CANARY },
    },
  ),
  subsetMatchFromLabels(
    { canarySubset: "r2", stableSubset: "r1" },
    {
      r1: { "service.istio.io/canonical-revision": "[x]" },
      r2: { "service.istio.io/canonical-revision": "^y$ (z) {1,2} *?" },
    },
  ),
  subsetMatchFromLabels(
    { canarySubset: "v2", stableSubset: "v1" },
    { v1: { version: "back\\slash" }, v2: { version: 'qu"ote' } },
  ),
  subsetMatchFromWorkloads({ canary: "reviews-v2", stable: "reviews-v1" }),
  subsetMatchFromWorkloads({ canary: "svc.canary-ünï", stable: "svc\\primary" }),
];

const reporters = ["destination", "source", "waypoint"];
const windows = [1, 4, 59.5, 3600];

const scopes: IstioQueryScope[] = subsetMatches.flatMap((subsets, i) =>
  targets.map(([namespace, service], j) => ({
    namespace,
    service,
    subsets,
    reporter: reporters[(i + j) % reporters.length] ?? "destination",
    windowSeconds: windows[(i + j) % windows.length] ?? 60,
  })),
);

const templates = [
  'sum(rate(app_errors_total{namespace="{{namespace}}",app="{{service}}",version="{{canary}}"}[{{interval}}]))',
  'sum(rate(istio_requests_total{destination_service_name="{{ service }}",destination_version="{{stable}}",response_code=~"5.."}[{{interval}}]))' +
    ' / sum(rate(istio_requests_total{destination_service_name="{{service}}",destination_version="{{stable}}"}[{{interval}}]))',
  "histogram_quantile(0.95, sum by (le) (rate(istio_request_duration_milliseconds_bucket" +
    '{destination_service_namespace="{{namespace}}",destination_workload="{{canary}}"}[{{interval}}])))',
  'max_over_time(kube_deployment_status_replicas_unavailable{namespace="{{namespace}}",deployment=~"{{service}}-.*"}[{{interval}}])',
  "scalar(vector(1))",
];

let prometheus: TestPrometheus;
let page: MetricsPage;
let client: PrometheusClient;

/** Series with odd label values, and decoys an unescaped regex or string would also match. */
function workload(version: string, namespace = ODD_NAMESPACE, service = ODD_SERVICE): Workload {
  return {
    namespace,
    service,
    version,
    workload: `w-${version}`,
    requestsPerSecond: 10,
    errorShare: 0,
    latency: [[5, 1]],
  };
}
const EXPOSED: Workload[] = [
  workload(ODD_CANARY),
  workload(ODD_STABLE),
  workload("1x5x0-rcx1build"), // matches 1.5.0-rc.1+build if dots and + are not escaped
  workload("a"), // matches a|b if | is not escaped
  workload("b"),
  workload(ODD_CANARY, ODD_NAMESPACE, 'we"ird\\\\svc'), // a doubled backslash in the service name
];

beforeAll(async () => {
  const started = Date.now();
  page = await serveMetrics(() => renderIstioMetrics(EXPOSED, (Date.now() - started) / 1000));
  prometheus = await startPrometheus({ targets: [page.target] });
  client = new PrometheusClient({ url: prometheus.url, retries: 0, timeoutMs: 5_000 });
});

afterAll(async () => {
  await prometheus?.stop();
  await page?.close();
});

async function expectAccepted(promql: string): Promise<void> {
  try {
    await client.query(promql);
  } catch (error) {
    throw new Error(`Prometheus refused ${JSON.stringify(promql)}: ${String(error)}`, { cause: error });
  }
}

describe("PromQL accepted by a real Prometheus", () => {
  it(`all Istio queries for ${scopes.length} scopes (odd characters, three subset labels, both subset modes)`, async () => {
    const all = scopes.flatMap((scope) => Object.values(istioQueries(scope)));
    expect(all.length).toBe(scopes.length * 6);
    for (const promql of all) await expectAccepted(promql);
  });

  it("all Linkerd queries, for the same odd namespaces and the subsets' values as Deployment names", async () => {
    const all = subsetMatches.flatMap(({ canary, stable }, i) =>
      targets.map(([namespace], j) =>
        linkerdQueries({
          namespace,
          deployments: { canary, stable },
          windowSeconds: windows[(i + j) % windows.length] ?? 60,
        }),
      ),
    );
    for (const promql of all.flatMap((queries) => Object.values(queries))) {
      await expectAccepted(promql);
      expect(await client.formatQuery(promql)).toMatch(/response_/);
    }
  });

  it("Prometheus' own formatter parses them too", async () => {
    for (const scope of scopes.slice(0, 12)) {
      for (const promql of Object.values(istioQueries(scope))) {
        expect(await client.formatQuery(promql)).toMatch(/istio_request/);
      }
    }
  });

  it("custom check templates rendered with odd values", async () => {
    for (const template of templates) {
      for (const [namespace, service] of targets) {
        for (const { canary, stable } of subsetMatches) {
          await expectAccepted(
            renderCustomQuery(template, { namespace, service, canary, stable, windowSeconds: 90 }),
          );
        }
      }
    }
  });

  it("a broken query is `bad_data` from the real server and becomes metrics_query_invalid", async () => {
    for (const promql of [
      "sum(increase(istio_requests_total[0s]))",
      "coun(up)",
      'up{job="unterminated}',
      'up{job="\\q"}',
    ]) {
      const error = await client.query(promql).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isCanaryError(error, "metrics_query_invalid"), `${promql}: ${String(error)}`).toBe(true);
      expect((error as Error).message).toContain("bad_data");
    }
  });
});

describe("escaping selects exactly the intended series", () => {
  it("odd canary/stable values, quote and backslash in the service name", async () => {
    const scope: IstioQueryScope = {
      namespace: ODD_NAMESPACE,
      service: ODD_SERVICE,
      reporter: "destination",
      subsets: { label: "destination_version", canary: ODD_CANARY, stable: ODD_STABLE },
      windowSeconds: 60,
    };
    const q = istioQueries(scope);
    // Wait for two scrapes, so rate() has an answer.
    const deadline = Date.now() + 15_000;
    let versions: string[] = [];
    for (;;) {
      const response = await client.query(q.requestRate);
      if (response.data.resultType === "vector") {
        versions = response.data.result.map((s) => s.metric["destination_version"] ?? "?").sort();
      }
      if (versions.length > 0 || Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(versions).toEqual([ODD_CANARY, ODD_STABLE].sort());

    const success = await client.query(q.successRate);
    expect(success.data.resultType === "vector" && success.data.result.map((s) => s.value)).toEqual([1, 1]);

    // A custom template gets the same values through its placeholders.
    const custom = renderCustomQuery(
      'count(istio_requests_total{destination_service_namespace="{{namespace}}",destination_service_name="{{service}}",destination_version="{{canary}}"})',
      {
        namespace: ODD_NAMESPACE,
        service: ODD_SERVICE,
        canary: ODD_CANARY,
        stable: ODD_STABLE,
        windowSeconds: 60,
      },
    );
    const counted = await client.query(custom);
    // One series per response code (200 and 503) of the one canary workload: not the doubled-backslash decoy.
    expect(counted.data.resultType === "vector" && counted.data.result[0]?.value).toBe(2);
  });
});
