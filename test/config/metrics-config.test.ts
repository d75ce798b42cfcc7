import { describe, expect, it } from "vitest";
import { BUILTIN_DEFAULTS, buildStartSpec } from "../../src/rollout/start-request.ts";
import { parseConfigFile } from "../../src/config/file.ts";
import { startDefaultsFor } from "../../src/config/services.ts";
import { DEFAULT_ANALYSIS_POLICY } from "../../src/metrics/analysis.ts";

const base = { ...BUILTIN_DEFAULTS, analysis: DEFAULT_ANALYSIS_POLICY };
const service = (yaml: string) => parseConfigFile(`services:\n  reviews:\n${yaml}`).services.reviews;

describe("a service's metrics flavour", () => {
  it("reads `metrics: linkerd` and copies it into every plan's analysis", () => {
    const reviews = service("    metrics: linkerd\n");
    expect(startDefaultsFor(base, reviews).analysis).toEqual({
      ...DEFAULT_ANALYSIS_POLICY,
      metrics: { mesh: "linkerd" },
    });
  });

  it("reads the long form with Deployments per subset, beside threshold overrides and start flags", () => {
    const reviews = service(
      "    metrics: { mesh: linkerd, deployments: { v1: reviews-main, v2: reviews-canary } }\n" +
        "    analysis: { minSuccess: 99.5 }\n",
    );
    const spec = buildStartSpec(
      { service: "reviews", canary: "v2", maxP99: "300ms" },
      startDefaultsFor(base, reviews),
    );
    expect(spec).toMatchObject({
      ok: true,
      value: {
        plan: {
          analysis: {
            minSuccessRate: 0.995,
            maxP99Ms: 300,
            metrics: { mesh: "linkerd", deployments: { v1: "reviews-main", v2: "reviews-canary" } },
          },
        },
      },
    });
  });

  it("leaves Istio as it was: no metrics key without one, and `mesh` defaults to istio", () => {
    expect(startDefaultsFor(base, service("    namespace: default\n")).analysis).toBe(
      DEFAULT_ANALYSIS_POLICY,
    );
    expect(service("    metrics: { deployments: { v2: reviews-next } }\n")?.metrics).toEqual({
      mesh: "istio",
      deployments: { v2: "reviews-next" },
    });
    expect(
      startDefaultsFor(base, service("    metrics: linkerd\n    analysis: { enabled: false }\n")).analysis,
    ).toBeUndefined();
  });

  it("names an unknown mesh and a bad Deployment name with their paths", () => {
    expect(() => service("    metrics: consul\n")).toThrow(
      "services.reviews.metrics: must be istio or linkerd, or { mesh, deployments }",
    );
    expect(() => service("    metrics: { mesh: linkerd, deployments: { v2: Reviews_V2 } }\n")).toThrow(
      "services.reviews.metrics.deployments.v2: must be a Kubernetes Deployment name",
    );
  });
});
