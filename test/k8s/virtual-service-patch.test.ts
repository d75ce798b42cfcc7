import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ErrorCode } from "../../src/errors.ts";
import { applyJsonPatch, type JsonPatchOperation } from "../../src/json/json-patch.ts";
import { managedRouteForRollout } from "../../src/k8s/preflight.ts";
import {
  computeRestorePatch,
  computeRoutePatch,
  locateManagedRoute,
} from "../../src/k8s/virtual-service-patch.ts";
import type { RouteChange } from "../../src/k8s/route-patch.ts";
import {
  canaryWeightOf,
  destinationsOf,
  effectiveWeight,
  headerRouteFor,
  httpRoutes,
  routeAtWeight,
  selectManagedRoute,
} from "../../src/k8s/virtual-service-route.ts";
import type { RouteExpectation } from "../../src/rollout/ports.ts";
import type { HeaderMatch, Target } from "../../src/rollout/types.ts";
import { BOOKINFO, istioObject, reviewsTarget } from "../support/istio-fixtures.ts";
import { thrown } from "../support/errors.ts";

type Vs = ReturnType<typeof istioObject>;

/** What the API server does with an accepted patch: apply it and bump the resourceVersion. */
function serverApply(vs: Vs, change: RouteChange): Vs {
  if (change.kind === "unchanged") return vs;
  const next = applyJsonPatch(vs, change.operations);
  return {
    ...next,
    metadata: { ...next.metadata, resourceVersion: String(Number(next.metadata.resourceVersion) + 1) },
  };
}

function operationsOf(change: RouteChange): JsonPatchOperation[] {
  if (change.kind !== "patch") throw new Error("expected a patch");
  return change.operations;
}

const JASON = "end-user";
const header: HeaderMatch = { name: "x-canary", value: "always" };
const allV1 = () => istioObject(`${BOOKINFO}virtual-service-all-v1.yaml`, "VirtualService", "reviews");
const jasonV2V3 = () =>
  istioObject(`${BOOKINFO}virtual-service-reviews-jason-v2-v3.yaml`, "VirtualService", "reviews");
/** jason-v2-v3 with v3 as stable: the managed route is the catch-all http[1]; the jason route must never change. */
const jasonTarget = reviewsTarget({ stableSubset: "v3", canarySubset: "v2" });

function expectation(baseline: unknown, appliedWeight: number, headerRouteActive = false): RouteExpectation {
  return { baseline, appliedWeight, headerRouteActive };
}

/** The VirtualService after the router wrote what it computed for `expected` and `desired`. */
function written(
  vs: Vs,
  target: Target,
  expected: RouteExpectation,
  desired: Parameters<typeof computeRoutePatch>[3],
): Vs {
  return serverApply(vs, computeRoutePatch(vs, target, expected, desired));
}

/** The VirtualService after the router moved it from `applied` to `weight` (no header route). */
function stepped(vs: Vs, target: Target, baseline: unknown, applied: number, weight: number): Vs {
  return written(vs, target, expectation(baseline, applied), {
    canaryWeight: weight,
    headerRouteActive: false,
  });
}

