import { createHash } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { luaScript, runScript } from "../../src/store/lua.ts";
import { ownRedisServer } from "../support/own-redis.ts";

/** SET KEYS[1] ARGV[1], answer the value and how many keys it was given. KEYS: 1; ARGV: 1 value. */
const SET_AND_COUNT = luaScript(
  "test-set-and-count",
  `redis.call("SET", KEYS[1], ARGV[1]); return { redis.call("GET", KEYS[1]), #KEYS }`,
);

const sha1 = (text: string): string => createHash("sha1").update(text).digest("hex");

// A redis-server of the test's own: SCRIPT FLUSH empties every client's script cache on the server.
let server: Awaited<ReturnType<typeof ownRedisServer>>;
let redis: Redis;

beforeAll(async () => {
  server = await ownRedisServer();
  await server.start();
  redis = new Redis(server.url, { maxRetriesPerRequest: 1 });
});

afterAll(async () => {
  redis.disconnect();
  await server.cleanup();
});

describe("runScript", () => {
  it("runs a script, and again after the server has forgotten it (SCRIPT FLUSH)", async () => {
    expect(await runScript(redis, SET_AND_COUNT, ["a"], ["1"])).toEqual(["1", 1]);
    expect(await runScript(redis, SET_AND_COUNT, ["b"], [2])).toEqual(["2", 1]);
    expect(await redis.script("EXISTS", sha1(SET_AND_COUNT.lua))).toEqual([1]);

    await redis.script("FLUSH");
    expect(await redis.script("EXISTS", sha1(SET_AND_COUNT.lua))).toEqual([0]);

    expect(await runScript(redis, SET_AND_COUNT, ["c"], ["3"])).toEqual(["3", 1]);
    expect(await redis.mget("a", "b", "c")).toEqual(["1", "2", "3"]);
  });
});
