import { describe, expect, it } from "vitest";
import { CanaryError, ErrorCode, type ErrorCode as Code } from "../../src/errors.ts";
import { decideRetry, type RetryPolicy } from "../../src/k8s/retry-budget.ts";

const policy: RetryPolicy = { maxConflicts: 5, backoffMs: 50, budgetMs: 20_000 };
const failure = (code: Code, retryable = true) =>
  new CanaryError(code, `VirtualService default/reviews: ${code}`, { retryable });
const middle = () => 0.5;

describe("decideRetry", () => {
  it("backs off 50 ms doubling to a 2 s cap, with jitter between half and all of it", () => {
    const delays = [1, 2, 3, 4, 5, 6, 7].map((attempt) =>
      decideRetry(
        policy,
        { attempt, conflicts: 0, elapsedMs: 0, failure: failure(ErrorCode.KubernetesUnavailable) },
        () => 1,
      ),
    );
    expect(delays.map((decision) => (decision.retry ? decision.delayMs : undefined))).toEqual([
      50, 100, 200, 400, 800, 1_600, 2_000,
    ]);
    const low = decideRetry(
      policy,
      { attempt: 1, conflicts: 0, elapsedMs: 0, failure: failure(ErrorCode.Conflict) },
      () => 0,
    );
    expect(low).toEqual({ retry: true, delayMs: 25 });
  });

  it("retries transient failures while the budget lasts, then gives up saying how long it tried", () => {
    const timeout = failure(ErrorCode.KubernetesUnavailable);
    expect(
      decideRetry(policy, { attempt: 2, conflicts: 0, elapsedMs: 19_900, failure: timeout }, middle),
    ).toEqual({
      retry: true,
      delayMs: 75,
    });
    const decision = decideRetry(
      policy,
      { attempt: 3, conflicts: 0, elapsedMs: 19_900, failure: timeout },
      middle,
    );
    expect(decision.retry).toBe(false);
    if (decision.retry) return;
    expect(decision.error.code).toBe(ErrorCode.KubernetesUnavailable);
    expect(decision.error.retryable).toBe(true);
    expect(decision.error.message).toBe(
      "VirtualService default/reviews: kubernetes_unavailable (gave up after 3 attempts in 19.9 s of its 20 s budget)",
    );
  });

  it("re-reads after a conflict a bounded number of times, however much budget is left", () => {
    const conflict = failure(ErrorCode.Conflict);
    expect(decideRetry(policy, { attempt: 4, conflicts: 4, elapsedMs: 0, failure: conflict }).retry).toBe(
      true,
    );
    const decision = decideRetry(policy, { attempt: 5, conflicts: 5, elapsedMs: 0, failure: conflict });
    expect(decision.retry).toBe(false);
    if (!decision.retry) expect(decision.error.message).toMatch(/\(gave up after 5 attempts\)$/);
  });

  it.each([
    ["drift", failure(ErrorCode.Drift)],
    ["not_found", failure(ErrorCode.NotFound, false)],
    ["invalid_input", failure(ErrorCode.InvalidInput, false)],
    ["a retryable error of another system", failure(ErrorCode.MetricsUnavailable)],
  ])("never retries %s, and passes it through unchanged", (_name, error) => {
    expect(decideRetry(policy, { attempt: 1, conflicts: 0, elapsedMs: 0, failure: error })).toEqual({
      retry: false,
      error,
    });
  });
});
