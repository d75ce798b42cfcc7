import { describe, expect, it } from "vitest";
import { isCanaryError } from "../../src/errors.ts";
import { escapeRegex, promDuration, promString } from "../../src/metrics/promql.ts";
import {
  istioQueries,
  latencyQuantileQuery,
  renderCustomQuery,
  requestRateQuery,
  subsetMatchFromLabels,
  subsetMatchFromWorkloads,
  successRateQuery,
  type IstioQueryScope,
} from "../../src/metrics/istio-queries.ts";

const reviews: IstioQueryScope = {
  namespace: "default",
  service: "reviews",
  reporter: "destination",
  subsets: { label: "destination_version", canary: "v2", stable: "v1" },
  windowSeconds: 60,
};

const SEL =
  '{reporter="destination",destination_service_namespace="default",destination_service_name="reviews",' +
  'destination_version=~"v2|v1"}';

function expectInvalid(fn: () => unknown, message: RegExp): void {
  try {
    fn();
  } catch (error) {
    expect(isCanaryError(error, "metrics_query_invalid")).toBe(true);
    expect((error as Error).message).toMatch(message);
    return;
  }
  throw new Error("expected a metrics_query_invalid error");
}

describe("Istio PromQL builders", () => {
  it("request rate: one query for both subsets, grouped by the subset label", () => {
    expect(requestRateQuery(reviews)).toBe(
      `sum by (destination_version) (rate(istio_requests_total${SEL}[60s]))`,
    );
  });

  it("success rate: non-5xx share, falling back to 0 for a subset that only answered 5xx", () => {
    const ok = SEL.replace(/}$/, ',response_code!~"5.."}');
    const total = `sum by (destination_version) (rate(istio_requests_total${SEL}[60s]))`;
    expect(successRateQuery(reviews)).toBe(
      `(sum by (destination_version) (rate(istio_requests_total${ok}[60s])) or 0 * ${total}) / ${total}`,
    );
  });

  it.each([
    [0.5, "0.5"],
    [0.9, "0.9"],
    [0.99, "0.99"],
  ])("latency quantile %s from the duration histogram, by (le, label)", (q, text) => {
    expect(latencyQuantileQuery(reviews, q)).toBe(
      `histogram_quantile(${text}, sum by (le, destination_version) ` +
        `(rate(istio_request_duration_milliseconds_bucket${SEL}[60s])))`,
    );
  });

  it("istioQueries bundles the six queries of a snapshot", () => {
    const q = istioQueries(reviews);
    expect(Object.keys(q)).toEqual(["requestRate", "successRate", "p50", "p90", "p99", "latencyBuckets"]);
    expect(q.latencyBuckets).toBe(
      "sum by (le, destination_version) (increase(istio_request_duration_milliseconds_bucket" +
        '{reporter="destination",destination_service_namespace="default",destination_service_name="reviews",' +
        'destination_version=~"v2|v1"}[60s]))',
    );
    expect(q.p99).toBe(latencyQuantileQuery(reviews, 0.99));
  });

  it("workload mode selects destination_workload", () => {
    const scope = {
      ...reviews,
      subsets: subsetMatchFromWorkloads({ canary: "reviews-v2", stable: "reviews-v1" }),
    };
    expect(requestRateQuery(scope)).toBe(
      "sum by (destination_workload) (rate(istio_requests_total" +
        '{reporter="destination",destination_service_namespace="default",destination_service_name="reviews",' +
        'destination_workload=~"reviews-v2|reviews-v1"}[60s]))',
    );
  });

  it("honours a configured reporter", () => {
    expect(requestRateQuery({ ...reviews, reporter: "source" })).toContain('{reporter="source",');
  });

  it("escapes label values for PromQL strings and subset values for the regex", () => {
    const scope: IstioQueryScope = {
      namespace: "team-a",
      service: 'we"ird\\svc',
      reporter: "destination",
      subsets: { label: "destination_version", canary: "v2.0+rc.1", stable: "v1|(all)" },
      windowSeconds: 30,
    };
    expect(requestRateQuery(scope)).toBe(
      "sum by (destination_version) (rate(istio_requests_total" +
        '{reporter="destination",destination_service_namespace="team-a",destination_service_name="we\\"ird\\\\svc",' +
        'destination_version=~"v2\\\\.0\\\\+rc\\\\.1|v1\\\\|\\\\(all\\\\)"}[30s]))',
    );
  });

  it("rounds the window up to whole seconds and refuses a zero window (the `[0s]` bug)", () => {
    expect(promDuration(59.2)).toBe("60s");
    expectInvalid(() => requestRateQuery({ ...reviews, windowSeconds: 0 }), /positive/);
    expectInvalid(() => promDuration(Number.NaN), /positive/);
  });

  it("refuses scopes that cannot tell the subsets apart or would match unlabelled series", () => {
    expectInvalid(
      () =>
        requestRateQuery({
          ...reviews,
          subsets: { label: "destination_version", canary: "v1", stable: "v1" },
        }),
      /cannot be told apart/,
    );
    expectInvalid(
      () =>
        requestRateQuery({ ...reviews, subsets: { label: "destination_version", canary: "", stable: "v1" } }),
      /empty/,
    );
    expectInvalid(
      () =>
        requestRateQuery({
          ...reviews,
          subsets: { label: "destination-version", canary: "v2", stable: "v1" },
        }),
      /label name/,
    );
    expectInvalid(() => latencyQuantileQuery(reviews, 1), /quantile/);
  });
});

