import { CanaryError, ErrorCode, errorMessage } from "../errors.ts";
import { describeUnreachable } from "./redis-client.ts";
import type { RedisClient } from "./redis-client.ts";

/** Error replies that mean "the server cannot answer right now", not "the command is wrong". */
const TRANSIENT_REPLY = /^(LOADING|BUSY|READONLY|TRYAGAIN|CLUSTERDOWN|MASTERDOWN|NOREPLICAS|MOVED|ASK)\b/;

/**
 * Whether a failure from ioredis is worth retrying. A `ReplyError` is the server answering a command with an
 * error (WRONGTYPE, a script error, …): retrying changes nothing, except for the few replies above. Anything else
 * ioredis throws is about the connection (refused, reset, closed, timed out, retries per request used up).
 */
export function isTransientRedisError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === "ReplyError") return TRANSIENT_REPLY.test(error.message);
  return true;
}

/**
 * Translate a vendor error into a CanaryError; CanaryErrors pass through. An answer from Redis names what was
 * being done; a failed connection says where Redis is and why it cannot be reached (when `client` is known), which
 * is what a person can act on.
 */
export function translateRedisError(error: unknown, what: string, client?: RedisClient): CanaryError {
  if (error instanceof CanaryError) return error;
  const message = errorMessage(error);
  const retryable = isTransientRedisError(error);
  const text = !retryable
    ? `Redis: ${what} failed: ${message}`
    : client && error instanceof Error && error.name !== "ReplyError"
      ? describeUnreachable(client, error)
      : `Redis unavailable: ${what}: ${message}`;
  return new CanaryError(ErrorCode.Internal, text, { retryable, cause: error });
}

/** Run one Redis interaction on `client`, translating whatever ioredis throws at this boundary. */
export async function withRedis<T>(what: string, fn: () => Promise<T>, client?: RedisClient): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw translateRedisError(error, what, client);
  }
}
