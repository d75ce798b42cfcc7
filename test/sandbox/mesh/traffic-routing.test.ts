import { describe, expect, it } from "vitest";
import { readManifests } from "../../../sandbox/kube/index.ts";
import { istioFixturePath } from "../../support/fixtures.ts";
import { seededRandom } from "../../../sandbox/mesh/prng.ts";
import {
  durationMs,
  hostMatchesService,
  matchesString,
  meshRoutes,
  routeRequest,
} from "../../../sandbox/mesh/traffic-routing.ts";
import type { MeshRoutes, RequestAttributes, RouteOutcome } from "../../../sandbox/mesh/traffic-routing.ts";

const NS = "default";
const bookinfo = (file: string): unknown[] =>
  readManifests(istioFixturePath(`samples/bookinfo-networking/${file}`));
const DESTINATION_RULES = bookinfo("destination-rule-all.yaml");

function kind(objects: unknown[], k: string): unknown[] {
  return objects.filter((o) => (o as { kind?: string }).kind === k);
}

function routesFrom(files: string[], services = ["reviews"]): MeshRoutes {
  const objects = files.flatMap(bookinfo);
  return meshRoutes({
    namespace: NS,
    services,
    virtualServices: kind(objects, "VirtualService"),
    destinationRules: [...DESTINATION_RULES, ...kind(objects, "DestinationRule")],
  });
}

function request(headers: Record<string, string> = {}): RequestAttributes {
  return {
    headers,
    method: "GET",
    path: "/reviews/0",
    sourceLabels: { app: "productpage", version: "v1" },
    sourceNamespace: NS,
  };
}

