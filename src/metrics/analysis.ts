import {
  CheckStatus,
  RelativeJudge,
  type AnalysisPolicy,
  type CheckResult,
  type CheckUnit,
  type CustomCheck,
  type LatencyBucket,
  type MetricsSnapshot,
  type SubsetMetrics,
  type Verdict,
} from "../rollout/types.ts";
import { binomialUpperTail, mannWhitneySlowerPValue } from "./statistics.ts";

/**
 * Judging a snapshot against a policy, purely. Results are data: pass / fail / inconclusive per check.
 *
 * - A value that is missing, NaN or infinite makes its check inconclusive: never a pass (DESIGN invariant 5).
 * - With fewer canary requests than `minRequests` (or an unknown count), the canary's success-rate and latency
 *   checks are inconclusive too: a handful of requests says nothing about a 99 % success rate, and judging them
 *   would roll back (or pass) on noise. Custom checks are judged on their own.
 * - The relative checks (`error-rate-vs-stable`, `p99-vs-stable`) are judged by the policy's `judge`: a p99
 *   comparison needs 500 requests a side; below that, and for any error-rate breach, the statistical judge (the
 *   default) fails only what a test shows with the policy's confidence. See `judgeErrorBreach` and `judgeP99`.
 * - An unavailable snapshot makes every check inconclusive, with the reason.
 * - Overall: any fail → fail; else any inconclusive → inconclusive; else pass.
 */

export const CheckName = {
  RequestVolume: "request-volume",
  SuccessRate: "success-rate",
  P99Latency: "p99-latency",
  ErrorRateVsStable: "error-rate-vs-stable",
  P99VsStable: "p99-vs-stable",
} as const;
export type CheckName = (typeof CheckName)[keyof typeof CheckName];

const DEFAULT_CONFIDENCE = 0.95;

export const DEFAULT_ANALYSIS_POLICY: AnalysisPolicy = {
  minSuccessRate: 0.99,
  maxP99Ms: 500,
  maxErrorRateIncrease: 0.01,
  maxP99Ratio: 1.25,
  minRequests: 20,
  failureLimit: 2,
  criticalSuccessRate: 0.9,
  inconclusiveLimit: 3,
  customChecks: [],
  judge: RelativeJudge.Statistical,
  confidence: DEFAULT_CONFIDENCE,
};

/** Tolerance for comparisons of derived floats (1 - 0.99 is 0.010000000000000009). */
const EPSILON = 1e-9;

function known(value: number | undefined): value is number {
  return value !== undefined && Number.isFinite(value);
}

function trim(n: number, digits: number): string {
  const text = n.toFixed(digits);
  return text.includes(".") ? text.replace(/0+$/, "").replace(/\.$/, "") : text;
}

/** 0.99512 → "99.51%". */
export function formatPercent(share: number): string {
  return `${trim(share * 100, 2)}%`;
}

/** 0.01 → "1pp". */
function formatPoints(share: number): string {
  return `${trim(share * 100, 2)}pp`;
}

/** 123.4 → "123ms", 4.25 → "4.3ms". */
export function formatMs(ms: number): string {
  return `${trim(ms, Math.abs(ms) < 10 ? 1 : 0)}ms`;
}

function formatNumber(n: number): string {
  return trim(n, 4);
}

/** How one check came out, before it is named and given its threshold text. */
type Outcome = { status: CheckStatus; value?: number; detail: string; critical?: boolean };

const pass = (detail: string, value: number): Outcome => ({ status: CheckStatus.Pass, value, detail });
const fail = (detail: string, value: number, critical = false): Outcome => ({
  status: CheckStatus.Fail,
  value,
  detail,
  ...(critical ? { critical } : {}),
});
const inconclusive = (detail: string, value?: number): Outcome => ({
  status: CheckStatus.Inconclusive,
  ...(known(value) ? { value } : {}),
  detail,
});

/** The unit of each built-in check's value; custom checks are plain numbers. */
const CHECK_UNITS: Record<string, CheckUnit> = {
  [CheckName.RequestVolume]: "requests",
  [CheckName.SuccessRate]: "share",
  [CheckName.P99Latency]: "ms",
  [CheckName.ErrorRateVsStable]: "share",
  [CheckName.P99VsStable]: "ms",
};

