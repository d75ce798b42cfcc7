import { describe, expect, it } from "vitest";
import { thrown } from "../support/errors.ts";
import { ErrorCode } from "../../src/errors.ts";
import { applyJsonPatch } from "../../src/json/json-patch.ts";
import {
  currentBackendOf,
  headerRuleFor,
  HTTP_ROUTE_DIALECT,
  ruleAtWeight,
  selectManagedRule,
} from "../../src/k8s/http-route-rule.ts";
import { managedRuleForRollout } from "../../src/k8s/preflight.ts";
import { computeRulePatch, computeRuleRestorePatch } from "../../src/k8s/route-patch.ts";
import type { Target } from "../../src/rollout/types.ts";

const target: Target = {
  namespace: "default",
  service: "reviews",
  virtualService: "reviews",
  router: "httproute",
  host: "reviews",
  stableSubset: "reviews-v1",
  canarySubset: "reviews-v2",
};

/** Istio's bookinfo route-reviews-v1.yaml as the API server returns it (resourceVersion added). */
function reviewsRoute(rules: unknown[] = [{ backendRefs: [{ name: "reviews-v1", port: 9080 }] }]) {
  return {
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "HTTPRoute",
    metadata: { name: "reviews", namespace: "default", resourceVersion: "7" },
    spec: { parentRefs: [{ group: "", kind: "Service", name: "reviews", port: 9080 }], rules },
  };
}

describe("HTTPRoute rules", () => {
  const baseline = { backendRefs: [{ name: "reviews-v1", port: 9080 }] };

  it("steps the backendRef weights as percentages and promotes to one backendRef, every other field kept", () => {
    const withFilters = { ...baseline, timeouts: { request: "5s" } };
    expect(ruleAtWeight(withFilters, target, 0)).toEqual(withFilters);
    expect(ruleAtWeight(withFilters, target, 10)).toEqual({
      timeouts: { request: "5s" },
      backendRefs: [
        { name: "reviews-v1", port: 9080, weight: 90 },
        { name: "reviews-v2", port: 9080, weight: 10 },
      ],
    });
    expect(ruleAtWeight(withFilters, target, 100)).toEqual({
      timeouts: { request: "5s" },
      backendRefs: [{ name: "reviews-v2", port: 9080 }],
    });
    // A baseline the API server defaulted (weight 1) promotes to the canary at that weight.
    const defaulted = {
      backendRefs: [{ group: "", kind: "Service", name: "reviews-v1", port: 9080, weight: 1 }],
    };
    expect(ruleAtWeight(defaulted, target, 100).backendRefs).toEqual([
      { group: "", kind: "Service", name: "reviews-v2", port: 9080, weight: 1 },
    ]);
  });

  it("refuses to start from a rule that already splits, or names a non-Service backend", () => {
    const split = reviewsRoute([
      {
        backendRefs: [
          { name: "reviews-v1", weight: 90 },
          { name: "reviews-v3", weight: 10 },
        ],
      },
    ]);
    expect(thrown(() => managedRuleForRollout(HTTP_ROUTE_DIALECT, split, target)).message).toMatch(
      /HTTPRoute default\/reviews unnamed rule rules\[0\] already splits traffic: reviews-v1=90, reviews-v3=10/,
    );
    const bucket = reviewsRoute([
      {
        backendRefs: [{ name: "reviews-v1" }, { group: "example.com", kind: "Bucket", name: "b", weight: 0 }],
      },
    ]);
    expect(thrown(() => managedRuleForRollout(HTTP_ROUTE_DIALECT, bucket, target)).code).toBe(
      ErrorCode.PreflightFailed,
    );
  });

  it("builds the header rule from the managed rule's matches, with the API server's defaults written out", () => {
    const matched = { matches: [{ path: { type: "PathPrefix", value: "/reviews" } }], ...baseline };
    expect(headerRuleFor(matched, target, { name: "x-canary", value: "1" })).toEqual({
      name: "canarybot-header-reviews-v2",
      matches: [
        {
          path: { type: "PathPrefix", value: "/reviews" },
          headers: [{ type: "Exact", name: "x-canary", value: "1" }],
        },
      ],
      backendRefs: [{ name: "reviews-v2", port: 9080, weight: 1 }],
    });
    const clashing = { matches: [{ headers: [{ name: "X-Canary", value: "yes" }] }], ...baseline };
    expect(thrown(() => headerRuleFor(clashing, target, { name: "x-canary", value: "1" })).code).toBe(
      ErrorCode.InvalidInput,
    );
  });

  it("patches with test guards, finds a hand edit as drift, and restores the baseline exactly", () => {
    const live = reviewsRoute();
    const expected = { baseline, appliedWeight: 0, headerRouteActive: false };
    const desired = {
      canaryWeight: 10,
      headerRouteActive: true,
      headerMatch: { name: "x-canary", value: "1" },
    };
    const change = computeRulePatch(HTTP_ROUTE_DIALECT, live, target, expected, desired);
    if (change.kind !== "patch") throw new Error("expected a patch");
    expect(change.operations.slice(0, 2)).toEqual([
      { op: "test", path: "/metadata/resourceVersion", value: "7" },
      { op: "test", path: "/spec/rules/0", value: baseline },
    ]);
    const stepped = applyJsonPatch(live, change.operations);
    expect(stepped.spec.rules.map((rule) => (rule as { name?: string }).name)).toEqual([
      "canarybot-header-reviews-v2",
      undefined,
    ]);
    expect(selectManagedRule(stepped, target).index).toBe(1);
    const again = { baseline, appliedWeight: 10, headerRouteActive: true };
    expect(computeRulePatch(HTTP_ROUTE_DIALECT, stepped, target, again, desired).kind).toBe("unchanged");

    const edited = structuredClone(stepped);
    (edited.spec.rules[1] as { backendRefs: { weight: number }[] }).backendRefs[0]!.weight = 70;
    expect(thrown(() => computeRulePatch(HTTP_ROUTE_DIALECT, edited, target, again, desired)).message).toBe(
      "HTTPRoute default/reviews unnamed rule rules[1] was changed outside canarybot: weights are " +
        "reviews-v1=70, reviews-v2=10; canarybot last set reviews-v1=90, reviews-v2=10",
    );

    const restore = computeRuleRestorePatch(HTTP_ROUTE_DIALECT, edited, target, baseline);
    if (restore.kind !== "patch") throw new Error("expected a patch");
    expect(JSON.stringify(applyJsonPatch(edited, restore.operations))).toBe(JSON.stringify(live));
  });

  it("reads the current backend off a rule that sends everything to one Service", () => {
    expect(currentBackendOf(reviewsRoute(), target)).toBe("reviews-v1");
    const split = reviewsRoute([
      { backendRefs: [{ name: "reviews-v1", weight: 1 }, { name: "reviews-v3" }] },
    ]);
    expect(thrown(() => currentBackendOf(split, target)).message).toMatch(/does not send all its traffic/);
  });
});
