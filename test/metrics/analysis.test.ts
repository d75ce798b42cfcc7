import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  CheckName,
  DEFAULT_ANALYSIS_POLICY,
  evaluateSnapshot,
  overallStatus,
} from "../../src/metrics/analysis.ts";
import type { AnalysisPolicy, CheckResult, MetricsSnapshot, SubsetMetrics } from "../../src/rollout/types.ts";

const healthy: SubsetMetrics = {
  requestRate: 10,
  successRate: 0.999,
  p50Ms: 20,
  p90Ms: 60,
  p99Ms: 120,
  requests: 600,
};

function snapshot(
  canary: Partial<SubsetMetrics> = {},
  stable: Partial<SubsetMetrics> = {},
  extra: Partial<MetricsSnapshot> = {},
): MetricsSnapshot {
  return {
    at: 1_700_000_000_000,
    windowSeconds: 60,
    canaryWeight: 10,
    canary: { ...healthy, ...canary },
    stable: { ...healthy, ...stable },
    ...extra,
  };
}

function check(checks: CheckResult[], name: string): CheckResult {
  const found = checks.find((c) => c.name === name);
  if (found === undefined) throw new Error(`no check ${name}`);
  return found;
}

describe("DEFAULT_ANALYSIS_POLICY", () => {
  it("holds the agreed defaults", () => {
    expect(DEFAULT_ANALYSIS_POLICY).toEqual({
      minSuccessRate: 0.99,
      maxP99Ms: 500,
      maxErrorRateIncrease: 0.01,
      maxP99Ratio: 1.25,
      minRequests: 20,
      failureLimit: 2,
      criticalSuccessRate: 0.9,
      inconclusiveLimit: 3,
      customChecks: [],
      judge: "statistical",
      confidence: 0.95,
    });
  });
});