describe("computeRoutePatch", () => {
  it("walks a plan 0 → 10 → 50 → 100 with the managed route deep-equal to the expectation at every step", () => {
    const target = reviewsTarget();
    let vs = allV1();
    const baseline = selectManagedRoute(vs, target).route;
    let applied = 0;
    for (const weight of [10, 50, 100]) {
      vs = stepped(vs, target, baseline, applied, weight);
      applied = weight;
      expect(httpRoutes(vs)).toEqual([
        weight === 100
          ? { route: [{ destination: { host: "reviews", subset: "v2" } }] }
          : {
              route: [
                { destination: { host: "reviews", subset: "v1" }, weight: 100 - weight },
                { destination: { host: "reviews", subset: "v2" }, weight },
              ],
            },
      ]);
    }
    expect(vs.metadata.resourceVersion).toBe("4");
  });

  it("guards the write with test ops on resourceVersion and the managed route, then replaces only that route", () => {
    const target = reviewsTarget();
    const vs = allV1();
    const baseline = selectManagedRoute(vs, target).route;
    expect(
      operationsOf(
        computeRoutePatch(vs, target, expectation(baseline, 0), {
          canaryWeight: 10,
          headerRouteActive: false,
        }),
      ),
    ).toEqual([
      { op: "test", path: "/metadata/resourceVersion", value: "1" },
      { op: "test", path: "/spec/http/0", value: baseline },
      { op: "replace", path: "/spec/http/0", value: routeAtWeight(baseline, target, 10) },
    ]);
  });

  it("writes nothing when the route is already where it should be", () => {
    const target = reviewsTarget();
    const vs = allV1();
    const baseline = selectManagedRoute(vs, target).route;
    expect(
      computeRoutePatch(vs, target, expectation(baseline, 0), { canaryWeight: 0, headerRouteActive: false }),
    ).toEqual({
      kind: "unchanged",
      index: 0,
    });
  });

  it("treats a route already at the desired weight as written (crash between the write and saving it)", () => {
    const target = reviewsTarget();
    let vs = allV1();
    const baseline = selectManagedRoute(vs, target).route;
    vs = written(vs, target, expectation(baseline, 0), { canaryWeight: 10, headerRouteActive: false });
    // The process died before saving appliedWeight = 10; the retried tick still expects 0 and wants 10.
    expect(
      computeRoutePatch(vs, target, expectation(baseline, 0), { canaryWeight: 10, headerRouteActive: false })
        .kind,
    ).toBe("unchanged");
    // And a tick that already moved on (wants 50) from the unsaved 10 is not drift either.
    expect(
      computeRoutePatch(vs, target, expectation(baseline, 10), { canaryWeight: 50, headerRouteActive: false })
        .kind,
    ).toBe("patch");
  });

  it("changes only the managed route of a multi-route VirtualService (jason-v2-v3)", () => {
    const original = jasonV2V3();
    const baseline = selectManagedRoute(original, jasonTarget).route;
    const change = computeRoutePatch(original, jasonTarget, expectation(baseline, 0), {
      canaryWeight: 30,
      headerRouteActive: false,
    });
    const vs = serverApply(original, change);
    expect(
      operationsOf(change)
        .filter((op) => op.op !== "test")
        .map((op) => op.path),
    ).toEqual(["/spec/http/1"]);
    expect(httpRoutes(vs)[0]).toEqual(httpRoutes(original)[0]);
    expect(httpRoutes(vs)[1]).toEqual({
      route: [
        { destination: { host: "reviews", subset: "v3" }, weight: 70 },
        { destination: { host: "reviews", subset: "v2" }, weight: 30 },
      ],
    });
    expect({ ...vs, spec: { ...vs.spec, http: [] }, metadata: {} }).toEqual({
      ...original,
      spec: { ...original.spec, http: [] },
      metadata: {},
    });
  });

  it("inserts the header route directly before the managed route, and removes it again", () => {
    const original = jasonV2V3();
    const baseline = selectManagedRoute(original, jasonTarget).route;
    const on = computeRoutePatch(original, jasonTarget, expectation(baseline, 0), {
      canaryWeight: 0,
      headerMatch: header,
      headerRouteActive: true,
    });
    expect(operationsOf(on).filter((op) => op.op !== "test")).toEqual([
      { op: "add", path: "/spec/http/1", value: headerRouteFor(baseline, jasonTarget, header) },
    ]);
    let vs = serverApply(original, on);
    expect(httpRoutes(vs).map((route) => (route as { name?: string }).name)).toEqual([
      undefined,
      "canarybot-header-v2",
      undefined,
    ]);
    expect(httpRoutes(vs)[0]).toEqual(httpRoutes(original)[0]);
    expect(httpRoutes(vs)[2]).toEqual(baseline);
    // Header stage approved: weights start and the header route goes, in one patch.
    const off = computeRoutePatch(vs, jasonTarget, expectation(baseline, 0, true), {
      canaryWeight: 10,
      headerMatch: header,
      headerRouteActive: false,
    });
    expect(operationsOf(off).filter((op) => op.op !== "test")).toEqual([
      { op: "replace", path: "/spec/http/2", value: routeAtWeight(baseline, jasonTarget, 10) },
      { op: "remove", path: "/spec/http/1" },
    ]);
    vs = serverApply(vs, off);
    expect(httpRoutes(vs)).toHaveLength(2);
    expect(httpRoutes(vs)[0]).toEqual(httpRoutes(original)[0]);
    expect(canaryWeightOf(httpRoutes(vs)[1], jasonTarget)).toBe(10);
  });

  it("keeps an active header route when the header match is not passed again", () => {
    const target = reviewsTarget();
    const original = allV1();
    const baseline = selectManagedRoute(original, target).route;
    const vs = written(original, target, expectation(baseline, 0), {
      canaryWeight: 0,
      headerMatch: header,
      headerRouteActive: true,
    });
    const change = computeRoutePatch(vs, target, expectation(baseline, 0, true), {
      canaryWeight: 0,
      headerRouteActive: false,
    });
    expect(operationsOf(change).filter((op) => op.op !== "test")).toEqual([
      { op: "remove", path: "/spec/http/0" },
    ]);
  });

  describe("drift", () => {
    const target = reviewsTarget();
    const setUp = (weight: number) => {
      const original = allV1();
      const baseline = selectManagedRoute(original, target).route;
      const vs = written(original, target, expectation(baseline, 0), {
        canaryWeight: weight,
        headerRouteActive: false,
      });
      return { vs, baseline };
    };

    it("refuses to overwrite a human's weight change, saying what differs", () => {
      const { vs, baseline } = setUp(10);
      const route = httpRoutes(vs)[0] as { route: { weight: number }[] };
      route.route[0]!.weight = 70;
      route.route[1]!.weight = 30;
      const error = thrown(() =>
        computeRoutePatch(vs, target, expectation(baseline, 10), {
          canaryWeight: 25,
          headerRouteActive: false,
        }),
      );
      expect(error.code).toBe(ErrorCode.Drift);
      expect(error.message).toBe(
        "VirtualService default/reviews unnamed route http[0] was changed outside canarybot: " +
          "weights are v1=70, v2=30; canarybot last set v1=90, v2=10",
      );
    });

    it("names the fields a human changed when the weights are the same", () => {
      const { vs, baseline } = setUp(10);
      Object.assign(httpRoutes(vs)[0] as object, { timeout: "1s" });
      const error = thrown(() =>
        computeRoutePatch(vs, target, expectation(baseline, 10), {
          canaryWeight: 25,
          headerRouteActive: false,
        }),
      );
      expect(error.code).toBe(ErrorCode.Drift);
      expect(error.message).toContain("fields changed since canarybot last wrote the route: timeout");
    });

    it("notices a removed or an unexpected header route", () => {
      const { vs, baseline } = setUp(0);
      expect(
        thrown(() =>
          computeRoutePatch(vs, target, expectation(baseline, 0, true), {
            canaryWeight: 0,
            headerMatch: header,
            headerRouteActive: true,
          }),
        ).message,
      ).toContain("header route 'canarybot-header-v2' was removed; canarybot had added it");
      const withHeader = written(vs, target, expectation(baseline, 0), {
        canaryWeight: 0,
        headerMatch: header,
        headerRouteActive: true,
      });
      expect(
        thrown(() =>
          computeRoutePatch(withHeader, target, expectation(baseline, 0), {
            canaryWeight: 10,
            headerRouteActive: false,
          }),
        ).message,
      ).toContain("header route 'canarybot-header-v2' is present (http[0]); canarybot had not added it");
      const edited = structuredClone(withHeader);
      (httpRoutes(edited)[0] as { match: unknown[] }).match = [
        { headers: { "x-canary": { exact: "other" } } },
      ];
      expect(
        thrown(() =>
          computeRoutePatch(edited, target, expectation(baseline, 0, true), {
            canaryWeight: 10,
            headerMatch: header,
            headerRouteActive: false,
          }),
        ).message,
      ).toContain("header route 'canarybot-header-v2' (http[0]) was edited");
    });

    it("takes the route back when forced", () => {
      const { vs, baseline } = setUp(10);
      (httpRoutes(vs)[0] as { route: { weight: number }[] }).route[0]!.weight = 70;
      const change = computeRoutePatch(
        vs,
        target,
        { ...expectation(baseline, 10), force: true },
        { canaryWeight: 25, headerRouteActive: false },
      );
      expect(httpRoutes(serverApply(vs, change))[0]).toEqual(routeAtWeight(baseline, target, 25));
    });

    it("reports a managed route that disappeared as drift", () => {
      const { vs, baseline } = setUp(10);
      (vs.spec as { http: unknown[] }).http = [
        { route: [{ destination: { host: "reviews", subset: "v3" } }] },
      ];
      const error = thrown(() =>
        computeRoutePatch(vs, target, expectation(baseline, 10), {
          canaryWeight: 25,
          headerRouteActive: false,
        }),
      );
      expect(error.code).toBe(ErrorCode.Drift);
      expect(error.message).toContain(
        "the managed route of VirtualService default/reviews can no longer be found",
      );
    });
  });

  it("is refused by the server (test op) when the object changed after the GET", () => {
    const target = reviewsTarget();
    const vs = allV1();
    const baseline = selectManagedRoute(vs, target).route;
    const change = computeRoutePatch(vs, target, expectation(baseline, 0), {
      canaryWeight: 10,
      headerRouteActive: false,
    });
    const newer = { ...vs, metadata: { ...vs.metadata, resourceVersion: "2" } };
    expect(() => applyJsonPatch(newer, operationsOf(change))).toThrow(
      /test failed at '\/metadata\/resourceVersion'/,
    );
  });
});

