import { dirname } from "node:path";
import { describe, expect, it } from "vitest";
import { DemoSetupError, provideRedis, redisAnswers } from "../../../sandbox/demo/demo-redis.ts";
import { findOnPath } from "../../../sandbox/demo/processes.ts";

/** Nothing listens on port 1. */
const NOBODY = "redis://127.0.0.1:1";

describe("the demo's Redis", () => {
  it("refuses a REDIS_URL that does not answer, saying so", async () => {
    await expect(provideRedis({ REDIS_URL: NOBODY })).rejects.toThrow(
      new DemoSetupError(`REDIS_URL=${NOBODY} does not answer; start that Redis or unset REDIS_URL`),
    );
  });

  it("without REDIS_URL or a local server, starts redis-server from PATH on a free port and stops it", async () => {
    const binary = findOnPath("redis-server", process.env);
    if (binary === undefined) throw new Error("redis-server not on PATH: apt-get install -y redis-server");
    const redis = await provideRedis({ PATH: dirname(binary) }, NOBODY);
    expect(redis.origin).toBe("started");
    expect(await redisAnswers(redis.url)).toBe(true);
    await redis.process?.stop();
    expect(await redisAnswers(redis.url)).toBe(false);
  });

  it("with none of them, says how to install one", async () => {
    await expect(provideRedis({ PATH: "" }, NOBODY)).rejects.toThrow(
      /no Redis: install one .* or set REDIS_URL/,
    );
  });
});
