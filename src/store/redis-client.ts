import { Cluster, Redis } from "ioredis";
import type { ClusterOptions, RedisOptions } from "ioredis";
import { parseRedisUrl } from "./redis-url.ts";
import type { RedisTarget } from "./redis-url.ts";

/** A connection to Redis: one node (also one found through Sentinel) or a Cluster. */
export type RedisClient = Redis | Cluster;

/** A Redis that does not accept the connection fails it after this long. */
export const REDIS_CONNECT_TIMEOUT_MS = 5_000;
/** A Redis that accepts connections but does not answer (frozen, overloaded) fails a command after this long. */
export const REDIS_COMMAND_TIMEOUT_MS = 5_000;
/** A person waits for a one-shot command: its single small reads and writes get less. */
const ONE_SHOT_TIMEOUT_MS = 3_000;

/**
 * How a process uses Redis. `one-shot`: a command-line call that reports a Redis outage and exits, so it gives
 * up after a few quick reconnects. `service`: a worker or `serve`, which rides out an outage and reconnects.
 */
export type RedisRole = "one-shot" | "service";

/** ioredis options every client of canarybot's gets: bounded connect and command time. */
export function redisOptions(role: RedisRole): RedisOptions {
  return role === "one-shot"
    ? {
        connectTimeout: ONE_SHOT_TIMEOUT_MS,
        commandTimeout: ONE_SHOT_TIMEOUT_MS,
        maxRetriesPerRequest: 1,
        retryStrategy: (times) => (times > 2 ? null : 100 * times),
      }
    : {
        connectTimeout: REDIS_CONNECT_TIMEOUT_MS,
        commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
        maxRetriesPerRequest: 3,
      };
}

/**
 * `onError` for errors that repeat on every reconnect (about once a second while Redis is away): the same message
 * is passed on once per `everyMs`, a new one at once.
 */
export function throttleRepeats(onError: (error: Error) => void, everyMs = 60_000): (error: Error) => void {
  let last: { message: string; at: number } | undefined;
  return (error) => {
    const now = Date.now();
    if (last?.message === error.message && now - last.at < everyMs) return;
    last = { message: error.message, at: now };
    onError(error);
  };
}

/** The target of a `REDIS_URL` the environment check accepted. */
export function redisTarget(url: string): RedisTarget {
  const target = parseRedisUrl(url);
  if ("error" in target) throw new Error(`REDIS_URL: ${target.error}`);
  return target;
}

/**
 * ioredis options for a Sentinel target: the Sentinels to ask, the primary's name, database and credentials, TLS to
 * both when the scheme says so. A write answered READONLY went to a primary demoted by a failover: reconnect (which
 * asks the Sentinels anew) and send it again.
 */
export function sentinelOptions(
  target: Extract<RedisTarget, { kind: "sentinel" }>,
  options: RedisOptions,
): RedisOptions {
  return {
    ...options,
    sentinels: target.sentinels,
    name: target.name,
    db: target.db,
    // Told of a failover by the Sentinels (+switch-master), the client reconnects to the new primary at once.
    failoverDetector: true,
    // Sentinels unreachable: give up as soon as the primary would (a one-shot command), else keep asking.
    ...(options.retryStrategy === undefined
      ? {}
      : { sentinelRetryStrategy: options.retryStrategy ?? (() => null) }),
    reconnectOnError: (error) => (error.message.startsWith("READONLY") ? 2 : false),
    ...(target.username ? { username: target.username } : {}),
    ...(target.password ? { password: target.password } : {}),
    ...(target.sentinelPassword ? { sentinelPassword: target.sentinelPassword } : {}),
    ...(target.tls ? { tls: {}, sentinelTLS: {}, enableTLSForSentinelMode: true } : {}),
  };
}

/**
 * ioredis Cluster options from the options of one connection: those go to every node's connection, the retry
 * strategy and offline queue to the cluster itself, which is where ioredis reads them.
 */