describe("release after release", () => {
  /** A rollout from the route as preflight finds it, through `steps`, then left there or rolled back. */
  function release(vs: Vs, target: Target, steps: number[], end: "promote" | "rollback"): Vs {
    const baseline = managedRouteForRollout(vs, target).route;
    let applied = 0;
    for (const weight of steps) {
      vs = stepped(vs, target, baseline, applied, weight);
      applied = weight;
    }
    return end === "rollback" ? serverApply(vs, computeRestorePatch(vs, target, baseline)) : vs;
  }
  const leg = (stable: string, canary: string) =>
    reviewsTarget({ stableSubset: stable, canarySubset: canary });

  it("v1→v2 promoted, v2→v3 promoted, v3→v4 rolled back, v3→v4 promoted: each leaves what the next start needs", () => {
    const original = allV1();
    let vs = release(original, leg("v1", "v2"), [10, 50, 100], "promote");
    expect(httpRoutes(vs)).toEqual([{ route: [{ destination: { host: "reviews", subset: "v2" } }] }]);
    vs = release(vs, leg("v2", "v3"), [10, 50, 100], "promote");
    // Exactly the route Istio's sample writes by hand for "all traffic to v3".
    const reviewsV3 = istioObject(`${BOOKINFO}virtual-service-reviews-v3.yaml`, "VirtualService", "reviews");
    expect(vs.spec).toEqual({ ...original.spec, http: reviewsV3.spec.http });
    const promotedV3 = JSON.stringify(vs.spec);
    vs = release(vs, leg("v3", "v4"), [10, 50], "rollback");
    expect(JSON.stringify(vs.spec)).toBe(promotedV3);
    vs = release(vs, leg("v3", "v4"), [10, 50, 100], "promote");
    expect(httpRoutes(vs)).toEqual([{ route: [{ destination: { host: "reviews", subset: "v4" } }] }]);
    expect(vs.metadata.resourceVersion).toBe("13");
  });

  it("changes only the managed route of a multi-route VirtualService on promotion, and restores from 100%", () => {
    const original = jasonV2V3();
    const baseline = selectManagedRoute(original, jasonTarget).route;
    const promoted = release(original, jasonTarget, [50, 100], "promote");
    expect(httpRoutes(promoted)).toEqual([
      httpRoutes(original)[0],
      { route: [{ destination: { host: "reviews", subset: "v2" } }] },
    ]);
    expect(locateManagedRoute(promoted, jasonTarget, baseline).index).toBe(1);
    const restored = serverApply(promoted, computeRestorePatch(promoted, jasonTarget, baseline));
    expect(JSON.stringify(restored.spec)).toBe(JSON.stringify(original.spec));
  });

  describe("the two-destination 100% earlier versions wrote (v1=0, v2=100)", () => {
    const target = reviewsTarget();
    const baseline = () => selectManagedRoute(allV1(), target).route;
    const leftOver = () => {
      const vs = allV1();
      (httpRoutes(vs)[0] as { route: unknown[] }).route = [
        { destination: { host: "reviews", subset: "v1" }, weight: 0 },
        { destination: { host: "reviews", subset: "v2" }, weight: 100 },
      ];
      return vs;
    };
    const clean = { route: [{ destination: { host: "reviews", subset: "v2" } }] };

    it.each([100, 50])(
      "is ours at full weight and the next write converts it (last confirmed weight %i)",
      (applied) => {
        const vs = leftOver();
        const change = computeRoutePatch(vs, target, expectation(baseline(), applied), {
          canaryWeight: 100,
          headerRouteActive: false,
        });
        expect(operationsOf(change).at(-1)).toEqual({ op: "replace", path: "/spec/http/0", value: clean });
        expect(httpRoutes(serverApply(vs, change))).toEqual([clean]);
      },
    );

    it("is still drift at any other weight, or with another field changed", () => {
      const error = thrown(() =>
        computeRoutePatch(leftOver(), target, expectation(baseline(), 50), {
          canaryWeight: 50,
          headerRouteActive: false,
        }),
      );
      expect(error.code).toBe(ErrorCode.Drift);
      expect(error.message).toContain("weights are v1=0, v2=100; canarybot last set v1=50, v2=50");
      const edited = leftOver();
      Object.assign(httpRoutes(edited)[0] as object, { timeout: "1s" });
      expect(
        thrown(() =>
          computeRoutePatch(edited, target, expectation(baseline(), 100), {
            canaryWeight: 100,
            headerRouteActive: false,
          }),
        ).code,
      ).toBe(ErrorCode.Drift);
    });

    it("is restored to the baseline like any other shape", () => {
      const vs = leftOver();
      expect(httpRoutes(serverApply(vs, computeRestorePatch(vs, target, baseline())))).toEqual(
        httpRoutes(allV1()),
      );
    });
  });
});

