import { describe, expect, it } from "vitest";
import { ErrorCode } from "../../src/errors.ts";
import { isSameHost, normalizeHost, serviceOfHost } from "../../src/k8s/istio-host.ts";
import {
  baselineShape,
  canaryWeightOf,
  describeWeights,
  headerRouteFor,
  httpRoutes,
  routeAtWeight,
  selectManagedRoute,
} from "../../src/k8s/virtual-service-route.ts";
import { headerRouteName } from "../../src/k8s/route-rules.ts";
import { BOOKINFO, istioObject, reviewsTarget } from "../support/istio-fixtures.ts";
import { thrown } from "../support/errors.ts";

const allV1 = () => istioObject(`${BOOKINFO}virtual-service-all-v1.yaml`, "VirtualService", "reviews");
const jasonV2V3 = () =>
  istioObject(`${BOOKINFO}virtual-service-reviews-jason-v2-v3.yaml`, "VirtualService", "reviews");
const testV2 = () =>
  istioObject(`${BOOKINFO}virtual-service-reviews-test-v2.yaml`, "VirtualService", "reviews");

describe("normalizeHost", () => {
  it.each([
    ["reviews", "reviews.default.svc.cluster.local"],
    ["reviews.default", "reviews.default.svc.cluster.local"],
    ["reviews.default.svc", "reviews.default.svc.cluster.local"],
    ["reviews.default.svc.cluster.local", "reviews.default.svc.cluster.local"],
    ["Reviews.Default.svc.cluster.local.", "reviews.default.svc.cluster.local"],
    ["c-weighted.extsvc.com", "c-weighted.extsvc.com"],
    ["*.eu.bookinfo.com", "*.eu.bookinfo.com"],
  ])("%s → %s", (host, fqdn) => {
    expect(normalizeHost(host, "default")).toBe(fqdn);
  });

  it("treats the spellings of one service as the same host, and other namespaces as different", () => {
    expect(isSameHost("reviews", "reviews.default.svc.cluster.local", "default")).toBe(true);
    expect(isSameHost("reviews.default", "reviews", "default")).toBe(true);
    expect(isSameHost("reviews", "reviews.other.svc.cluster.local", "default")).toBe(false);
    expect(isSameHost("reviews", "ratings", "default")).toBe(false);
  });

  it("names the Service behind a cluster-local host", () => {
    expect(serviceOfHost("reviews", "default")).toEqual({ name: "reviews", namespace: "default" });
    expect(serviceOfHost("reviews.shop.svc.cluster.local", "default")).toEqual({
      name: "reviews",
      namespace: "shop",
    });
    expect(serviceOfHost("c-weighted.extsvc.com", "default")).toBeUndefined();
  });
});

