import { Redis } from "ioredis";
import { findOnPath, freePort, spawnOwned, waitUntilReady } from "./processes.ts";
import type { OwnedProcess } from "./processes.ts";

export const DEFAULT_REDIS_URL = "redis://127.0.0.1:6379";

export type DemoRedis = {
  url: string;
  /** Where it came from, for the start-up lines. */
  origin: "REDIS_URL" | "local" | "started";
  /** The redis-server the demo started, if it did. */
  process?: OwnedProcess;
};

/** Says what to do when no Redis can be had: the demo prints it as its one line and exits 2. */
export class DemoSetupError extends Error {
  override readonly name = "DemoSetupError";
}

/** Whether a Redis answers PING at `url` within about a second. */
export async function redisAnswers(url: string): Promise<boolean> {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 1_000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  redis.on("error", () => undefined); // the answer is the boolean
  try {
    await redis.connect();
    return (await redis.ping()) === "PONG";
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

/**
 * A Redis for the demo: `REDIS_URL` when set, else one answering on 127.0.0.1:6379, else `redis-server` from PATH
 * on a free port (no persistence), else a DemoSetupError saying how to install one.
 */
export async function provideRedis(
  env: Readonly<Record<string, string | undefined>>,
  localUrl = DEFAULT_REDIS_URL,
): Promise<DemoRedis> {
  if (env.REDIS_URL !== undefined && env.REDIS_URL !== "") {
    if (await redisAnswers(env.REDIS_URL)) return { url: env.REDIS_URL, origin: "REDIS_URL" };
    throw new DemoSetupError(
      `REDIS_URL=${env.REDIS_URL} does not answer; start that Redis or unset REDIS_URL`,
    );
  }
  if (await redisAnswers(localUrl)) return { url: localUrl, origin: "local" };
  const binary = findOnPath("redis-server", env);
  if (binary === undefined) {
    throw new DemoSetupError(
      "no Redis: install one (`apt-get install redis-server` or `brew install redis`) or set REDIS_URL",
    );
  }
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  const owned = spawnOwned(binary, [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--save",
    "",
    "--appendonly",
    "no",
  ]);
  try {
    await waitUntilReady(`redis-server on port ${port}`, owned, () => redisAnswers(url), 10_000);
  } catch (error) {
    await owned.stop();
    throw error;
  }
  return { url, origin: "started", process: owned };
}

/** Deletes every key under `prefix` (and nothing else). */
export async function deleteKeysUnder(url: string, prefix: string): Promise<number> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1, retryStrategy: () => null });
  redis.on("error", () => undefined);
  let deleted = 0;
  try {
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 500);
      cursor = next;
      const ours = keys.filter((key) => key.startsWith(prefix));
      if (ours.length > 0) deleted += await redis.unlink(...ours);
    } while (cursor !== "0");
  } finally {
    redis.disconnect();
  }
  return deleted;
}