function checkResult(name: string, threshold: string, outcome: Outcome): CheckResult {
  const unit = CHECK_UNITS[name];
  return { name, threshold, ...(unit ? { unit } : {}), ...outcome };
}

function customThreshold(check: CustomCheck): string {
  if (check.min !== undefined && check.max !== undefined) {
    return `between ${formatNumber(check.min)} and ${formatNumber(check.max)}`;
  }
  if (check.min !== undefined) return `≥ ${formatNumber(check.min)}`;
  if (check.max !== undefined) return `≤ ${formatNumber(check.max)}`;
  return "any (recorded only)";
}

/** Threshold texts of the built-in checks, before any value is known. */
function thresholds(policy: AnalysisPolicy): Record<CheckName, string> {
  return {
    [CheckName.RequestVolume]: `≥ ${policy.minRequests} requests`,
    [CheckName.SuccessRate]: `≥ ${formatPercent(policy.minSuccessRate)} (critical below ${formatPercent(policy.criticalSuccessRate)})`,
    [CheckName.P99Latency]: `≤ ${formatMs(policy.maxP99Ms)}`,
    [CheckName.ErrorRateVsStable]: `≤ stable + ${formatPoints(policy.maxErrorRateIncrease)}`,
    [CheckName.P99VsStable]: `≤ ${formatNumber(policy.maxP99Ratio)}x stable`,
  };
}

/** Overall status: any fail → fail; else any inconclusive → inconclusive; else pass (an empty list is inconclusive). */
export function overallStatus(checks: readonly CheckResult[]): CheckStatus {
  if (checks.some((c) => c.status === CheckStatus.Fail)) return CheckStatus.Fail;
  if (checks.length === 0 || checks.some((c) => c.status === CheckStatus.Inconclusive)) {
    return CheckStatus.Inconclusive;
  }
  return CheckStatus.Pass;
}

export function evaluateSnapshot(snapshot: MetricsSnapshot, policy: AnalysisPolicy): Verdict {
  if (snapshot.unavailable !== undefined) {
    const outcome = inconclusive(`metrics unavailable: ${snapshot.unavailable}`);
    const checks = [
      ...Object.entries(thresholds(policy)).map(([name, threshold]) => checkResult(name, threshold, outcome)),
      ...policy.customChecks.map((c) => checkResult(c.name, customThreshold(c), outcome)),
    ];
    return { status: CheckStatus.Inconclusive, checks, snapshot };
  }
  const checks = [
    ...builtInChecks(snapshot, policy),
    ...policy.customChecks.map((c) => customCheck(snapshot, c)),
  ];
  return { status: overallStatus(checks), checks, snapshot };
}

