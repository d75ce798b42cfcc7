import { describe, expect, it } from "vitest";
import { ErrorCode, type CanaryError } from "../../src/errors.ts";
import { applyJsonPatch } from "../../src/json/json-patch.ts";
import { describeRouteChange, yamlDiff } from "../../src/k8s/describe-change.ts";
import { computeRoutePatch } from "../../src/k8s/virtual-service-patch.ts";
import { currentSubsetOf, selectManagedRoute } from "../../src/k8s/virtual-service-route.ts";
import { omitKeys } from "../../src/k8s/json.ts";
import { BOOKINFO, istioObject, reviewsTarget } from "../support/istio-fixtures.ts";

const target = reviewsTarget();
const allV1 = () => istioObject(`${BOOKINFO}virtual-service-all-v1.yaml`, "VirtualService", "reviews");

describe("describeRouteChange", () => {
  it("summarizes the first step and shows the YAML diff", () => {
    expect(describeRouteChange(allV1(), target, { canaryWeight: 10 })).toBe(
      [
        "VirtualService default/reviews unnamed route http[0]: v1=100 → v1=90, v2=10",
        "  ...",
        "    - route:",
        "        - destination:",
        "            host: reviews",
        "            subset: v1",
        "+         weight: 90",
        "+       - destination:",
        "+           host: reviews",
        "+           subset: v2",
        "+         weight: 10",
      ].join("\n"),
    );
  });

  it("starts from the live split mid-rollout (virtual-service-reviews-90-10.yaml)", () => {
    const vs = istioObject(`${BOOKINFO}virtual-service-reviews-90-10.yaml`, "VirtualService", "reviews");
    const preview = describeRouteChange(vs, target, { canaryWeight: 50 });
    expect(preview.split("\n")[0]).toBe(
      "VirtualService default/reviews unnamed route http[0]: v1=90, v2=10 → v1=50, v2=50",
    );
    expect(describeRouteChange(vs, target, { canaryWeight: 10 })).toBe(
      "VirtualService default/reviews unnamed route http[0]: no change (v1=90, v2=10)",
    );
  });

  it("mentions the header route it would remove", () => {
    const original = allV1();
    const baseline = selectManagedRoute(original, target).route;
    const change = computeRoutePatch(
      original,
      target,
      { baseline, appliedWeight: 0, headerRouteActive: false },
      { canaryWeight: 0, headerMatch: { name: "x-canary", value: "1" }, headerRouteActive: true },
    );
    const withHeader = change.kind === "patch" ? applyJsonPatch(original, change.operations) : original;
    const preview = describeRouteChange(withHeader, target, { canaryWeight: 20 });
    expect(preview.split("\n").slice(0, 2)).toEqual([
      "VirtualService default/reviews unnamed route http[1]: v1=100 → v1=80, v2=20",
      "removes header route 'canarybot-header-v2'",
    ]);
    expect(preview).toMatch(/^- +- name: canarybot-header-v2$/m);
  });

  it("fails like preflight when the route cannot be selected", () => {
    let error: CanaryError | undefined;
    try {
      describeRouteChange(allV1(), reviewsTarget({ stableSubset: "v9" }), { canaryWeight: 10 });
    } catch (caught) {
      error = caught as CanaryError;
    }
    expect(error?.code).toBe(ErrorCode.PreflightFailed);
  });
});

describe("currentSubsetOf", () => {
  const bare = omitKeys(target, "stableSubset", "canarySubset");

  it("reads the one subset a route sends to", () => {
    expect(currentSubsetOf(allV1(), bare)).toBe("v1");
    expect(
      currentSubsetOf(
        istioObject(`${BOOKINFO}virtual-service-reviews-v3.yaml`, "VirtualService", "reviews"),
        bare,
      ),
    ).toBe("v3");
  });

  it("reads a weight-0 destination as carrying no traffic (v1=0, v2=100 is on v2)", () => {
    const vs = allV1();
    (vs.spec.http as { route: unknown[] }[])[0]!.route = [
      { destination: { host: "reviews", subset: "v1" }, weight: 0 },
      { destination: { host: "reviews", subset: "v2" }, weight: 100 },
    ];
    expect(currentSubsetOf(vs, bare)).toBe("v2");
  });

  it("refuses a split and a host with several routes", () => {
    const split = istioObject(`${BOOKINFO}virtual-service-reviews-80-20.yaml`, "VirtualService", "reviews");
    expect(() => currentSubsetOf(split, bare)).toThrow(
      "VirtualService default/reviews unnamed route http[0] does not send all its traffic to one subset of reviews (reviews/v1=80, reviews/v2=20)",
    );
    const jason = istioObject(
      `${BOOKINFO}virtual-service-reviews-jason-v2-v3.yaml`,
      "VirtualService",
      "reviews",
    );
    expect(() => currentSubsetOf(jason, bare)).toThrow("has 2 HTTP routes sending traffic to host reviews");
  });
});

describe("yamlDiff", () => {
  it("shows changed lines with context and elides the rest", () => {
    const before = { a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7 };
    expect(yamlDiff(before, { ...before, f: 60 }, 1)).toEqual([
      "  ...",
      "  e: 5",
      "- f: 6",
      "+ f: 60",
      "  g: 7",
    ]);
    expect(yamlDiff(before, before)).toEqual([]);
  });
});
