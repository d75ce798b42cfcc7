import { describe, expect, it } from "vitest";
import { parseDuration } from "../../src/rollout/values.ts";
import { loadEnvConfig } from "../../src/config/env.ts";
import { MAX_INTERVAL_MS, planProblems } from "../../src/rollout/plan.ts";
import { makeAnalysisPolicy, makePlan } from "../support/rollouts.ts";

describe("durations have an upper bound", () => {
  it.each([
    ["24h", 86_400_000],
    ["1440m", 86_400_000],
    ["30s", 30_000],
  ])("%s is accepted", (text, ms) => {
    expect(parseDuration(text)).toEqual({ ok: true, value: ms });
  });

  it.each(["99999999999999999999999s", "25h", "86400001ms", "1e30"])("%s is refused in words", (text) => {
    const parsed = parseDuration(text, "interval");
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error).toMatch(/^interval: ".*" (is longer than 24h|is not a duration)/);
  });

  it("a plan built without the parser is held to the same bounds", () => {
    expect(planProblems(makePlan({ intervalMs: MAX_INTERVAL_MS }))).toEqual([]);
    expect(planProblems(makePlan({ intervalMs: 1e26 }))).toEqual([
      { field: "interval", message: "must be at most 24h" },
    ]);
    expect(planProblems(makePlan({ analysis: makeAnalysisPolicy({ maxP99Ms: 7_200_000 }) }))).toEqual([
      { field: "max-p99", message: "must be at most 1h" },
    ]);
  });

  it("the environment's durations too", () => {
    expect(() => loadEnvConfig({ CANARYBOT_MIN_INTERVAL_MS: "999999999999" })).toThrow(
      /CANARYBOT_MIN_INTERVAL_MS/,
    );
    expect(() => loadEnvConfig({ PROMETHEUS_SCRAPE_INTERVAL_SECONDS: "1e9" })).toThrow(
      /PROMETHEUS_SCRAPE_INTERVAL_SECONDS/,
    );
  });
});
