import { randomUUID } from "node:crypto";
import type { RedisClient } from "./redis-client.ts";
import { CanaryError, ErrorCode } from "../errors.ts";
import { exponentialDelay, retry, withJitter } from "../retry.ts";
import type { RolloutLock } from "../rollout/ports.ts";
import { luaScript, runScript } from "./lua.ts";
import { DEFAULT_KEY_PREFIX } from "./redis-rollout-store.ts";
import { withRedis } from "./redis-errors.ts";

export type RedisRolloutLockOptions = {
  /** Key prefix; the lock of rollout `x` is `<prefix>lock:x`. Default `canarybot:`. */
  prefix?: string;
  /** Lock lifetime without renewal. Default 30 s: a tick (Kubernetes + Prometheus calls) fits many times over. */
  ttlMs?: number;
  /** Renew the lock this often while `fn` runs. Default a third of `ttlMs`. */
  renewEveryMs?: number;
  /** Give up waiting for a held lock after this long with CanaryError `locked` (retryable). Default 10 s. */
  waitMs?: number;
  /** First pause between attempts to take a held lock; doubles up to 100 ms, with jitter. Default 20 ms. */
  retryDelayMs?: number;
  /**
   * Called when a renewal finds the lock no longer ours (it expired while the process stalled longer than
   * `ttlMs`). `fn` cannot be stopped from here; the store's version check refuses its save if someone else
   * has written meanwhile.
   */
  onLockLost?: (rolloutId: string) => void;
};

/** Delete the key only if it still holds our token. KEYS: 1 lock; ARGV: 1 token. */
const RELEASE = luaScript(
  "lock-release",
  `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`,
);

/** Push the expiry out only if the key still holds our token. KEYS: 1 lock; ARGV: 1 token, 2 ttl ms. */
const RENEW = luaScript(
  "lock-renew",
  `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`,
);

const MAX_RETRY_DELAY_MS = 100;

/**
 * Per-rollout mutual exclusion across processes: `SET key token NX PX ttl` on one Redis, a random token per
 * holder, compare-and-delete release and compare-and-expire renewal, so only the holder can release or extend.
 * While `fn` runs, the lock is renewed every `renewEveryMs`; it only lapses if the process stops running for
 * longer than `ttlMs` (a long GC pause, a frozen VM), which the rollout's version check covers.
 */
export class RedisRolloutLock implements RolloutLock {
  readonly #redis: RedisClient;
  readonly #prefix: string;
  readonly #ttlMs: number;
  readonly #renewEveryMs: number;
  readonly #waitMs: number;
  readonly #retryDelayMs: number;
  readonly #onLockLost: (rolloutId: string) => void;

  constructor(redis: RedisClient, options: RedisRolloutLockOptions = {}) {
    this.#redis = redis;
    this.#prefix = options.prefix ?? DEFAULT_KEY_PREFIX;
    this.#ttlMs = positive("ttlMs", options.ttlMs ?? 30_000);
    this.#renewEveryMs = positive(
      "renewEveryMs",
      options.renewEveryMs ?? Math.max(1, Math.floor(this.#ttlMs / 3)),
    );
    if (this.#renewEveryMs >= this.#ttlMs) {
      throw new CanaryError(ErrorCode.InvalidInput, "lock renewEveryMs must be shorter than ttlMs");
    }
    this.#waitMs = options.waitMs ?? 10_000;
    this.#retryDelayMs = positive("retryDelayMs", options.retryDelayMs ?? 20);
    this.#onLockLost = options.onLockLost ?? (() => {});
  }

  async withLock<T>(rolloutId: string, fn: () => Promise<T>): Promise<T> {
    const key = `${this.#prefix}lock:${rolloutId}`;
    const token = randomUUID();
    await this.#acquire(rolloutId, key, token);
    const renewal = this.#keepAlive(rolloutId, key, token);
    try {
      return await fn();
    } finally {
      renewal.stop();
      try {
        await runScript(this.#redis, RELEASE, [key], [token]);
      } catch {
        // Could not reach Redis to release: the lock lapses by itself after ttlMs.
      }
    }
  }

  async #acquire(rolloutId: string, key: string, token: string): Promise<void> {
    const deadline = Date.now() + this.#waitMs;
    await retry(
      () =>
        withRedis(
          `lock rollout ${rolloutId}`,
          () => this.#redis.set(key, token, "PX", this.#ttlMs, "NX"),
          this.#redis,
        ),
      (outcome, attempt) => {
        if (!outcome.ok || outcome.value === "OK") return undefined;
        const left = deadline - Date.now();
        if (left <= 0) {
          throw new CanaryError(
            ErrorCode.Locked,
            `rollout ${rolloutId} is busy: another change to it is in progress; try again in a moment`,
            { retryable: true },
          );
        }
        return Math.min(left, withJitter(exponentialDelay(attempt, this.#retryDelayMs, MAX_RETRY_DELAY_MS)));
      },
    );
  }

  #keepAlive(rolloutId: string, key: string, token: string): { stop(): void } {
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    const renew = async (): Promise<void> => {
      let reply: unknown;
      try {
        reply = await runScript(this.#redis, RENEW, [key], [token, this.#ttlMs]);
      } catch {
        reply = undefined; // Redis unreachable for now: try again next round, the lock may still be ours.
      }
      if (stopped) return;
      if (reply === 0) {
        stopped = true;
        this.#onLockLost(rolloutId);
        return;
      }
      schedule();
    };
    const schedule = (): void => {
      timer = setTimeout(() => void renew(), this.#renewEveryMs);
      timer.unref();
    };
    schedule();
    return {
      stop() {
        stopped = true;
        if (timer !== undefined) clearTimeout(timer);
      },
    };
  }
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw new CanaryError(ErrorCode.InvalidInput, `lock ${name} must be a positive number, got ${value}`);
  }
  return Math.ceil(value);
}