describe("computeRestorePatch", () => {
  it("puts the baseline back byte for byte and removes the header route, leaving other routes alone", () => {
    const original = jasonV2V3();
    const baseline = selectManagedRoute(original, jasonTarget).route;
    let vs = written(original, jasonTarget, expectation(baseline, 0), {
      canaryWeight: 0,
      headerMatch: header,
      headerRouteActive: true,
    });
    vs = written(vs, jasonTarget, expectation(baseline, 0, true), {
      canaryWeight: 40,
      headerMatch: header,
      headerRouteActive: true,
    });
    const restored = serverApply(vs, computeRestorePatch(vs, jasonTarget, baseline));
    expect(JSON.stringify(restored.spec)).toBe(JSON.stringify(original.spec));
    expect(computeRestorePatch(restored, jasonTarget, baseline).kind).toBe("unchanged");
  });

  it("restores over a human's edit of the managed route (the way back always wins)", () => {
    const target = reviewsTarget();
    const original = allV1();
    const baseline = selectManagedRoute(original, target).route;
    const vs = written(original, target, expectation(baseline, 0), {
      canaryWeight: 50,
      headerRouteActive: false,
    });
    Object.assign(httpRoutes(vs)[0] as object, { timeout: "1s" });
    expect(httpRoutes(serverApply(vs, computeRestorePatch(vs, target, baseline)))).toEqual(
      httpRoutes(original),
    );
  });
});