function builtInChecks(snapshot: MetricsSnapshot, policy: AnalysisPolicy): CheckResult[] {
  const { canary, stable } = snapshot;
  const text = thresholds(policy);
  const window = `${snapshot.windowSeconds}s`;

  const requests = canary.requests;
  const volume = !known(requests)
    ? inconclusive(`no canary traffic data in ${window}`)
    : requests < policy.minRequests
      ? inconclusive(
          `${requests} canary requests in ${window}, need ${policy.minRequests} to judge`,
          requests,
        )
      : pass(`${requests} canary requests in ${window}`, requests);
  /** Below the request volume, a judged outcome is noise: it becomes inconclusive, keeping the value. */
  const gated = (outcome: Outcome): Outcome =>
    volume.status === CheckStatus.Pass
      ? outcome
      : inconclusive(`not judged: ${volume.detail}`, outcome.value);

  const success = canary.successRate;
  const successRate = !known(success)
    ? inconclusive("no canary success rate (no requests or no data)")
    : gated(
        success < policy.criticalSuccessRate - EPSILON
          ? fail(
              `canary success rate ${formatPercent(success)} is below the critical floor ${formatPercent(policy.criticalSuccessRate)}`,
              success,
              true,
            )
          : success < policy.minSuccessRate - EPSILON
            ? fail(
                `canary success rate ${formatPercent(success)} is below ${formatPercent(policy.minSuccessRate)}`,
                success,
              )
            : pass(`canary success rate ${formatPercent(success)}`, success),
      );

  const p99 = canary.p99Ms;
  const p99Latency = !known(p99)
    ? inconclusive("no canary p99 latency (no requests or no data)")
    : gated(
        p99 > policy.maxP99Ms + EPSILON
          ? fail(`canary p99 ${formatMs(p99)} is above ${formatMs(policy.maxP99Ms)}`, p99)
          : pass(`canary p99 ${formatMs(p99)}`, p99),
      );

  const judge: JudgeSettings = {
    judge: policy.judge ?? RelativeJudge.Statistical,
    confidence: policy.confidence ?? DEFAULT_CONFIDENCE,
  };
  const suffix =
    judge.judge === RelativeJudge.Statistical ? `, ${formatPercent(judge.confidence)} confidence` : "";

  // Error rate relative to stable: canary errors <= stable errors + the allowed increase.
  let errorText = text[CheckName.ErrorRateVsStable];
  let errorRate: Outcome;
  const canaryErrors = known(success) ? 1 - success : undefined;
  if (!known(canaryErrors)) errorRate = inconclusive("no canary success rate");
  else if (!known(stable.successRate))
    errorRate = inconclusive("no stable success rate to compare with", canaryErrors);
  else {
    const stableErrors = 1 - stable.successRate;
    const limit = stableErrors + policy.maxErrorRateIncrease;
    errorText += ` (${formatPercent(limit)})${suffix}`;
    const detail = `canary error rate ${formatPercent(canaryErrors)} vs stable ${formatPercent(stableErrors)}`;
    errorRate = gated(
      canaryErrors <= limit + EPSILON
        ? pass(detail, canaryErrors)
        : judgeErrorBreach(
            canary,
            limit,
            judge,
            `${detail}: more than ${formatPoints(policy.maxErrorRateIncrease)} worse`,
            canaryErrors,
          ),
    );
  }

  // p99 relative to stable: canary p99 <= ratio x stable p99.
  let ratioText = text[CheckName.P99VsStable];
  let p99Ratio: Outcome;
  if (!known(p99)) p99Ratio = inconclusive("no canary p99 latency");
  else if (!known(stable.p99Ms)) p99Ratio = inconclusive("no stable p99 latency to compare with", p99);
  else {
    const limit = policy.maxP99Ratio * stable.p99Ms;
    ratioText += ` (${formatMs(limit)})${suffix}`;
    const detail = `canary p99 ${formatMs(p99)} vs stable ${formatMs(stable.p99Ms)}`;
    const breach = `${detail}: more than ${formatNumber(policy.maxP99Ratio)}x`;
    p99Ratio = gated(judgeP99(snapshot, p99 <= limit + EPSILON, judge, detail, breach, p99));
  }

  return [
    checkResult(CheckName.RequestVolume, text[CheckName.RequestVolume], volume),
    checkResult(CheckName.SuccessRate, text[CheckName.SuccessRate], successRate),
    checkResult(CheckName.P99Latency, text[CheckName.P99Latency], p99Latency),
    checkResult(CheckName.ErrorRateVsStable, errorText, errorRate),
    checkResult(CheckName.P99VsStable, ratioText, p99Ratio),
  ];
}

type JudgeSettings = { judge: RelativeJudge; confidence: number };

/** p-value of a test, as people read it: 0.0123 → "p=0.012". */
function formatP(p: number): string {
  return p < 0.001 ? "p<0.001" : `p=${trim(p, 3)}`;
}

/**
 * The canary errs more than stable + the allowed increase. The threshold judge fails on the measured rates. The
 * statistical judge asks how likely the canary's error count is if its true error rate were at the limit
 * (one-sided binomial test): it fails when that is below 1 - confidence, and calls the breach inconclusive
 * otherwise (two errors in 60 requests are 3.3 %, and say little about a 1 % limit).
 */
function judgeErrorBreach(
  canary: SubsetMetrics,
  limit: number,
  { judge, confidence }: JudgeSettings,
  breach: string,
  value: number,
): Outcome {
  if (judge === RelativeJudge.Threshold) return fail(breach, value);
  const requests = canary.requests;
  if (!known(requests) || !known(canary.successRate))
    return inconclusive(`${breach}; no request count to test`, value);
  const errors = known(canary.errors) ? canary.errors : Math.round(requests * (1 - canary.successRate));
  const p = binomialUpperTail(errors, requests, Math.min(1, limit));
  const tested = `${errors} of ${requests} canary requests failed, ${formatP(p)}`;
  return p < 1 - confidence - EPSILON
    ? fail(`${breach} (${tested})`, value)
    : inconclusive(
        `${breach}, but not with ${formatPercent(confidence)} confidence (${tested}): too few requests to tell`,
        value,
      );
}