describe("evaluateSnapshot", () => {
  const policy = DEFAULT_ANALYSIS_POLICY;
  type Row = {
    name: string;
    canary?: Partial<SubsetMetrics>;
    stable?: Partial<SubsetMetrics>;
    status: "pass" | "fail" | "inconclusive";
    check?: string;
    checkStatus?: "pass" | "fail" | "inconclusive";
    critical?: boolean;
    detail?: RegExp;
  };
  const rows: Row[] = [
    { name: "a healthy canary passes", status: "pass" },
    {
      name: "too few canary requests → inconclusive",
      canary: { requests: 19 },
      status: "inconclusive",
      check: CheckName.RequestVolume,
      checkStatus: "inconclusive",
      detail: /19 canary requests in 60s, need 20/,
    },
    {
      name: "too few requests also keeps a bad success rate from failing on noise",
      canary: { requests: 5, successRate: 0.6 },
      status: "inconclusive",
      check: CheckName.SuccessRate,
      checkStatus: "inconclusive",
      detail: /not judged: 5 canary requests in 60s, need 20/,
    },
    { name: "exactly minRequests is enough", canary: { requests: 20 }, status: "pass" },
    {
      name: "success rate below 99% fails",
      canary: { successRate: 0.985 },
      status: "fail",
      check: CheckName.SuccessRate,
      checkStatus: "fail",
      detail: /98.5% is below 99%/,
    },
    {
      name: "success rate exactly 99% passes",
      canary: { successRate: 0.99 },
      stable: { successRate: 0.99 },
      status: "pass",
    },
    {
      name: "success rate below the critical floor fails critically",
      canary: { successRate: 0.85 },
      status: "fail",
      check: CheckName.SuccessRate,
      checkStatus: "fail",
      critical: true,
      detail: /critical floor 90%/,
    },
    {
      name: "p99 above 500ms fails",
      canary: { p99Ms: 501 },
      stable: { p99Ms: 450 },
      status: "fail",
      check: CheckName.P99Latency,
      checkStatus: "fail",
    },
    {
      name: "0.9% canary errors vs 0% on stable is within 1pp",
      canary: { successRate: 0.991 },
      stable: { successRate: 1 },
      status: "pass",
    },
    {
      name: "error rate relative: stable 0.5% errors, canary 1.6% of 600 is a breach 600 requests cannot confirm",
      canary: { successRate: 0.984 },
      stable: { successRate: 0.995 },
      status: "fail", // by the success-rate check

      check: CheckName.ErrorRateVsStable,
      checkStatus: "inconclusive",
      detail: /10 of 600 canary requests failed, p=0\.\d+\): too few requests to tell/,
    },
    {
      name: "error rate relative: stable 0.5% errors, canary 4% of 600 fails with 95% confidence",
      canary: { successRate: 0.96 },
      stable: { successRate: 0.995 },
      status: "fail",
      check: CheckName.ErrorRateVsStable,
      checkStatus: "fail",
      detail: /24 of 600 canary requests failed, p<0\.001/,
    },
    {
      name: "error rate relative: exactly stable + 1pp passes (float-safe)",
      canary: { successRate: 0.99 },
      stable: { successRate: 1 },
      status: "pass",
    },
    {
      name: "p99 relative: more than 1.25x stable fails",
      canary: { p99Ms: 260 },
      stable: { p99Ms: 200 },
      status: "fail",
      check: CheckName.P99VsStable,
      checkStatus: "fail",
      detail: /canary p99 260ms vs stable 200ms/,
    },
    {
      name: "p99 relative: exactly 1.25x passes",
      canary: { p99Ms: 250 },
      stable: { p99Ms: 200 },
      status: "pass",
    },
    {
      name: "missing canary success rate → inconclusive, never pass",
      canary: { successRate: undefined },
      status: "inconclusive",
      check: CheckName.SuccessRate,
      checkStatus: "inconclusive",
    },
    {
      name: "NaN canary p99 → inconclusive",
      canary: { p99Ms: Number.NaN },
      status: "inconclusive",
      check: CheckName.P99Latency,
      checkStatus: "inconclusive",
    },
    {
      name: "no stable data → relative checks inconclusive",
      stable: { successRate: undefined, p99Ms: undefined },
      status: "inconclusive",
      check: CheckName.ErrorRateVsStable,
      checkStatus: "inconclusive",
      detail: /no stable success rate/,
    },
    {
      name: "unknown request count → inconclusive",
      canary: { requests: undefined },
      status: "inconclusive",
      check: CheckName.RequestVolume,
      checkStatus: "inconclusive",
    },
    {
      name: "a fail wins over an inconclusive",
      canary: { successRate: 0.5 },
      stable: { p99Ms: undefined },
      status: "fail",
    },
  ];

  it.each(rows)("$name", (row) => {
    const verdict = evaluateSnapshot(snapshot(row.canary, row.stable), policy);
    expect(verdict.status).toBe(row.status);
    expect(verdict.checks.map((c) => c.name)).toEqual([
      CheckName.RequestVolume,
      CheckName.SuccessRate,
      CheckName.P99Latency,
      CheckName.ErrorRateVsStable,
      CheckName.P99VsStable,
    ]);
    if (row.check !== undefined) {
      const c = check(verdict.checks, row.check);
      expect(c.status).toBe(row.checkStatus);
      if (row.critical !== undefined) expect(c.critical).toBe(row.critical);
      if (row.detail !== undefined) expect(c.detail).toMatch(row.detail);
    }
    for (const c of verdict.checks) {
      expect(c.threshold).not.toBe("");
      expect(c.detail).toBeTruthy();
      if (c.status !== "fail" || c.name !== CheckName.SuccessRate) expect(c.critical).toBeUndefined();
    }
  });

  it("renders values and human thresholds", () => {
    const verdict = evaluateSnapshot(
      snapshot({ successRate: 0.995, p99Ms: 130 }, { successRate: 0.998, p99Ms: 120 }),
      policy,
    );
    expect(verdict.checks).toEqual([
      {
        name: "request-volume",
        status: "pass",
        value: 600,
        unit: "requests",
        threshold: "≥ 20 requests",
        detail: "600 canary requests in 60s",
      },
      {
        name: "success-rate",
        status: "pass",
        value: 0.995,
        unit: "share",
        threshold: "≥ 99% (critical below 90%)",
        detail: "canary success rate 99.5%",
      },
      {
        name: "p99-latency",
        status: "pass",
        value: 130,
        unit: "ms",
        threshold: "≤ 500ms",
        detail: "canary p99 130ms",
      },
      {
        name: "error-rate-vs-stable",
        status: "pass",
        value: expect.closeTo(0.005, 9) as number,
        unit: "share",
        threshold: "≤ stable + 1pp (1.2%), 95% confidence",
        detail: "canary error rate 0.5% vs stable 0.2%",
      },
      {
        name: "p99-vs-stable",
        status: "pass",
        value: 130,
        unit: "ms",
        threshold: "≤ 1.25x stable (150ms), 95% confidence",
        detail: "canary p99 130ms vs stable 120ms",
      },
    ]);
    expect(verdict.snapshot).toBeDefined();
  });

  it("unavailable metrics make every check inconclusive with the reason", () => {
    const withCustom: AnalysisPolicy = {
      ...policy,
      customChecks: [{ name: "queue-depth", query: "q", max: 10 }],
    };
    const verdict = evaluateSnapshot(
      snapshot({}, {}, { canary: {}, stable: {}, unavailable: "Prometheus /api/v1/query: ECONNREFUSED" }),
      withCustom,
    );
    expect(verdict.status).toBe("inconclusive");
    expect(verdict.checks).toHaveLength(6);
    for (const c of verdict.checks) {
      expect(c.status).toBe("inconclusive");
      expect(c.value).toBeUndefined();
      expect(c.detail).toBe("metrics unavailable: Prometheus /api/v1/query: ECONNREFUSED");
    }
  });

  describe("custom checks", () => {
    const custom: AnalysisPolicy = {
      ...policy,
      customChecks: [
        { name: "error-budget", query: "q1", max: 0.05 },
        { name: "cache-hit", query: "q2", min: 0.8 },
        { name: "queue", query: "q3", min: 0, max: 100 },
        { name: "info", query: "q4" },
      ],
    };
    it.each([
      [
        { "error-budget": 0.01, "cache-hit": 0.9, queue: 50, info: 3 },
        "pass",
        ["pass", "pass", "pass", "pass"],
      ],
      [
        { "error-budget": 0.06, "cache-hit": 0.9, queue: 50, info: 3 },
        "fail",
        ["fail", "pass", "pass", "pass"],
      ],
      [
        { "error-budget": 0.01, "cache-hit": 0.7, queue: 101, info: 3 },
        "fail",
        ["pass", "fail", "fail", "pass"],
      ],
      [
        { "error-budget": 0.01, "cache-hit": undefined, queue: Number.NaN, info: 3 },
        "inconclusive",
        ["pass", "inconclusive", "inconclusive", "pass"],
      ],
      [{}, "inconclusive", ["inconclusive", "inconclusive", "inconclusive", "inconclusive"]],
    ] as const)("%j → %s", (values, status, statuses) => {
      const verdict = evaluateSnapshot(snapshot({}, {}, { custom: { ...values } }), custom);
      expect(verdict.status).toBe(status);
      expect(verdict.checks.slice(5).map((c) => c.status)).toEqual(statuses);
    });

    it("describes thresholds", () => {
      const verdict = evaluateSnapshot(snapshot({}, {}, { custom: { "error-budget": 0.06 } }), custom);
      expect(verdict.checks.slice(5).map((c) => c.threshold)).toEqual([
        "≤ 0.05",
        "≥ 0.8",
        "between 0 and 100",
        "any (recorded only)",
      ]);
      expect(verdict.checks[5]).toMatchObject({ value: 0.06, detail: "0.06 is above 0.05" });
    });
  });

  it("overallStatus of no checks is inconclusive", () => {
    expect(overallStatus([])).toBe("inconclusive");
  });
});

