import type { ConnectionOptions, RedisOptions as BullRedisOptions } from "bullmq";
import { Cluster } from "ioredis";
import type { RedisOptions } from "ioredis";
import { CanaryError, ErrorCode } from "../errors.ts";
import {
  REDIS_COMMAND_TIMEOUT_MS,
  REDIS_CONNECT_TIMEOUT_MS,
  clusterOptions,
  redisTarget,
  sentinelOptions,
} from "../store/redis-client.ts";

/** The queue ticks go through unless configured otherwise. */
export const DEFAULT_TICK_QUEUE = "canarybot-ticks";
export const TICK_JOB_NAME = "tick";

/** What a tick job carries: ids only, the store holds the state. */
export type TickJobData = { rolloutId: string; tick: number };

/** Where BullMQ connects: a `REDIS_URL` (any form, `store/redis-url.ts`) or ioredis options. */
export type RedisConnectionSource = string | RedisOptions;

/**
 * One job id per (rollout, tick), so scheduling the same tick twice adds one job. BullMQ custom ids may not
 * contain `:`, hence the dots: `rollout.reviews-12.tick.7`.
 */
export function tickJobId(rolloutId: string, tick: number): string {
  if (rolloutId.length === 0 || rolloutId.includes(":")) {
    throw new CanaryError(ErrorCode.InvalidInput, `rollout id "${rolloutId}" cannot name a tick job`);
  }
  if (!Number.isSafeInteger(tick) || tick < 0) {
    throw new CanaryError(ErrorCode.InvalidInput, `tick ${tick} of ${rolloutId} is not a whole number`);
  }
  return `rollout.${rolloutId}.tick.${tick}`;
}

export function isTickJobData(data: unknown): data is TickJobData {
  if (typeof data !== "object" || data === null) return false;
  const { rolloutId, tick } = data as Record<string, unknown>;
  return typeof rolloutId === "string" && rolloutId.length > 0 && Number.isSafeInteger(tick);
}

/**
 * Connection options for BullMQ, which creates (and closes) its own ioredis clients from them. Every connection
 * gives up connecting after a bounded time. Workers block on Redis, so BullMQ requires `maxRetriesPerRequest:
 * null` for them and a command timeout would cut their blocking reads; queues get bounded retries and a command
 * timeout, so that `schedule` fails instead of hanging while Redis is away or frozen.
 */
export function bullConnection(source: RedisConnectionSource, role: "queue" | "worker"): ConnectionOptions {
  let base: BullRedisOptions;
  if (typeof source === "string") {
    const target = redisTarget(source);
    // BullMQ builds a client only from one node's options; a Cluster it must be handed, and its owner closes it
    // (closeBullConnection): BullMQ leaves a client it was given open.
    if (target.kind === "cluster")
      return new Cluster(target.nodes, clusterOptions(target, roleOptions({}, role)));
    if (target.kind === "sentinel") return bullConnection(sentinelOptions(target, {}), role);
    base = { url: source };
  } else {
    // ioredis reads `retryStrategy: null` as "never reconnect"; BullMQ's type only allows a function or nothing.
    const { retryStrategy, ...rest } = source;
    base = retryStrategy === undefined ? rest : { ...rest, retryStrategy: retryStrategy ?? (() => null) };
  }
  return roleOptions(base, role);
}

function roleOptions(base: BullRedisOptions, role: "queue" | "worker"): BullRedisOptions {
  const bounded = { connectTimeout: REDIS_CONNECT_TIMEOUT_MS, ...base };
  return role === "worker"
    ? { ...bounded, maxRetriesPerRequest: null }
    : { commandTimeout: REDIS_COMMAND_TIMEOUT_MS, maxRetriesPerRequest: 3, ...bounded };
}

/** Close what `bullConnection` opened itself (a Cluster client), after the queue or worker using it is closed. */
export function closeBullConnection(connection: ConnectionOptions): void {
  if (connection instanceof Cluster) connection.disconnect();
}
