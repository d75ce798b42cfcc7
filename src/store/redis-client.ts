import { Redis } from "ioredis";
import type { RedisOptions } from "ioredis";

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

/** The last connection failure of each client, until it is ready again: why its commands fail. */
const connectionFailures = new WeakMap<Redis, Error>();

/**
 * An ioredis client with canarybot's timeouts and an `error` listener (without one, ioredis prints an
 * "Unhandled error event" stack for every failed reconnect). `onError` hears a repeated failure once a minute.
 */
export function createRedisClient(
  url: string,
  options: { role: RedisRole; onError: (error: Error) => void },
): Redis {
  const redis = new Redis(url, redisOptions(options.role));
  const onError = throttleRepeats(options.onError);
  redis.on("error", (error: Error) => {
    connectionFailures.set(redis, error);
    onError(error);
  });
  redis.on("ready", () => connectionFailures.delete(redis));
  return redis;
}

/** `redis://host:port` of a client, for messages: never its password. */
export function redisLocation(redis: Redis): string {
  const { host, port, path, tls } = redis.options;
  if (path) return `unix:${path}`;
  return `${tls ? "rediss" : "redis"}://${host ?? "127.0.0.1"}:${port ?? 6379}`;
}

/**
 * "Redis at redis://127.0.0.1:6399 unreachable: connection refused": why a command failed for want of a
 * connection, in words. ioredis rejects the command itself with "Reached the max retries per request limit" or
 * "Connection is closed"; the reason is the connection failure the client saw before.
 */
export function describeUnreachable(redis: Redis, error: Error): string {
  const timedOut = error.message === "Command timed out";
  const cause = timedOut ? error : (connectionFailures.get(redis) ?? error);
  return `Redis at ${redisLocation(redis)} unreachable: ${plainReason(cause, redis.options)}`;
}

function plainReason(error: Error, options: RedisOptions): string {
  const seconds = (ms: number | undefined): string => `${(ms ?? 0) / 1000} s`;
  if (error.message === "Command timed out") return `no answer within ${seconds(options.commandTimeout)}`;
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
