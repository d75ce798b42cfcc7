import { describe, expect, it } from "vitest";
import { isSandboxError } from "../../../sandbox/errors.ts";
import { meshOptionsFromFlags, parseHeaderFlag, parseSubsetFlag } from "../../../sandbox/mesh/cli.ts";
import { logNormalMs, seededRandom } from "../../../sandbox/mesh/prng.ts";
import {
  applyMeshControl,
  behaviourOf,
  DEFAULT_BEHAVIOUR,
  initialMeshSettings,
} from "../../../sandbox/mesh/settings.ts";

describe("mesh settings", () => {
  it("layers defaults, *, subset and service/subset", () => {
    const settings = initialMeshSettings({
      subsets: {
        "*": { errorRate: 0.01 },
        v2: { latencyMs: { p99: 900 } },
        "reviews/v2": { errorRate: 0.2 },
      },
    });
    expect(behaviourOf(settings, "ratings", "v1")).toEqual({ ...DEFAULT_BEHAVIOUR, errorRate: 0.01 });
    expect(behaviourOf(settings, "ratings", "v2")).toEqual({
      errorRate: 0.01,
      latencyMs: { p50: 20, p99: 900 },
    });
    expect(behaviourOf(settings, "reviews", "v2")).toEqual({
      errorRate: 0.2,
      latencyMs: { p50: 20, p99: 900 },
    });
  });

  it("merges control requests and drops an override with null", () => {
    let settings = initialMeshSettings({ rps: 10 });
    settings = applyMeshControl(settings, {
      subsets: { v2: { errorRate: 0.05, latencyMs: { p50: 30, p99: 300 } } },
    });
    settings = applyMeshControl(settings, { subsets: { v2: { latencyMs: { p99: 600 } } } });
    expect(settings.subsets.v2).toEqual({ errorRate: 0.05, latencyMs: { p50: 30, p99: 600 } });
    expect(settings.rps).toBe(10);
    settings = applyMeshControl(settings, { subsets: { v2: null }, rps: 5 });
    expect(settings).toEqual({ rps: 5, subsets: {}, headers: [] });
  });

  it("refuses bad input naming every field", () => {
    const error: unknown = (() => {
      try {
        return applyMeshControl(initialMeshSettings({}), {
          rps: "fast",
          subsets: { v2: { errorRate: 1.5, bogus: 1 } },
        });
      } catch (e) {
        return e;
      }
    })();
    expect(isSandboxError(error) && error.exitCode === 1).toBe(true);
    expect((error as Error).message).toMatch(/rps/);
    expect((error as Error).message).toMatch(/subsets\.v2\.errorRate/);
    expect((error as Error).message).toMatch(/bogus/);
  });
});

describe("log-normal latency", () => {
  it("has the asked median and p99", () => {
    const random = seededRandom(3);
    const draws = Array.from({ length: 20_000 }, () => logNormalMs(random, 50, 400)).sort((a, b) => a - b);
    expect(draws[10_000]).toBeGreaterThan(46);
    expect(draws[10_000]).toBeLessThan(54);
    expect(draws[19_800]).toBeGreaterThan(340);
    expect(draws[19_800]).toBeLessThan(470);
    expect(logNormalMs(random, 25, 25)).toBeCloseTo(25, 9);
  });
});

describe("CLI flags", () => {
  it("parses --subset and --header", () => {
    expect(parseSubsetFlag("v2:errorRate=0.05,p50=20,p99=900ms")).toEqual([
      "v2",
      { errorRate: 0.05, latencyMs: { p50: 20, p99: 900 } },
    ]);
    expect(parseSubsetFlag("reviews/v3:errors=10%")).toEqual(["reviews/v3", { errorRate: 0.1 }]);
    expect(parseHeaderFlag("QA=canary-test:5%")).toEqual({ name: "qa", value: "canary-test", share: 0.05 });
    expect(parseHeaderFlag("cookie=a=b:c:0.5")).toEqual({ name: "cookie", value: "a=b:c", share: 0.5 });
  });

  it("builds start options with defaults", () => {
    expect(meshOptionsFromFlags({})).toEqual({
      namespace: "default",
      services: ["reviews"],
      port: 15090,
      subsets: {},
      headers: [],
    });
    expect(
      meshOptionsFromFlags({
        rps: "20",
        port: "0",
        seed: "9",
        subset: ["v2:p50=10", "v2:p99=90"],
        header: ["qa=x:1"],
      }),
    ).toMatchObject({
      rps: 20,
      port: 0,
      seed: 9,
      subsets: { v2: { latencyMs: { p50: 10, p99: 90 } } },
      headers: [{ share: 1 }],
    });
  });

  it("names every bad flag at once", () => {
    expect(() =>
      meshOptionsFromFlags({ rps: "lots", port: "70000", subset: ["v2"], header: ["qa"] }),
    ).toThrow(/--rps lots.*--port 70000.*--subset v2.*--header qa/);
  });
});