describe("properties", () => {
  /** A plan: strictly increasing weights within 1..100. */
  const plan = fc
    .uniqueArray(fc.integer({ min: 1, max: 100 }), { minLength: 1, maxLength: 12 })
    .map((steps) => steps.sort((a, b) => a - b));
  const scenarios: { name: string; vs: () => Vs; target: Target }[] = [
    { name: "all-v1", vs: allV1, target: reviewsTarget() },
    { name: "jason-v2-v3", vs: jasonV2V3, target: jasonTarget },
    {
      name: "testdata virtual-service-all (FQDN host, port, uri match)",
      vs: () => {
        const vs = istioObject(
          "samples/tests-testdata-config/virtual-service-all.yaml",
          "VirtualService",
          "all",
        );
        const http = httpRoutes(vs) as { route: unknown[] }[];
        http[1]!.route = [
          { destination: { port: { number: 81 }, host: "service3.default.svc.cluster.local", subset: "v1" } },
        ];
        return vs;
      },
      target: reviewsTarget({ virtualService: "all", host: "service3", service: "service3" }),
    },
  ];

  it("keeps stable + canary = 100 at plan weights only, touches nothing else, and restores the original exactly", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...scenarios),
        plan,
        fc.boolean(),
        fc.integer({ min: 0, max: 11 }),
        (scenario, steps, headerStage, rollbackAt) => {
          const { target } = scenario;
          const original = scenario.vs();
          const managedIndex = selectManagedRoute(original, target).index;
          const baseline = selectManagedRoute(original, target).route;
          let vs = original;
          let applied = 0;
          let headerActive = false;
          if (headerStage) {
            vs = written(vs, target, expectation(baseline, 0), {
              canaryWeight: 0,
              headerMatch: { name: JASON, value: "x" },
              headerRouteActive: true,
            });
            headerActive = true;
          }
          for (const [i, weight] of steps.entries()) {
            if (i === rollbackAt) break;
            vs = written(vs, target, expectation(baseline, applied, headerActive), {
              canaryWeight: weight,
              headerRouteActive: false,
            });
            applied = weight;
            headerActive = false;
            const managed = locateManagedRoute(vs, target, baseline);
            expect(managed.index).toBe(managedIndex);
            const entries = destinationsOf(managed.route);
            expect(entries.reduce((sum, entry) => sum + effectiveWeight(entry, entries.length), 0)).toBe(100);
            expect(canaryWeightOf(managed.route, target)).toBe(weight);
            expect(steps).toContain(canaryWeightOf(managed.route, target));
            // Every other route is untouched.
            httpRoutes(original).forEach((route, k) => {
              if (k !== managedIndex) expect(httpRoutes(vs)[k]).toEqual(route);
            });
          }
          const restored = serverApply(vs, computeRestorePatch(vs, target, baseline));
          expect(JSON.stringify(restored.spec)).toBe(JSON.stringify(original.spec));
          expect(restored).toEqual({
            ...original,
            metadata: { ...original.metadata, resourceVersion: restored.metadata.resourceVersion },
          });
        },
      ),
      { numRuns: 300 },
    );
  });
});