describe("properties", () => {
  const maybeNumber = fc.oneof(
    fc.constant(undefined),
    fc.constant(Number.NaN),
    fc.constant(Number.POSITIVE_INFINITY),
    fc.double({ min: 0, max: 1, noNaN: true }),
    fc.double({ min: 0, max: 10_000, noNaN: true }),
  );
  const subset = fc.record({
    requestRate: maybeNumber,
    successRate: maybeNumber,
    p50Ms: maybeNumber,
    p90Ms: maybeNumber,
    p99Ms: maybeNumber,
    requests: fc.oneof(maybeNumber, fc.integer({ min: 0, max: 100_000 })),
  });
  const policyArb = fc.record({
    minSuccessRate: fc.double({ min: 0, max: 1, noNaN: true }),
    maxP99Ms: fc.double({ min: 1, max: 5_000, noNaN: true }),
    maxErrorRateIncrease: fc.double({ min: 0, max: 0.5, noNaN: true }),
    maxP99Ratio: fc.double({ min: 1, max: 5, noNaN: true }),
    minRequests: fc.integer({ min: 0, max: 1_000 }),
    failureLimit: fc.integer({ min: 1, max: 5 }),
    criticalSuccessRate: fc.double({ min: 0, max: 1, noNaN: true }),
    inconclusiveLimit: fc.integer({ min: 1, max: 5 }),
    customChecks: fc.array(
      fc.record({
        name: fc.constantFrom("c1", "c2", "c3"),
        query: fc.constant("q"),
        min: fc.option(fc.double({ min: -10, max: 10, noNaN: true }), { nil: undefined }),
        max: fc.option(fc.double({ min: -10, max: 10, noNaN: true }), { nil: undefined }),
      }),
      { maxLength: 3 },
    ),
  });
  const snapshotArb = fc.record({
    at: fc.constant(0),
    windowSeconds: fc.integer({ min: 1, max: 600 }),
    canaryWeight: fc.integer({ min: 0, max: 100 }),
    canary: subset,
    stable: subset,
    custom: fc.option(fc.dictionary(fc.constantFrom("c1", "c2", "c3"), maybeNumber), { nil: undefined }),
    unavailable: fc.option(fc.constant("down"), { nil: undefined }),
  });
  const isKnown = (v: number | undefined): boolean => v !== undefined && Number.isFinite(v);

  it("a passing check always carries a finite measured value", () => {
    fc.assert(
      fc.property(snapshotArb, policyArb, (snap, pol) => {
        for (const c of evaluateSnapshot(snap, pol).checks) {
          if (c.status === "pass") expect(isKnown(c.value)).toBe(true);
        }
      }),
    );
  });

  it("missing or NaN canary data is never a pass", () => {
    fc.assert(
      fc.property(snapshotArb, policyArb, (snap, pol) => {
        const { canary, stable } = snap;
        const missing =
          snap.unavailable !== undefined ||
          !isKnown(canary.requests) ||
          !isKnown(canary.successRate) ||
          !isKnown(canary.p99Ms) ||
          !isKnown(stable.successRate) ||
          !isKnown(stable.p99Ms) ||
          pol.customChecks.some((c) => !isKnown(snap.custom?.[c.name]));
        if (missing) expect(evaluateSnapshot(snap, pol).status).not.toBe("pass");
      }),
    );
  });

  it("unavailable is always inconclusive in every check", () => {
    fc.assert(
      fc.property(snapshotArb, policyArb, (snap, pol) => {
        const verdict = evaluateSnapshot({ ...snap, unavailable: "down" }, pol);
        expect(verdict.status).toBe("inconclusive");
        expect(verdict.checks.every((c) => c.status === "inconclusive")).toBe(true);
        expect(verdict.checks).toHaveLength(5 + pol.customChecks.length);
      }),
    );
  });

  it("the overall status follows the checks: any fail → fail, else any inconclusive → inconclusive", () => {
    fc.assert(
      fc.property(snapshotArb, policyArb, (snap, pol) => {
        const verdict = evaluateSnapshot(snap, pol);
        const statuses = verdict.checks.map((c) => c.status);
        const expected = statuses.includes("fail")
          ? "fail"
          : statuses.includes("inconclusive")
            ? "inconclusive"
            : "pass";
        expect(verdict.status).toBe(expected);
        // Only the success-rate check can be critical, and only when it fails.
        for (const c of verdict.checks)
          if (c.critical) expect(c).toMatchObject({ name: CheckName.SuccessRate, status: "fail" });
      }),
    );
  });
});