export function clusterOptions(
  target: Extract<RedisTarget, { kind: "cluster" }>,
  options: RedisOptions,
): ClusterOptions {
  const { retryStrategy, enableOfflineQueue, lazyConnect, ...node } = options;
  return {
    // ioredis reads a `null` strategy as "never reconnect".
    ...(retryStrategy === undefined ? {} : { clusterRetryStrategy: retryStrategy ?? (() => null) }),
    ...(enableOfflineQueue === undefined ? {} : { enableOfflineQueue }),
    ...(lazyConnect === undefined ? {} : { lazyConnect }),
    redisOptions: {
      ...node,
      ...(target.username ? { username: target.username } : {}),
      ...(target.password ? { password: target.password } : {}),
      ...(target.tls ? { tls: {} } : {}),
    },
  };
}

/** Where a Sentinel or Cluster client was pointed, for messages (ioredis keeps it, but not in a public field). */
const locations = new WeakMap<RedisClient, string>();

/** A client for `url` (any form `parseRedisUrl` reads) with `options`. */
export function openRedis(url: string, options: RedisOptions): RedisClient {
  const target = redisTarget(url);
  const hosts = (list: readonly { host: string; port: number }[]): string =>
    list.map(({ host, port }) => `${host}:${port}`).join(",");
  const scheme = target.kind !== "node" && target.tls ? "rediss" : "redis";
  switch (target.kind) {
    case "node":
      return new Redis(url, options);
    case "sentinel": {
      const client = new Redis(sentinelOptions(target, options));
      locations.set(client, `${scheme}+sentinel://${hosts(target.sentinels)}/${target.name}`);
      return client;
    }
    case "cluster": {
      const client = new Cluster(target.nodes, clusterOptions(target, options));
      locations.set(client, `${scheme}+cluster://${hosts(target.nodes)}`);
      return client;
    }
  }
}

/** The last connection failure of each client, until it is ready again: why its commands fail. */
const connectionFailures = new WeakMap<RedisClient, Error>();

/**
 * An ioredis client with canarybot's timeouts and an `error` listener (without one, ioredis prints an
 * "Unhandled error event" stack for every failed reconnect). `onError` hears a repeated failure once a minute.
 */
export function createRedisClient(
  url: string,
  options: { role: RedisRole; onError: (error: Error) => void },
): RedisClient {
  const redis = openRedis(url, redisOptions(options.role));
  const onError = throttleRepeats(options.onError);
  redis.on("error", (error: Error) => {
    connectionFailures.set(redis, error);
    onError(error);
  });
  redis.on("ready", () => connectionFailures.delete(redis));
  return redis;
}

/** `redis://host:port` of a client, for messages: never its password. */
export function redisLocation(redis: RedisClient): string {
  const known = locations.get(redis);
  if (known !== undefined || redis instanceof Cluster) return known ?? "redis+cluster://?";
  const { host, port, path, tls } = redis.options;
  if (path) return `unix:${path}`;
  return `${tls ? "rediss" : "redis"}://${host ?? "127.0.0.1"}:${port ?? 6379}`;
}

/**
 * "Redis at redis://127.0.0.1:6399 unreachable: connection refused": why a command failed for want of a
 * connection, in words. ioredis rejects the command itself with "Reached the max retries per request limit" or
 * "Connection is closed"; the reason is the connection failure the client saw before.
 */
export function describeUnreachable(redis: RedisClient, error: Error): string {
  const timedOut = error.message === "Command timed out";
  const cause = timedOut ? error : (connectionFailures.get(redis) ?? error);
  const options = redis instanceof Cluster ? (redis.options.redisOptions ?? {}) : redis.options;
  return `Redis at ${redisLocation(redis)} unreachable: ${plainReason(cause, options)}`;
}

function plainReason(error: Error, options: RedisOptions): string {
  const seconds = (ms: number | undefined): string => `${(ms ?? 0) / 1000} s`;
  if (error.message === "Command timed out") return `no answer within ${seconds(options.commandTimeout)}`;
  // ioredis's words when no Sentinel, or no Cluster node, answers.
  if (error.message.startsWith("All sentinels are unreachable")) return "no Sentinel answers";
  if (error.message.startsWith("Failed to refresh slots cache")) return "no Cluster node answers";
  switch ((error as { code?: unknown }).code) {
    case "ECONNREFUSED":
      return "connection refused";
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return "host not found";
    case "ETIMEDOUT":
      return `no connection within ${seconds(options.connectTimeout)}`;
    case "ECONNRESET":
    case "EPIPE":
      return "connection reset";
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return "host unreachable";
    default:
      return error.message;
  }
}
