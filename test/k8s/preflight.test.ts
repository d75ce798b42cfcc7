import { describe, expect, it } from "vitest";
import { ErrorCode } from "../../src/errors.ts";
import {
  formatLabels,
  managedRouteForRollout,
  subsetLabelsFor,
  subsetReadinessProblem,
} from "../../src/k8s/preflight.ts";
import { headerRouteFor, httpRoutes } from "../../src/k8s/virtual-service-route.ts";
import { BOOKINFO, istioDocuments, istioObject, reviewsTarget } from "../support/istio-fixtures.ts";
import { thrown } from "../support/errors.ts";

function deployment(name: string, labels: Record<string, string>, readyReplicas?: number) {
  return {
    metadata: { name, namespace: "default" },
    spec: { template: { metadata: { labels } } },
    status: readyReplicas === undefined ? {} : { readyReplicas },
  };
}

const bookinfoRules = istioDocuments(`${BOOKINFO}destination-rule-all.yaml`);

describe("managedRouteForRollout", () => {
  const allV1 = () => istioObject(`${BOOKINFO}virtual-service-all-v1.yaml`, "VirtualService", "reviews");

  it("returns the selected route when it can start a rollout", () => {
    expect(managedRouteForRollout(allV1(), reviewsTarget()).index).toBe(0);
  });

  it("refuses a header route left over from an earlier rollout", () => {
    const vs = allV1();
    const http = vs.spec.http as unknown[];
    http.unshift(headerRouteFor(httpRoutes(vs)[0], reviewsTarget(), { name: "x-canary", value: "1" }));
    const error = thrown(() => managedRouteForRollout(vs, reviewsTarget()));
    expect(error.code).toBe(ErrorCode.PreflightFailed);
    expect(error.message).toBe(
      "VirtualService default/reviews still has canarybot's header route 'canarybot-header-v2' (http[0]) " +
        "from an earlier rollout; roll that rollout back or remove the route",
    );
  });

  it("refuses a route that already splits traffic (virtual-service-reviews-80-20.yaml)", () => {
    const vs = istioObject(`${BOOKINFO}virtual-service-reviews-80-20.yaml`, "VirtualService", "reviews");
    expect(thrown(() => managedRouteForRollout(vs, reviewsTarget())).message).toBe(
      "VirtualService default/reviews unnamed route http[0] already splits traffic: v1=80, v2=20; a rollout starts " +
        "from a route that sends 100% to reviews subset v1 (other destinations, v2 among them, only at weight 0)",
    );
  });

  it("accepts the route an earlier promotion left with the old subset at weight 0 (v1=0, v2=100)", () => {
    const vs = allV1();
    (httpRoutes(vs)[0] as { route: unknown[] }).route = [
      { destination: { host: "reviews", subset: "v1" }, weight: 0 },
      { destination: { host: "reviews", subset: "v2" }, weight: 100 },
    ];
    expect(managedRouteForRollout(vs, reviewsTarget({ stableSubset: "v2", canarySubset: "v3" })).index).toBe(
      0,
    );
  });
});

describe("subsetLabelsFor", () => {
  it("finds the reviews subsets among bookinfo's DestinationRules", () => {
    expect(subsetLabelsFor(bookinfoRules, reviewsTarget())).toEqual({
      v1: { version: "v1" },
      v2: { version: "v2" },
    });
  });

  it("matches the host in any spelling (testdata destination-rule-all.yaml, FQDN host)", () => {
    const rules = istioDocuments("samples/tests-testdata-config/destination-rule-all.yaml");
    const target = reviewsTarget({ namespace: "testns", host: "destall.default" });
    expect(subsetLabelsFor(rules, target)).toEqual({ v1: { version: "v1" }, v2: { version: "v2" } });
  });

  it("names the host when no DestinationRule has it", () => {
    const error = thrown(() => subsetLabelsFor(bookinfoRules, reviewsTarget({ host: "payments" })));
    expect(error.code).toBe(ErrorCode.PreflightFailed);
    expect(error.message).toBe(
      "no DestinationRule in namespace default has host payments; define subsets v1 and v2 for it",
    );
  });

  it("names the missing subset and the ones that exist (analyzer fixture: reviews has only v1)", () => {
    const rules = istioDocuments("config-analysis/analyzer.virtualservice_destinationrules.yaml");
    const error = thrown(() => subsetLabelsFor(rules, reviewsTarget()));
    expect(error.code).toBe(ErrorCode.PreflightFailed);
    expect(error.message).toBe(
      "DestinationRule default/reviews has no subset 'v2' for host reviews (subsets: v1)",
    );
  });
});

describe("subsetReadinessProblem", () => {
  const labels = { version: "v2" };

  it("is satisfied by one Deployment with a ready replica", () => {
    const deployments = [
      deployment("reviews-v1", { app: "reviews", version: "v1" }, 1),
      deployment("reviews-v2", { app: "reviews", version: "v2" }, 2),
    ];
    expect(subsetReadinessProblem("v2", labels, deployments, { app: "reviews" })).toBeUndefined();
  });

  it("says no Deployment matches, with the labels it looked for", () => {
    expect(subsetReadinessProblem("v2", labels, [deployment("reviews-v1", { version: "v1" }, 1)])).toBe(
      "subset v2 (version=v2) has no ready pods: no Deployment with ready replicas matches " +
        "(no Deployment's pod template has version=v2)",
    );
  });

  it("names the matching Deployments that have no ready replica (readyReplicas omitted at 0)", () => {
    expect(
      subsetReadinessProblem("v2", labels, [deployment("reviews-v2", { app: "reviews", version: "v2" })]),
    ).toBe(
      "subset v2 (version=v2) has no ready pods: no Deployment with ready replicas matches (reviews-v2 has 0 ready)",
    );
  });

  it("requires the Service selector too (analyzer fixture: subset selects no httpbin pods)", () => {
    const [rule, service] = istioDocuments(
      "config-analysis/analyzer.destinationrule-subsets-not-select-pods.yaml",
    ) as {
      spec: { subsets?: { labels: Record<string, string> }[]; selector?: Record<string, string> };
    }[];
    const subsetLabels = rule?.spec.subsets?.[0]?.labels ?? {};
    const other = deployment("ratings-v3", { app: "ratings", version: "v3" }, 1);
    expect(subsetReadinessProblem("fake", subsetLabels, [other], service?.spec.selector)).toContain(
      "subset fake (version=v3) has no ready pods",
    );
    expect(subsetReadinessProblem("fake", subsetLabels, [other])).toBeUndefined();
  });

  it("formats labels, and an empty subset selector", () => {
    expect(formatLabels({ app: "reviews", version: "v2" })).toBe("app=reviews,version=v2");
    expect(formatLabels({})).toBe("no labels: every pod of the host");
  });
});