describe("relative checks: sample size and the statistical judge", () => {
  const threshold: AnalysisPolicy = { ...DEFAULT_ANALYSIS_POLICY, judge: "threshold" };
  const statistical = DEFAULT_ANALYSIS_POLICY;
  /** Istio's default buckets around the mesh sandbox's healthy latencies (20 ms median, 80 ms p99), per request. */
  const healthyBuckets = (n: number) => [
    { fromMs: 5, count: Math.round(n * 0.03) },
    { fromMs: 10, count: Math.round(n * 0.42) },
    { fromMs: 25, count: Math.round(n * 0.43) },
    { fromMs: 50, count: Math.round(n * 0.11) },
    { fromMs: 100, count: Math.max(1, Math.round(n * 0.01)) },
  ];
  // Issue 13's false failure: a p99 of 170 ms from 50 canary requests against a stable 92 ms.
  const fewCanaryRequests = snapshot(
    { requests: 50, p99Ms: 170, successRate: 1, latencyBuckets: healthyBuckets(50) },
    { requests: 2000, p99Ms: 92, successRate: 1, latencyBuckets: healthyBuckets(2000) },
  );

  it("threshold judge: a p99 from fewer requests than a p99 needs is inconclusive, not failed", () => {
    const ratio = check(evaluateSnapshot(fewCanaryRequests, threshold).checks, CheckName.P99VsStable);
    expect(ratio).toMatchObject({ status: "inconclusive", value: 170 });
    expect(ratio.detail).toMatch(/50 canary requests cannot support a p99 \(need 500\)/);
  });

  it("threshold judge: the stable side needs the requests too, and is named", () => {
    const verdict = evaluateSnapshot(snapshot({ requests: 900 }, { requests: 120 }), threshold);
    expect(check(verdict.checks, CheckName.P99VsStable).detail).toMatch(/120 stable requests cannot support/);
  });

  it("both judges: with 500 requests on each side the measured p99s decide", () => {
    const slow = snapshot({ requests: 500, p99Ms: 200 }, { requests: 500, p99Ms: 100 });
    for (const policy of [threshold, statistical]) {
      expect(check(evaluateSnapshot(slow, policy).checks, CheckName.P99VsStable).status).toBe("fail");
    }
  });

  it("statistical judge: the same thin sample from the same distribution is inconclusive (no rank difference)", () => {
    const ratio = check(evaluateSnapshot(fewCanaryRequests, statistical).checks, CheckName.P99VsStable);
    expect(ratio.status).toBe("inconclusive");
    expect(ratio.detail).toMatch(/do not differ with 95% confidence \(Mann-Whitney p=0\.\d+\)/);
  });

  it("statistical judge: a canary slower across its distribution fails on 50 requests", () => {
    const slow = snapshot(
      {
        requests: 50,
        p99Ms: 240,
        latencyBuckets: [
          { fromMs: 50, count: 30 },
          { fromMs: 100, count: 20 },
        ],
      },
      { requests: 2000, p99Ms: 92, latencyBuckets: healthyBuckets(2000) },
    );
    const ratio = check(evaluateSnapshot(slow, statistical).checks, CheckName.P99VsStable);
    expect(ratio.status).toBe("fail");
    expect(ratio.detail).toMatch(/slower than stable with 95% confidence \(Mann-Whitney p<0\.001\)/);
  });

  it("statistical judge: a thin p99 within the limit passes; above it without a histogram is inconclusive", () => {
    const within = snapshot({ requests: 50, p99Ms: 100 }, { requests: 2000, p99Ms: 92 });
    expect(check(evaluateSnapshot(within, statistical).checks, CheckName.P99VsStable).status).toBe("pass");
    const above = snapshot({ requests: 50, p99Ms: 170 }, { requests: 2000, p99Ms: 92 });
    const ratio = check(evaluateSnapshot(above, statistical).checks, CheckName.P99VsStable);
    expect(ratio.status).toBe("inconclusive");
    expect(ratio.detail).toMatch(/no latency histogram to test/);
  });

  describe("error rate against stable (a binomial test on the canary's errors)", () => {
    // A lower absolute floor, so that only the relative check speaks.
    const lenient = { ...statistical, minSuccessRate: 0.9 };
    const threeOf60 = snapshot({ requests: 60, errors: 3, successRate: 0.95 }, { successRate: 1 });

    it("fails a breach the count shows with the confidence asked, and names the count and p", () => {
      const errors = check(evaluateSnapshot(threeOf60, lenient).checks, CheckName.ErrorRateVsStable);
      expect(errors.status).toBe("fail");
      expect(errors.detail).toMatch(/3 of 60 canary requests failed, p=0\.022/);
    });

    it("a higher confidence turns the same count inconclusive", () => {
      const strict = { ...lenient, confidence: 0.99 };
      expect(check(evaluateSnapshot(threeOf60, strict).checks, CheckName.ErrorRateVsStable).status).toBe(
        "inconclusive",
      );
    });

    it("one error in 60 requests is above the limit, but too few requests to tell; the threshold judge fails it", () => {
      const oneOf60 = snapshot({ requests: 60, errors: 1, successRate: 59 / 60 }, { successRate: 1 });
      expect(check(evaluateSnapshot(oneOf60, lenient).checks, CheckName.ErrorRateVsStable).status).toBe(
        "inconclusive",
      );
      const byThreshold = { ...lenient, judge: "threshold" as const };
      expect(check(evaluateSnapshot(oneOf60, byThreshold).checks, CheckName.ErrorRateVsStable).status).toBe(
        "fail",
      );
    });

    it("without an error count, errors are read off the success rate", () => {
      const derived = snapshot({ requests: 60, successRate: 0.95 }, { successRate: 1 });
      expect(check(evaluateSnapshot(derived, lenient).checks, CheckName.ErrorRateVsStable).detail).toMatch(
        /3 of 60 canary requests failed/,
      );
    });
  });
});