describe("selectManagedRoute", () => {
  it("selects the one route to the stable subset (virtual-service-all-v1.yaml)", () => {
    const selected = selectManagedRoute(allV1(), reviewsTarget());
    expect(selected.index).toBe(0);
    expect(selected.route).toEqual({ route: [{ destination: { host: "reviews", subset: "v1" } }] });
  });

  it("selects by stable subset in a multi-route VirtualService with a header match (jason-v2-v3)", () => {
    expect(
      selectManagedRoute(jasonV2V3(), reviewsTarget({ stableSubset: "v3", canarySubset: "v2" })).index,
    ).toBe(1);
    expect(
      selectManagedRoute(jasonV2V3(), reviewsTarget({ stableSubset: "v2", canarySubset: "v3" })).index,
    ).toBe(0);
  });

  it("matches the FQDN spelling of the host (analyzer fixture reviews-fqdn)", () => {
    const vs = istioObject(
      "config-analysis/analyzer.virtualservice_destinationrules.yaml",
      "VirtualService",
      "reviews-fqdn",
    );
    expect(selectManagedRoute(vs, reviewsTarget({ virtualService: "reviews-fqdn" })).index).toBe(0);
  });

  it("selects by route name when --route is given", () => {
    const vs = allV1();
    (httpRoutes(vs)[0] as { name?: string }).name = "primary";
    expect(selectManagedRoute(vs, reviewsTarget({ route: "primary" })).index).toBe(0);
  });

  it("names the VirtualService and its routes when the named route is missing", () => {
    const error = thrown(() => selectManagedRoute(allV1(), reviewsTarget({ route: "nope" })));
    expect(error.code).toBe(ErrorCode.PreflightFailed);
    expect(error.message).toContain("VirtualService default/reviews has no HTTP route named 'nope'");
    expect(error.message).toContain("unnamed route http[0]");
  });

  it("names the candidates and --route when several routes send to the stable subset", () => {
    // virtual-service-reviews-test-v2.yaml: jason → v2, everyone else → v1. With v2 stable both... make v1 appear twice.
    const vs = testV2();
    const http = httpRoutes(vs) as { route: { destination: { subset: string } }[] }[];
    (http[0] as (typeof http)[number]).route[0]!.destination.subset = "v1";
    const error = thrown(() => selectManagedRoute(vs, reviewsTarget()));
    expect(error.code).toBe(ErrorCode.PreflightFailed);
    expect(error.message).toContain("has 2 HTTP routes sending traffic to host reviews subset v1");
    expect(error.message).toContain("unnamed route http[0], unnamed route http[1]");
    expect(error.message).toContain("--route");
  });

  it("fails naming what it looked for when no route sends to the stable subset", () => {
    const error = thrown(() => selectManagedRoute(jasonV2V3(), reviewsTarget({ stableSubset: "v1" })));
    expect(error.code).toBe(ErrorCode.PreflightFailed);
    expect(error.message).toContain(
      "VirtualService default/reviews has no HTTP route sending traffic to host reviews subset v1",
    );
    expect(error.message).toContain("unnamed route http[1] → v3=100");
  });

  it("fails for a VirtualService with only TCP routes (tcp-echo-20-v2.yaml)", () => {
    const vs = istioObject("samples/tcp-echo/tcp-echo-20-v2.yaml", "VirtualService", "tcp-echo");
    const error = thrown(() =>
      selectManagedRoute(vs, reviewsTarget({ virtualService: "tcp-echo", host: "tcp-echo" })),
    );
    expect(error.message).toBe("VirtualService default/tcp-echo has no HTTP routes (spec.http is empty)");
  });

  it("never selects canarybot's own header route", () => {
    const vs = allV1();
    const header = headerRouteFor(httpRoutes(vs)[0], reviewsTarget(), { name: "x-canary", value: "1" });
    // A header route that (wrongly) also sent to v1 would make selection ambiguous if it were a candidate.
    const disguised = { ...header, route: [{ destination: { host: "reviews", subset: "v1" } }] };
    (vs.spec as { http: unknown[] }).http.unshift(disguised);
    expect(selectManagedRoute(vs, reviewsTarget()).index).toBe(1);
    expect(thrown(() => selectManagedRoute(vs, reviewsTarget({ route: headerRouteName("v2") }))).code).toBe(
      ErrorCode.PreflightFailed,
    );
  });
});

