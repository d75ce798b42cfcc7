import type { AnalysisPolicy, MetricsSnapshot } from "../rollout/types.ts";
import { formatUtcTime } from "../rollout/time-text.ts";

/** The thresholds a chart draws as dashed lines. */
export type ChartPolicy = Pick<AnalysisPolicy, "minSuccessRate" | "maxP99Ms">;

/** One plotted series: a value per snapshot, `null` where nothing was measured (drawn as a gap, never 0). */
export type ChartSeries = (number | null)[];

/** Everything a rollout chart plots, derived purely from the snapshots. */
export type RolloutChartData = {
  /** One `HH:MM:SS` (UTC) label per snapshot, oldest first. */
  labels: string[];
  weight: ChartSeries;
  successRate: { canary: ChartSeries; stable: ChartSeries };
  p99Ms: { canary: ChartSeries; stable: ChartSeries };
  /** Threshold lines: one constant value per snapshot, absent without a policy. */
  thresholds?: { minSuccessRatePercent: number; maxP99Ms: number };
  /** Axis ranges chosen so that the interesting part of each panel is readable. */
  ranges: {
    successRate: { min: number; max: number };
    p99Ms: { min: number; max: number };
  };
};

function finite(value: number | undefined): number | null {
  return value === undefined || !Number.isFinite(value) ? null : value;
}

function percent(share: number | undefined): number | null {
  const value = finite(share);
  return value === null ? null : round(value * 100, 4);
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

function present(series: ChartSeries[]): number[] {
  return series.flat().filter((value): value is number => value !== null);
}

/**
 * Success-rate axis: 100 % at the top, the bottom a little below the lowest value or threshold, so that
 * 99.9 % and 99 % do not collapse into one line on a 0..100 scale.
 */
function successRange(values: number[], threshold: number | undefined): { min: number; max: number } {
  const lows = threshold === undefined ? values : [...values, threshold];
  if (lows.length === 0) return { min: 90, max: 100 };
  const lowest = Math.min(...lows);
  const span = Math.max(100 - lowest, 1);
  const min = Math.max(0, Math.floor(lowest - span * 0.25));
  return { min: Math.min(min, 99), max: 100 };
}

function latencyRange(values: number[], threshold: number | undefined): { min: number; max: number } {
  const highs = threshold === undefined ? values : [...values, threshold];
  if (highs.length === 0) return { min: 0, max: 100 };
  const highest = Math.max(...highs, 1);
  return { min: 0, max: niceCeiling(highest * 1.15) };
}

/** The next "round" number (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8 × 10^n) at or above `value`. */
function niceCeiling(value: number): number {
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) {
    if (step * magnitude >= value) return step * magnitude;
  }
  return 10 * magnitude;
}

/** Turns snapshots into plot series. Snapshots marked `unavailable` keep their weight but plot no metrics. */
export function rolloutChartData(
  snapshots: readonly MetricsSnapshot[],
  policy?: ChartPolicy,
): RolloutChartData {
  const ordered = [...snapshots].sort((a, b) => a.at - b.at);
  const metric = (pick: (s: MetricsSnapshot) => number | null): ChartSeries =>
    ordered.map((s) => (s.unavailable === undefined ? pick(s) : null));

  const successRate = {
    canary: metric((s) => percent(s.canary.successRate)),
    stable: metric((s) => percent(s.stable.successRate)),
  };
  const p99Ms = {
    canary: metric((s) => finite(s.canary.p99Ms)),
    stable: metric((s) => finite(s.stable.p99Ms)),
  };
  const thresholds =
    policy === undefined
      ? undefined
      : { minSuccessRatePercent: round(policy.minSuccessRate * 100, 4), maxP99Ms: policy.maxP99Ms };

  return {
    labels: ordered.map((s) => formatUtcTime(s.at)),
    weight: ordered.map((s) => finite(s.canaryWeight)),
    successRate,
    p99Ms,
    ...(thresholds === undefined ? {} : { thresholds }),
    ranges: {
      successRate: successRange(
        present([successRate.canary, successRate.stable]),
        thresholds?.minSuccessRatePercent,
      ),
      p99Ms: latencyRange(present([p99Ms.canary, p99Ms.stable]), thresholds?.maxP99Ms),
    },
  };
}
