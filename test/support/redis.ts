import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import type { RedisOptions } from "ioredis";

/** Integration tests talk to this Redis: `REDIS_URL`, or a local server on the default port. */
export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

const CONNECT_TIMEOUT_MS = 2_000;

const HOW_TO_START_REDIS =
  "Start one with `apt-get install -y redis-server && redis-server --daemonize yes --port 6379`, " +
  "or set REDIS_URL to a reachable server.";

/**
 * A connected ioredis client for a test. Without a reachable Redis this throws within about two seconds with
 * instructions: the *.redis.test.ts files fail, they never skip silently.
 */
export async function connectRedis(options: RedisOptions = {}): Promise<Redis> {
  const redis = new Redis(REDIS_URL, {
    lazyConnect: true,
    connectTimeout: CONNECT_TIMEOUT_MS,
    maxRetriesPerRequest: 1,
    retryStrategy: () => null,
    ...options,
  });
  let lastError: Error | undefined;
  redis.on("error", (error: Error) => {
    lastError = error; // reported through connect() below
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      redis.connect(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("timed out")), CONNECT_TIMEOUT_MS);
      }),
    ]);
    return redis;
  } catch (error) {
    redis.disconnect();
    // The connection's own error (ECONNREFUSED, …) says more than "Connection is closed".
    const reason = lastError?.message ?? (error instanceof Error ? error.message : String(error));
    throw new Error(`Cannot reach Redis at ${REDIS_URL} (${reason}). ${HOW_TO_START_REDIS}`, {
      cause: error,
    });
  } finally {
    clearTimeout(timer);
  }
}

/** A name no other test (or test run) uses: `t-<label>-<pid>-<random>`. Safe as a key prefix part and queue name. */
export function uniqueName(label: string): string {
  return `t-${label}-${process.pid}-${randomBytes(4).toString("hex")}`;
}

/** Delete every key starting with `prefix`, and nothing else. Returns how many were deleted. */
export async function deleteKeysWithPrefix(redis: Redis, prefix: string): Promise<number> {
  const pattern = `${prefix.replace(/[*?[\]\\]/g, (c) => `\\${c}`)}*`;
  let cursor = "0";
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", pattern, "COUNT", 500);
    cursor = next;
    const ours = keys.filter((key) => key.startsWith(prefix));
    if (ours.length > 0) deleted += await redis.unlink(...ours);
  } while (cursor !== "0");
  return deleted;
}

export type RedisTestContext = {
  /** A connected client, closed by `cleanup`. */
  redis: Redis;
  /** A unique key prefix for canarybot's own keys, ending in `:`. */
  prefix: string;
  /** A unique BullMQ queue name; its keys live under `bull:<queueName>:`. */
  queueName: string;
  /** Connect one more client (closed by `cleanup`), e.g. to play a second process. */
  connect(options?: RedisOptions): Promise<Redis>;
  /** Delete this test's keys (prefix and queue) and close its clients. */
  cleanup(): Promise<void>;
};

export async function redisTestContext(label: string): Promise<RedisTestContext> {
  const clients: Redis[] = [];
  const connect = async (options?: RedisOptions): Promise<Redis> => {
    const client = await connectRedis(options);
    clients.push(client);
    return client;
  };
  const redis = await connect();
  const name = uniqueName(label);
  const prefix = `${name}:`;
  const queueName = name;
  return {
    redis,
    prefix,
    queueName,
    connect,
    async cleanup() {
      await deleteKeysWithPrefix(redis, prefix);
      await deleteKeysWithPrefix(redis, `bull:${queueName}:`);
      await Promise.all(clients.map((client) => client.quit().catch(() => client.disconnect())));
    },
  };
}
