import type { RedisClient } from "./redis-client.ts";
import { CanaryError, ErrorCode } from "../errors.ts";
import type { FailedScheduledStart, ScheduledStart, StartRequest } from "../rollout/types.ts";
import { luaScript, runScript } from "./lua.ts";
import { withRedis } from "./redis-errors.ts";

/** How many refused scheduled starts are kept. */
const FAILED_KEPT = 50;

/*
 * Take one due start, so that of many replicas exactly one runs it.
 * KEYS: 1 due zset, 2 starts hash; ARGV: 1 now
 */
const TAKE_DUE = luaScript(
  "take-due-start",
  `
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 1)
if #due == 0 then return false end
redis.call('ZREM', KEYS[1], due[1])
local json = redis.call('HGET', KEYS[2], due[1])
redis.call('HDEL', KEYS[2], due[1])
return json
`,
);

/**
 * Scheduled starts in Redis (P = prefix): `P scheduled` hash id → JSON, `P scheduled:due` zset of ids by start time,
 * `P scheduled:seq:<service>` the counter behind ids, `P scheduled:failed` the latest refused ones. Taking a due start
 * removes it in the same step.
 */
export class RedisScheduledStarts {
  readonly #redis: RedisClient;
  readonly #prefix: string;

  constructor(redis: RedisClient, prefix: string) {
    this.#redis = redis;
    this.#prefix = prefix;
  }

  async add(at: number, request: StartRequest, now: number): Promise<ScheduledStart> {
    const service = request.target.service;
    const n = await withRedis("number a scheduled start", () =>
      this.#redis.incr(`${this.#prefix}scheduled:seq:${service}`),
    );
    const start: ScheduledStart = { id: `${service}@${n}`, at, request, createdAt: now };
    await withRedis(`schedule ${start.id}`, () =>
      this.#redis
        .multi()
        .hset(`${this.#prefix}scheduled`, start.id, JSON.stringify(start))
        .zadd(`${this.#prefix}scheduled:due`, at, start.id)
        .exec(),
    );
    return start;
  }

  /** Every scheduled start, soonest first. */
  async list(): Promise<ScheduledStart[]> {
    const ids = await withRedis("list scheduled starts", () =>
      this.#redis.zrange(`${this.#prefix}scheduled:due`, 0, "-1"),
    );
    if (ids.length === 0) return [];
    const values = await withRedis("read scheduled starts", () =>
      this.#redis.hmget(`${this.#prefix}scheduled`, ...ids),
    );
    return values.flatMap((json) => (json === null ? [] : [JSON.parse(json) as ScheduledStart]));
  }

  /** Cancel a scheduled start; `not_found` when there is none by that id (or it has already started). */
  async cancel(id: string): Promise<ScheduledStart> {
    const [json] = await withRedis(`cancel ${id}`, () => this.#redis.hmget(`${this.#prefix}scheduled`, id));
    const removed = await withRedis(`cancel ${id}`, () =>
      this.#redis.zrem(`${this.#prefix}scheduled:due`, id),
    );
    if (!json || removed === 0) {
      throw new CanaryError(ErrorCode.NotFound, `no scheduled start ${id} (list shows the scheduled ones)`);
    }
    await withRedis(`cancel ${id}`, () => this.#redis.hdel(`${this.#prefix}scheduled`, id));
    return JSON.parse(json) as ScheduledStart;
  }

  async recordFailure(start: ScheduledStart, reason: string, now: number): Promise<void> {
    const failed: FailedScheduledStart = { ...start, failedAt: now, reason };
    const key = `${this.#prefix}scheduled:failed`;
    await withRedis(`record the refusal of ${start.id}`, () =>
      this.#redis
        .multi()
        .lpush(key, JSON.stringify(failed))
        .ltrim(key, 0, FAILED_KEPT - 1)
        .exec(),
    );
  }

  /** Scheduled starts refused when due, newest first. */
  async failures(): Promise<FailedScheduledStart[]> {
    const values = await withRedis("read refused scheduled starts", () =>
      this.#redis.lrange(`${this.#prefix}scheduled:failed`, 0, -1),
    );
    return values.map((json) => JSON.parse(json) as FailedScheduledStart);
  }

  /** Take the next start that is due at `now`, if any; it is gone from the schedule for every other taker. */
  async takeDue(now: number): Promise<ScheduledStart | undefined> {
    const json = await withRedis("take a due start", () =>
      runScript(this.#redis, TAKE_DUE, [`${this.#prefix}scheduled:due`, `${this.#prefix}scheduled`], [now]),
    );
    return typeof json === "string" ? (JSON.parse(json) as ScheduledStart) : undefined;
  }
}