/** Requests expected beyond a percentile before it is more than the slowest few requests: 5 (500 for a p99). */
const TAIL_REQUESTS = 5;

/** Requests a `quantile` (0..1) needs before a comparison of it means anything: 5 / (1 - q), 500 for a p99. */
function requestsToSupport(quantile: number): number {
  return Math.ceil(TAIL_REQUESTS / (1 - quantile) - EPSILON);
}

/**
 * The canary's p99 against the stable one. A p99 from fewer than 500 requests is the slowest handful of them
 * (from 60 requests it is the slowest), so on either side it supports no comparison:
 * - enough requests on both sides: the measured p99s decide;
 * - fewer, threshold judge: inconclusive;
 * - fewer, statistical judge: a p99 within the limit passes (no sign of a slowdown); one above it fails only when a
 *   one-sided Mann-Whitney U test on the histogram buckets finds the canary slower with the policy's confidence,
 *   and is inconclusive otherwise (or when the snapshot has no buckets to test).
 */
function judgeP99(
  snapshot: MetricsSnapshot,
  withinLimit: boolean,
  { judge, confidence }: JudgeSettings,
  detail: string,
  breach: string,
  value: number,
): Outcome {
  const { canary, stable } = snapshot;
  const needed = requestsToSupport(0.99);
  const fewest = Math.min(canary.requests ?? 0, stable.requests ?? Number.POSITIVE_INFINITY);
  if (fewest >= needed) return withinLimit ? pass(detail, value) : fail(breach, value);
  const thin = `${fewest} ${fewest === canary.requests ? "canary" : "stable"} requests cannot support a p99 (need ${needed})`;
  if (judge === RelativeJudge.Threshold) return inconclusive(`${detail}: ${thin}`, value);
  if (withinLimit) return pass(detail, value);
  if (canary.latencyBuckets === undefined || stable.latencyBuckets === undefined) {
    return inconclusive(`${breach}, but ${thin}, and no latency histogram to test`, value);
  }
  const p = mannWhitneySlowerPValue(...alignedBuckets(canary.latencyBuckets, stable.latencyBuckets));
  return p < 1 - confidence - EPSILON
    ? fail(
        `${breach}, and slower than stable with ${formatPercent(confidence)} confidence (Mann-Whitney ${formatP(p)})`,
        value,
      )
    : inconclusive(
        `${breach}, but ${thin}, and the latencies do not differ with ${formatPercent(confidence)} confidence (Mann-Whitney ${formatP(p)})`,
        value,
      );
}

/** Two subsets' bucket counts on one axis of bucket bounds, fastest first. */
function alignedBuckets(
  canary: readonly LatencyBucket[],
  stable: readonly LatencyBucket[],
): [number[], number[]] {
  const bounds = [...new Set([...canary, ...stable].map((b) => b.fromMs))].sort((a, b) => a - b);
  const counts = (buckets: readonly LatencyBucket[]): number[] => {
    const byBound = new Map(buckets.map((b) => [b.fromMs, b.count]));
    return bounds.map((bound) => byBound.get(bound) ?? 0);
  };
  return [counts(canary), counts(stable)];
}

function customCheck(snapshot: MetricsSnapshot, check: CustomCheck): CheckResult {
  const value = snapshot.custom?.[check.name];
  let outcome: Outcome;
  if (!known(value)) outcome = inconclusive("custom query returned no value");
  else if (check.min !== undefined && value < check.min - EPSILON) {
    outcome = fail(`${formatNumber(value)} is below ${formatNumber(check.min)}`, value);
  } else if (check.max !== undefined && value > check.max + EPSILON) {
    outcome = fail(`${formatNumber(value)} is above ${formatNumber(check.max)}`, value);
  } else outcome = pass(`value ${formatNumber(value)}`, value);
  return checkResult(check.name, customThreshold(check), outcome);
}
