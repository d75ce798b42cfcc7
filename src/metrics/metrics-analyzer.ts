import { CanaryError, ErrorCode } from "../errors.ts";
import type { Analyzer, MetricsProvider } from "../rollout/ports.ts";
import type { Rollout, Verdict } from "../rollout/types.ts";
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
    return evaluateSnapshot(snapshot, policy);
  }
}