describe("routeAtWeight", () => {
  const target = reviewsTarget();
  const baseline = () => selectManagedRoute(allV1(), target).route;

  it("is exactly the baseline at weight 0, byte for byte", () => {
    expect(JSON.stringify(routeAtWeight(baseline(), target, 0))).toBe(JSON.stringify(baseline()));
  });

  it.each([1, 5, 10, 25, 50, 75, 99])("at weight %i: stable 100 - w, canary w", (weight) => {
    expect(routeAtWeight(baseline(), target, weight)).toEqual({
      route: [
        { destination: { host: "reviews", subset: "v1" }, weight: 100 - weight },
        { destination: { host: "reviews", subset: "v2" }, weight },
      ],
    });
  });

  it("at weight 100 is one destination to the canary subset, as a person writes it (virtual-service-reviews-v3.yaml)", () => {
    const v3 = reviewsTarget({ canarySubset: "v3" });
    const reviewsV3 = istioObject(`${BOOKINFO}virtual-service-reviews-v3.yaml`, "VirtualService", "reviews");
    expect(routeAtWeight(baseline(), v3, 100)).toEqual(httpRoutes(reviewsV3)[0]);
    expect(JSON.stringify(routeAtWeight(baseline(), v3, 100))).toBe(
      '{"route":[{"destination":{"host":"reviews","subset":"v3"}}]}',
    );
  });

  it("reproduces Istio's own 90/10 sample at weight 10", () => {
    const ninetyTen = istioObject(
      `${BOOKINFO}virtual-service-reviews-90-10.yaml`,
      "VirtualService",
      "reviews",
    );
    expect(routeAtWeight(baseline(), target, 10)).toEqual(httpRoutes(ninetyTen)[0]);
  });

  it("keeps every other field of the route, and the destination port, untouched", () => {
    const vs = istioObject("samples/tests-testdata-config/virtual-service-all.yaml", "VirtualService", "all");
    const svc3 = reviewsTarget({ virtualService: "all", host: "service3.default.svc.cluster.local" });
    // Make the uri-prefix route a plain v1 route with extra fields, as a real managed route would be.
    const route = {
      name: "reviews-api",
      match: [{ uri: { prefix: "/reviews/" } }],
      timeout: "5s",
      retries: { attempts: 3, perTryTimeout: "2s" },
      headers: { request: { set: { "x-env": "prod" } } },
      route: [
        { destination: { port: { number: 81 }, host: "service3.default.svc.cluster.local", subset: "v1" } },
      ],
    };
    (vs.spec as { http: unknown[] }).http[1] = route;
    const selected = selectManagedRoute(vs, svc3);
    expect(selected.index).toBe(1);
    expect(routeAtWeight(selected.route, svc3, 30)).toEqual({
      ...route,
      route: [
        {
          destination: { port: { number: 81 }, host: "service3.default.svc.cluster.local", subset: "v1" },
          weight: 70,
        },
        {
          destination: { port: { number: 81 }, host: "service3.default.svc.cluster.local", subset: "v2" },
          weight: 30,
        },
      ],
    });
  });

  it("keeps the route's other fields and the destination port at 100 too, dropping only the stable destination", () => {
    const route = {
      name: "reviews-api",
      timeout: "5s",
      route: [{ destination: { port: { number: 81 }, host: "reviews", subset: "v1" }, weight: 100 }],
    };
    expect(routeAtWeight(route, target, 100)).toEqual({
      name: "reviews-api",
      timeout: "5s",
      route: [{ destination: { port: { number: 81 }, host: "reviews", subset: "v2" } }],
    });
  });

  it("counts destinations at weight 0 as carrying no traffic: the route an earlier promotion left starts the next release", () => {
    const leftByPromotion = {
      route: [
        { destination: { host: "reviews", subset: "v1" }, weight: 0 },
        { destination: { host: "reviews", subset: "v2" }, weight: 100 },
      ],
    };
    const next = reviewsTarget({ stableSubset: "v2", canarySubset: "v3" });
    expect(baselineShape(leftByPromotion, next)).toEqual({ stable: 1 });
    expect(canaryWeightOf(leftByPromotion, next)).toBe(0);
    expect(describeWeights(routeAtWeight(leftByPromotion, next, 10), next)).toBe("v1=0, v2=90, v3=10");
    expect(routeAtWeight(leftByPromotion, next, 100)).toEqual({
      route: [{ destination: { host: "reviews", subset: "v3" } }],
    });
    expect(routeAtWeight(leftByPromotion, next, 0)).toEqual(leftByPromotion);
    // Back to the older subset: its weight-0 entry becomes the canary entry.
    const back = reviewsTarget({ stableSubset: "v2", canarySubset: "v1" });
    expect(describeWeights(routeAtWeight(leftByPromotion, back, 30), back)).toBe("v1=30, v2=70");
  });

  it("accepts a baseline that already lists the canary at weight 0, keeping its order", () => {
    const start = {
      route: [
        { destination: { host: "reviews", subset: "v2" }, weight: 0 },
        { destination: { host: "reviews", subset: "v1" }, weight: 100 },
      ],
    };
    expect(routeAtWeight(start, target, 0)).toEqual(start);
    expect(routeAtWeight(start, target, 40)).toEqual({
      route: [
        { destination: { host: "reviews", subset: "v2" }, weight: 40 },
        { destination: { host: "reviews", subset: "v1" }, weight: 60 },
      ],
    });
    expect(routeAtWeight(start, target, 100)).toEqual({
      route: [{ destination: { host: "reviews", subset: "v2" } }],
    });
  });

  it("accepts an explicit weight 100 on a lone stable destination (rule-content-route.yaml)", () => {
    const vs = istioObject(
      "samples/tests-testdata-config/rule-content-route.yaml",
      "VirtualService",
      "headers-route",
    );
    const t = reviewsTarget({ virtualService: "headers-route", host: "c-weighted.extsvc.com" });
    const selected = selectManagedRoute(vs, t);
    expect(selected.index).toBe(1);
    expect(describeWeights(routeAtWeight(selected.route, t, 20), t)).toBe("v1=80, v2=20");
  });

  it.each([
    ["virtual-service-reviews-90-10.yaml", "already splits traffic: v1=90, v2=10"],
    ["virtual-service-reviews-80-20.yaml", "already splits traffic: v1=80, v2=20"],
  ])("refuses a baseline that already splits traffic (%s)", (file, why) => {
    const route = httpRoutes(istioObject(`${BOOKINFO}${file}`, "VirtualService", "reviews"))[0];
    const error = thrown(() => routeAtWeight(route, target, 10));
    expect(error.code).toBe(ErrorCode.PreflightFailed);
    expect(error.message).toContain(why);
    expect(error.message).toContain("VirtualService default/reviews");
  });

  it("refuses a baseline splitting to a third subset, and rejects weights outside 0..100", () => {
    const vs = istioObject(`${BOOKINFO}virtual-service-reviews-50-v3.yaml`, "VirtualService", "reviews");
    expect(thrown(() => baselineShape(httpRoutes(vs)[0], target)).message).toContain(
      "already splits traffic: v1=50, v3=50",
    );
    const threeWays = {
      route: [
        { destination: { host: "reviews", subset: "v1" }, weight: 90 },
        { destination: { host: "reviews", subset: "v3" }, weight: 0 },
        { destination: { host: "reviews", subset: "v2" }, weight: 10 },
      ],
    };
    expect(thrown(() => baselineShape(threeWays, target)).message).toContain(
      "already splits traffic: v1=90, v3=0, v2=10",
    );
    expect(thrown(() => routeAtWeight(baseline(), target, 101)).code).toBe(ErrorCode.InvalidInput);
    expect(thrown(() => routeAtWeight(baseline(), target, 2.5)).code).toBe(ErrorCode.InvalidInput);
  });

  it("reads the canary weight a route carries", () => {
    expect(canaryWeightOf(baseline(), target)).toBe(0);
    expect(canaryWeightOf(routeAtWeight(baseline(), target, 35), target)).toBe(35);
  });
});

