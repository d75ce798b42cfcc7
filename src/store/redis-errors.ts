import { CanaryError, ErrorCode } from "../errors.ts";

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

/** Translate a vendor error into a CanaryError naming what was being done; CanaryErrors pass through. */
export function translateRedisError(error: unknown, what: string): CanaryError {
  if (error instanceof CanaryError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const retryable = isTransientRedisError(error);
  return new CanaryError(
    ErrorCode.Internal,
    retryable ? `Redis unavailable: ${what}: ${message}` : `Redis: ${what} failed: ${message}`,
    { retryable, cause: error },
  );
}

/** Run one Redis interaction, translating whatever ioredis throws at this boundary. */
export async function withRedis<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw translateRedisError(error, what);
  }
}
