import { CanaryError, ErrorCode } from "../errors.ts";
import type { Analyzer, MetricsProvider } from "../rollout/ports.ts";
import type { MetricsSnapshot, Rollout, SubsetMetrics, Verdict } from "../rollout/types.ts";
import { evaluateSnapshot } from "./analysis.ts";

/** Judges a rollout's canary: a snapshot over the last interval, weighed against the plan's policy. */
export class MetricsAnalyzer implements Analyzer {
  readonly #provider: MetricsProvider;

  constructor(provider: MetricsProvider) {
    this.#provider = provider;
  }

  async analyze(rollout: Rollout, now: number): Promise<Verdict> {
    const policy = rollout.plan.analysis;
    if (!policy)
      throw new CanaryError(ErrorCode.Internal, `${rollout.id} has no analysis policy to judge by`);
    const snapshot = await this.#provider.snapshot(rollout, rollout.plan.intervalMs / 1000, now);
    const verdict = evaluateSnapshot(snapshot, policy);
    return verdict.snapshot ? { ...verdict, snapshot: withoutBuckets(verdict.snapshot) } : verdict;
  }
}

/**
 * The snapshot a verdict keeps, without the latency buckets: they are the rank test's input, and its outcome is in
 * the check's detail. A rollout keeps its last 50 snapshots, and the buckets would add ~250 bytes to each.
 */
function withoutBuckets(snapshot: MetricsSnapshot): MetricsSnapshot {
  const strip = ({ latencyBuckets: _buckets, ...rest }: SubsetMetrics): SubsetMetrics => rest;
  return { ...snapshot, canary: strip(snapshot.canary), stable: strip(snapshot.stable) };
}