describe("headerRouteFor", () => {
  const target = reviewsTarget();

  it("sends requests with the header to the canary, ahead of a match-less route", () => {
    const baseline = selectManagedRoute(allV1(), target).route;
    expect(headerRouteFor(baseline, target, { name: "end-user", value: "jason" })).toEqual({
      name: "canarybot-header-v2",
      match: [{ headers: { "end-user": { exact: "jason" } } }],
      route: [{ destination: { host: "reviews", subset: "v2" } }],
    });
  });

  it("ANDs the header into each of the managed route's match conditions and keeps its other fields", () => {
    const baseline = {
      name: "api",
      match: [{ uri: { prefix: "/api" } }, { headers: { "x-team": { exact: "a" } }, uri: { prefix: "/v2" } }],
      timeout: "3s",
      route: [{ destination: { host: "reviews", port: { number: 9080 }, subset: "v1" } }],
    };
    expect(headerRouteFor(baseline, target, { name: "x-canary", value: "yes" })).toEqual({
      name: "canarybot-header-v2",
      match: [
        { uri: { prefix: "/api" }, headers: { "x-canary": { exact: "yes" } } },
        { headers: { "x-team": { exact: "a" }, "x-canary": { exact: "yes" } }, uri: { prefix: "/v2" } },
      ],
      timeout: "3s",
      route: [{ destination: { host: "reviews", port: { number: 9080 }, subset: "v2" } }],
    });
  });

  it("refuses a header the managed route already matches on (jason-v2-v3, end-user)", () => {
    const vs = jasonV2V3();
    const t = reviewsTarget({ stableSubset: "v2", canarySubset: "v3" });
    const baseline = selectManagedRoute(vs, t).route;
    const error = thrown(() => headerRouteFor(baseline, t, { name: "End-User", value: "alice" }));
    expect(error.code).toBe(ErrorCode.InvalidInput);
    expect(error.message).toContain("already matches on header 'End-User'");
  });
});
