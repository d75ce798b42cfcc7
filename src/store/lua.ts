import { createHash } from "node:crypto";
import type { RedisClient } from "./redis-client.ts";

export type LuaScript = { readonly name: string; readonly lua: string; readonly sha: string };

export function luaScript(name: string, lua: string): LuaScript {
  return { name, lua, sha: createHash("sha1").update(lua).digest("hex") };
}

/**
 * EVALSHA, falling back to EVAL once when the server does not have the script cached (after a restart or
 * SCRIPT FLUSH). Every key the script touches is passed in `keys`, so the scripts stay cluster-safe as long as
 * the keys share a hash slot (use a hash-tagged prefix such as `{canarybot}:` on Redis Cluster).
 */
export async function runScript(
  redis: RedisClient,
  script: LuaScript,
  keys: readonly string[],
  args: readonly (string | number)[],
): Promise<unknown> {
  try {
    return await redis.evalsha(script.sha, keys.length, ...keys, ...args);
  } catch (error) {
    if (error instanceof Error && error.message.startsWith("NOSCRIPT")) {
      return await redis.eval(script.lua, keys.length, ...keys, ...args);
    }
    throw error;
  }
}
