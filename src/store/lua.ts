import type { RedisClient } from "./redis-client.ts";

export type LuaScript = { readonly name: string; readonly lua: string };

export function luaScript(name: string, lua: string): LuaScript {
  return { name, lua };
}

type ScriptCommand = (numberOfKeys: number, ...keysAndArgs: (string | number)[]) => Promise<unknown>;

/**
 * Runs `script` as an ioredis custom command (`defineCommand`, on first use per client): EVALSHA, with ioredis
 * sending the script again when the server does not have it cached (after a restart or SCRIPT FLUSH). Every key
 * the script touches is passed in `keys`, so the scripts stay cluster-safe as long as the keys share a hash slot
 * (use a hash-tagged prefix such as `{canarybot}:` on Redis Cluster).
 */
export async function runScript(
  redis: RedisClient,
  script: LuaScript,
  keys: readonly string[],
  args: readonly (string | number)[],
): Promise<unknown> {
  const name = `canarybot:${script.name}`;
  const commands = redis as unknown as Partial<Record<string, ScriptCommand>>;
  if (commands[name] === undefined) redis.defineCommand(name, { lua: script.lua });
  const command = commands[name];
  if (command === undefined) throw new Error(`ioredis did not define the script command ${name}`);
  return command.call(redis, keys.length, ...keys, ...args);
}