function spread(
  routes: MeshRoutes,
  service: string,
  n: number,
  headers: Record<string, string> = {},
): Record<string, number> {
  const random = seededRandom(42);
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const o = routeRequest(routes, service, request(headers), random);
    const key = o.kind === "upstream" ? (o.subset ?? "-") : `${o.code} ${o.flags}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

describe("meshRoutes", () => {
  it("reads DestinationRule subsets as pod labels", () => {
    const routes = routesFrom(["virtual-service-all-v1.yaml"]);
    expect(routes.subsets.reviews).toEqual({
      v1: { version: "v1" },
      v2: { version: "v2" },
      v3: { version: "v3" },
    });
    expect(routes.services.reviews?.virtualService?.name).toBe("reviews");
  });

  it("matches hosts by short name, FQDN and wildcard, in the service's namespace only", () => {
    expect(hostMatchesService("reviews", "reviews", NS)).toBe(true);
    expect(hostMatchesService("reviews.default.svc.cluster.local", "reviews", NS)).toBe(true);
    expect(hostMatchesService("*.default.svc.cluster.local", "reviews", NS)).toBe(true);
    expect(hostMatchesService("reviews.other.svc.cluster.local", "reviews", NS)).toBe(false);
    expect(hostMatchesService("ratings", "reviews", NS)).toBe(false);
  });

  it("ignores VirtualServices bound to gateways only", () => {
    const routes = meshRoutes({
      namespace: NS,
      services: ["reviews"],
      virtualServices: [
        {
          metadata: { name: "edge" },
          spec: { hosts: ["reviews"], gateways: ["bookinfo-gateway"], http: [] },
        },
      ],
      destinationRules: DESTINATION_RULES,
    });
    expect(routes.services.reviews?.virtualService).toBeUndefined();
  });
});

describe("routeRequest", () => {
  it("sends everything to v1 with virtual-service-all-v1", () => {
    expect(spread(routesFrom(["virtual-service-all-v1.yaml"]), "reviews", 1000)).toEqual({ v1: 1000 });
  });

  it("splits 90/10 with virtual-service-reviews-90-10", () => {
    const counts = spread(routesFrom(["virtual-service-reviews-90-10.yaml"]), "reviews", 10_000);
    expect(Object.keys(counts).sort()).toEqual(["v1", "v2"]);
    expect(counts.v2! / 10_000).toBeCloseTo(0.1, 1);
  });

  it("sends exactly the requests with the header to the header route", () => {
    const routes = routesFrom(["virtual-service-reviews-jason-v2-v3.yaml"]);
    expect(spread(routes, "reviews", 500, { "end-user": "jason" })).toEqual({ v2: 500 });
    expect(spread(routes, "reviews", 500, { "end-user": "alice" })).toEqual({ v3: 500 });
    expect(spread(routes, "reviews", 500)).toEqual({ v3: 500 });
  });

  it("spreads over every subset without a VirtualService", () => {
    const routes = meshRoutes({
      namespace: NS,
      services: ["reviews"],
      virtualServices: [],
      destinationRules: DESTINATION_RULES,
    });
    const counts = spread(routes, "reviews", 3000);
    expect(Object.keys(counts).sort()).toEqual(["v1", "v2", "v3"]);
    for (const n of Object.values(counts)) expect(n).toBeGreaterThan(800);
  });

  it("answers 404 NR when no route matches and 503 NC for a subset no DestinationRule defines", () => {
    const vs = (http: unknown[]) => ({ metadata: { name: "reviews" }, spec: { hosts: ["reviews"], http } });
    const only = meshRoutes({
      namespace: NS,
      services: ["reviews"],
      virtualServices: [
        vs([
          {
            match: [{ headers: { qa: { exact: "x" } } }],
            route: [{ destination: { host: "reviews", subset: "v2" } }],
          },
        ]),
      ],
      destinationRules: DESTINATION_RULES,
    });
    expect(spread(only, "reviews", 10)).toEqual({ "404 NR": 10 });
    const bogus = meshRoutes({
      namespace: NS,
      services: ["reviews"],
      virtualServices: [vs([{ route: [{ destination: { host: "reviews", subset: "bogus" } }] }])],
      destinationRules: DESTINATION_RULES,
    });
    expect(spread(bogus, "reviews", 10)).toEqual({ "503 NC": 10 });
  });

  it("honours fault aborts (details fixture: 555 for everyone)", () => {
    const routes = routesFrom(["fault-injection-details-v1.yaml"], ["details"]);
    expect(spread(routes, "details", 50)).toEqual({ "555 FI": 50 });
  });

  it("never matches a match entry it cannot evaluate, and tries the next route", () => {
    const routes = meshRoutes({
      namespace: NS,
      services: ["reviews"],
      virtualServices: [
        {
          metadata: { name: "reviews" },
          spec: {
            hosts: ["reviews"],
            http: [
              { match: [{ port: 9080 }], route: [{ destination: { host: "reviews", subset: "v3" } }] },
              {
                match: [{ withoutHeaders: { qa: {} } }],
                route: [{ destination: { host: "reviews", subset: "v1" } }],
              },
              { route: [{ destination: { host: "reviews", subset: "v2" } }] },
            ],
          },
        },
      ],
      destinationRules: DESTINATION_RULES,
    });
    expect(spread(routes, "reviews", 20)).toEqual({ v1: 20 });
    expect(spread(routes, "reviews", 20, { qa: "anything" })).toEqual({ v2: 20 });
  });

  it("carries subset labels and the route name", () => {
    const routes = meshRoutes({
      namespace: NS,
      services: ["reviews"],
      virtualServices: [
        {
          metadata: { name: "reviews" },
          spec: {
            hosts: ["reviews.default.svc.cluster.local"],
            http: [
              {
                name: "primary",
                fault: { delay: { fixedDelay: "2s", percentage: { value: 100 } } },
                route: [
                  { destination: { host: "reviews.default.svc.cluster.local", subset: "v2" }, weight: 100 },
                ],
              },
            ],
          },
        },
      ],
      destinationRules: DESTINATION_RULES,
    });
    const outcome: RouteOutcome = routeRequest(routes, "reviews", request(), seededRandom(1));
    expect(outcome).toEqual({
      kind: "upstream",
      service: "reviews",
      subset: "v2",
      labels: { version: "v2" },
      route: "primary",
      delayMs: 2000,
    });
  });
});

describe("string matches and durations", () => {
  it.each([
    [{ exact: "canary-test" }, "canary-test", true],
    [{ exact: "canary-test" }, "canary-test2", false],
    [{ prefix: "canary" }, "canary-test", true],
    [{ regex: "canary-.*" }, "canary-test", true],
    [{ regex: "canary" }, "canary-test", false], // RE2 full match, as Envoy
    [{ regex: "^.*?;[ ]?user=jason(?:;.*)?$" }, "a=b; user=jason", true],
    [{}, undefined, false],
  ])("%j on %s → %s", (m, value, expected) => {
    expect(matchesString(m, value)).toBe(expected);
  });

  it("parses Istio durations", () => {
    expect([
      durationMs("5s"),
      durationMs("100ms"),
      durationMs("1.5s"),
      durationMs("1m"),
      durationMs("x"),
    ]).toEqual([5000, 100, 1500, 60_000, undefined]);
  });
});