describe("promString / escapeRegex", () => {
  it.each([
    ["plain", '"plain"'],
    ['a"b', '"a\\"b"'],
    ["a\\b", '"a\\\\b"'],
    ["line\nbreak\ttab\r", '"line\\nbreak\\ttab\\r"'],
    ["\u0001", '"\\x01"'],
    ["ünï-标签", '"ünï-标签"'],
  ])("%j → %s", (value, literal) => {
    expect(promString(value)).toBe(literal);
  });

  it("quotes every RE2 metacharacter like Go's regexp.QuoteMeta", () => {
    expect(escapeRegex("\\.+*?()|[]{}^$-_a")).toBe("\\\\\\.\\+\\*\\?\\(\\)\\|\\[\\]\\{\\}\\^\\$-_a");
  });
});

describe("subset mapping", () => {
  const target = { canarySubset: "v2", stableSubset: "v1" };

  it("maps DestinationRule `version` labels to destination_version", () => {
    expect(
      subsetMatchFromLabels(target, { v1: { version: "v1" }, v2: { version: "v2" }, v3: { version: "v3" } }),
    ).toEqual({
      label: "destination_version",
      canary: "v2",
      stable: "v1",
    });
  });

  it("uses the label value, not the subset name", () => {
    const labels = {
      stable: { app: "reviews", version: "1.4.0" },
      canary: { app: "reviews", version: "1.5.0-rc1" },
    };
    expect(subsetMatchFromLabels({ canarySubset: "canary", stableSubset: "stable" }, labels)).toEqual({
      label: "destination_version",
      canary: "1.5.0-rc1",
      stable: "1.4.0",
    });
  });

  it("maps the canonical revision label", () => {
    const key = "service.istio.io/canonical-revision";
    expect(subsetMatchFromLabels(target, { v1: { [key]: "r1" }, v2: { [key]: "r2" } })).toEqual({
      label: "destination_canonical_revision",
      canary: "r2",
      stable: "r1",
    });
  });

  it("refuses unknown subsets and labels Istio does not report", () => {
    expectInvalid(() => subsetMatchFromLabels(target, { v1: { version: "v1" } }), /"v2" is not defined/);
    expectInvalid(
      () => subsetMatchFromLabels(target, { v1: { track: "stable" }, v2: { track: "canary" } }),
      /workload subset mode/,
    );
    expectInvalid(
      () =>
        subsetMatchFromLabels(target, {
          v1: { version: "v1" },
          v2: { "service.istio.io/canonical-revision": "r2" },
        }),
      /different labels/,
    );
  });
});

describe("custom check templates", () => {
  const vars = { namespace: "default", service: "reviews", canary: "v2", stable: "v1", windowSeconds: 120 };

  it("fills every placeholder, with or without spaces", () => {
    expect(
      renderCustomQuery(
        'sum(rate(app_errors_total{namespace="{{namespace}}",app="{{ service }}",version="{{canary}}"}[{{interval}}]))' +
          ' / sum(rate(app_errors_total{version="{{stable}}"}[{{interval}}]))',
        vars,
      ),
    ).toBe(
      'sum(rate(app_errors_total{namespace="default",app="reviews",version="v2"}[120s]))' +
        ' / sum(rate(app_errors_total{version="v1"}[120s]))',
    );
  });

  it("escapes values for the inside of a PromQL string", () => {
    expect(
      renderCustomQuery('x{a="{{service}}",b="{{canary}}"}', { ...vars, service: 'a"b', canary: "c\\d" }),
    ).toBe('x{a="a\\"b",b="c\\\\d"}');
  });

  it("refuses an unknown placeholder", () => {
    expectInvalid(() => renderCustomQuery('up{x="{{pod}}"}', vars), /unknown placeholder \{\{pod\}\}/);
  });
});
