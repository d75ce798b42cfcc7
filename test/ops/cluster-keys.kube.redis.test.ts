import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { engineHarness } from "../support/engine.ts";
import { runGatedRollout } from "../support/gated-rollout.ts";
import type { EngineHarness } from "../support/engine.ts";
import { connectRedis, deleteKeysWithPrefix } from "../support/redis.ts";

/** Redis Cluster's key slot: CRC16 (XMODEM) of the hash tag, or of the whole key when it has none, mod 16384. */
function keySlot(key: string): number {
  const open = key.indexOf("{");
  const close = open >= 0 ? key.indexOf("}", open + 1) : -1;
  const hashed = close > open + 1 ? key.slice(open + 1, close) : key;
  let crc = 0;
  for (const byte of Buffer.from(hashed)) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit += 1)
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}

describe("CANARYBOT_PREFIX as a Redis Cluster hash tag", () => {
  let h: EngineHarness;
  let tagged = "";
  beforeEach(async () => {
    h = await engineHarness("cluster-keys");
    tagged = `{${h.env.CANARYBOT_PREFIX}}`;
    h.env.CANARYBOT_PREFIX = tagged;
  });
  afterEach(async () => {
    const redis = await connectRedis();
    await deleteKeysWithPrefix(redis, `${tagged}:`);
    redis.disconnect();
    await h.cleanup();
  });

  it("puts every key a rollout, its audit, locks and tick queue write in the one slot of the tag", async () => {
    expect(keySlot("123456789")).toBe(12739); // the check value of CRC16/XMODEM, as Redis's cluster spec gives it
    const id = await runGatedRollout(h);

    const redis = await connectRedis();
    try {
      const keys: string[] = [];
      let cursor = "0";
      do {
        const [next, found] = await redis.scan(cursor, "MATCH", `*${tagged.slice(1, -1)}*`, "COUNT", 1000);
        cursor = next;
        keys.push(...found);
      } while (cursor !== "0");
      // Rollout state, audit stream, claims, ids and BullMQ's queue keys are all there, and all under the tag.
      expect(keys.some((key) => key.includes(id))).toBe(true);
      expect(keys.some((key) => key.startsWith(`${tagged}:canarybot-ticks:`))).toBe(true);
      expect(keys.filter((key) => !key.startsWith(`${tagged}:`))).toEqual([]);
      expect(new Set(keys.map(keySlot))).toEqual(new Set([keySlot(tagged)]));
    } finally {
      redis.disconnect();
    }
  }, 60_000);
});
