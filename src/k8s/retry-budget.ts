import { CanaryError, ErrorCode } from "../errors.ts";
import { exponentialDelay, withJitter } from "../retry.ts";

/** How long one Kubernetes request may take before it is abandoned. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
/** How long one router operation (a tick's write, a CLI action's restore, a preflight) may take, retries included. */
export const DEFAULT_OPERATION_BUDGET_MS = 20_000;

/**
 * One budget per router operation, so that a slow or failing API server costs a bounded time: conflicts (409, a
 * failed `test` guard) are re-read at most `maxConflicts` times; transient failures (5xx, 429, timeouts, refused
 * connections) are retried with backoff while the budget lasts. Backoff before the n-th retry: `backoffMs *
 * 2^(n-1)` capped at 2 s, with jitter (half to all of it), so that workers contending for one object spread out.
 */
export type RetryPolicy = { maxConflicts: number; backoffMs: number; budgetMs: number };

export type RetryDecision = { retry: true; delayMs: number } | { retry: false; error: CanaryError };

/**
 * What to do after attempt `attempt` of an operation failed with `failure`: wait and retry, or give up with the
 * error to throw (the failure itself when it is not worth retrying, else it with how long was spent).
 */
export function decideRetry(
  policy: RetryPolicy,
  state: { attempt: number; conflicts: number; elapsedMs: number; failure: CanaryError },
  random: () => number = Math.random,
): RetryDecision {
  const { attempt, conflicts, elapsedMs, failure } = state;
  const transient = failure.code === ErrorCode.Conflict || failure.code === ErrorCode.KubernetesUnavailable;
  if (!failure.retryable || !transient) return { retry: false, error: failure };
  const delayMs = withJitter(exponentialDelay(attempt, policy.backoffMs, 2_000), random);
  const outOfConflicts = failure.code === ErrorCode.Conflict && conflicts >= policy.maxConflicts;
  if (!outOfConflicts && elapsedMs + delayMs < policy.budgetMs) return { retry: true, delayMs };
  const spent = outOfConflicts ? "" : ` in ${seconds(elapsedMs)} of its ${seconds(policy.budgetMs)} budget`;
  return {
    retry: false,
    error: new CanaryError(failure.code, `${failure.message} (gave up after ${attempt} attempts${spent})`, {
      retryable: true,
      cause: failure.cause,
    }),
  };
}

/** "10 s", "0.3 s". */
export function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(1))} s`;
}
