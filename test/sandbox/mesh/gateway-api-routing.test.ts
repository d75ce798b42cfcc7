import { describe, expect, it } from "vitest";
import { scenarioObjects } from "../../../sandbox/kube/scenarios.ts";
import { withGatewayApiRoutes } from "../../../sandbox/mesh/gateway-api-routing.ts";
import { seededRandom } from "../../../sandbox/mesh/prng.ts";
import { meshRoutes, routeRequest, type RequestAttributes } from "../../../sandbox/mesh/traffic-routing.ts";

const objects = scenarioObjects("bookinfo-gateway-api");
const ofKind = (kind: string) => objects.filter((object) => (object as { kind?: string }).kind === kind);

/** The scenario's HTTPRoute `reviews` with these rules. */
function routesWith(rules: unknown[]) {
  const [route] = ofKind("HTTPRoute") as { spec: Record<string, unknown> }[];
  const httpRoute = { ...route, spec: { ...route?.spec, rules } };
  const istio = meshRoutes({
    namespace: "default",
    services: ["reviews"],
    virtualServices: [],
    destinationRules: [],
  });
  return withGatewayApiRoutes(istio, { httpRoutes: [httpRoute], kubeServices: ofKind("Service") });
}

function request(headers: Record<string, string> = {}, path = "/reviews/0"): RequestAttributes {
  return { headers, method: "GET", path, sourceLabels: {}, sourceNamespace: "default" };
}

describe("Gateway API routing in the mesh sandbox", () => {
  it("splits by backendRef weight; a backend's pods are its Service's selector", () => {
    const routes = routesWith([
      {
        backendRefs: [
          { name: "reviews-v1", port: 9080, weight: 90 },
          { name: "reviews-v2", port: 9080, weight: 10 },
        ],
      },
    ]);
    const random = seededRandom(3);
    const counts: Record<string, number> = {};
    for (let i = 0; i < 10_000; i++) {
      const outcome = routeRequest(routes, "reviews", request(), random);
      const key = outcome.kind === "upstream" ? `${outcome.subset}:${outcome.labels.version}` : "local";
      counts[key] = (counts[key] ?? 0) + 1;
    }
    expect(Object.keys(counts).sort()).toEqual(["reviews-v1:v1", "reviews-v2:v2"]);
    expect(counts["reviews-v2:v2"]).toBeGreaterThan(900);
    expect(counts["reviews-v2:v2"]).toBeLessThan(1100);
  });

  it("prefers the rule with more header matches whatever its place, and a longer path prefix before that", () => {
    const routes = routesWith([
      { backendRefs: [{ name: "reviews-v1" }] },
      {
        matches: [
          {
            path: { type: "PathPrefix", value: "/" },
            headers: [{ type: "Exact", name: "x-canary", value: "1" }],
          },
        ],
        backendRefs: [{ name: "reviews-v2" }],
      },
      {
        matches: [{ path: { type: "PathPrefix", value: "/reviews/3" } }],
        backendRefs: [{ name: "reviews-v3" }],
      },
    ]);
    const random = seededRandom(1);
    const subset = (headers: Record<string, string>, path?: string) => {
      const outcome = routeRequest(routes, "reviews", request(headers, path), random);
      return outcome.kind === "upstream" ? outcome.subset : outcome.code;
    };
    expect(subset({})).toBe("reviews-v1");
    expect(subset({ "x-canary": "1" })).toBe("reviews-v2");
    expect(subset({ "x-canary": "2" })).toBe("reviews-v1");
    expect(subset({ "x-canary": "1" }, "/reviews/3")).toBe("reviews-v3");
  });

  it("answers 503 for a backend Service that does not exist, and leaves a VirtualService-routed service alone", () => {
    const routes = routesWith([{ backendRefs: [{ name: "reviews-v9" }] }]);
    expect(routeRequest(routes, "reviews", request(), seededRandom(1))).toMatchObject({
      kind: "local",
      code: 503,
    });
    const istio = meshRoutes({
      namespace: "default",
      services: ["reviews"],
      virtualServices: [
        {
          metadata: { name: "reviews" },
          spec: {
            hosts: ["reviews"],
            http: [{ route: [{ destination: { host: "reviews", subset: "v1" } }] }],
          },
        },
      ],
      destinationRules: [],
    });
    const merged = withGatewayApiRoutes(istio, {
      httpRoutes: ofKind("HTTPRoute"),
      kubeServices: ofKind("Service"),
    });
    expect(merged.services.reviews?.httpRoute).toBeUndefined();
    expect(merged.services.reviews?.virtualService?.name).toBe("reviews");
  });
});
