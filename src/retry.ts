/**
 * The one retry loop and backoff formula the adapters share. Each caller keeps its own rules (which failures
 * retry, how many times, within what budget) in `again`; this module only runs attempts and waits between them.
 * Not p-retry or exponential-backoff: both sleep with their own timer (our tests inject the sleep and the clock),
 * neither offers "equal jitter" nor a give-up decision that sees how long the operation has taken, and the
 * Kubernetes and Redis callers decide per failure, with their own error to throw.
 */

/** What one attempt gave: a value or an error. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

export const wait = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs `attempt` (numbered from 1) until `again` answers `undefined`, then ends with the last outcome: its value
 * returned, its error thrown. Otherwise `again` answers how many milliseconds to wait before the next attempt. It
 * may throw, to end with an error of its own (a translated failure, "gave up after n attempts").
 */
export async function retry<T>(
  attempt: (n: number) => Promise<T>,
  again: (outcome: Outcome<T>, n: number) => number | undefined,
  sleep: (ms: number) => Promise<void> = wait,
): Promise<T> {
  for (let n = 1; ; n += 1) {
    let outcome: Outcome<T>;
    try {
      outcome = { ok: true, value: await attempt(n) };
    } catch (error) {
      outcome = { ok: false, error };
    }
    const delayMs = again(outcome, n);
    if (delayMs === undefined) {
      if (outcome.ok) return outcome.value;
      throw outcome.error;
    }
    await sleep(delayMs);
  }
}

/** The wait before retry `n` (from 1): `initialMs`, doubling each retry, capped at `maxMs`. */
export function exponentialDelay(n: number, initialMs: number, maxMs: number): number {
  return Math.min(maxMs, initialMs * 2 ** Math.min(Math.max(n - 1, 0), 30));
}

/** Half of `delayMs` plus up to the other half at random, so that processes contending for one thing spread out. */
export function withJitter(delayMs: number, random: () => number = Math.random): number {
  return delayMs / 2 + random() * (delayMs / 2);
}
