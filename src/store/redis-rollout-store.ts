import type { RedisClient } from "./redis-client.ts";
import { CanaryError, ErrorCode } from "../errors.ts";
import type { HistoryQuery, RolloutStore } from "../rollout/ports.ts";
import { targetKey } from "../rollout/target.ts";
import { TERMINAL_PHASES } from "../rollout/types.ts";
import type { AuditEntry, Rollout } from "../rollout/types.ts";
import { luaScript, runScript } from "./lua.ts";
import { translateRedisError, withRedis } from "./redis-errors.ts";

export const DEFAULT_KEY_PREFIX = "canarybot:";
/** Finished rollouts and their audit streams expire this long after they finish. */
export const DEFAULT_FINISHED_RETENTION_MS = 90 * 24 * 60 * 60 * 1000;
/**
 * Audit entries are kept this long: older ones are trimmed from a stream as new ones are appended, and a finished
 * rollout's stream expires this long after it finished (the rollout itself, its outcome and snapshots, stays for
 * `finishedRetentionMs`, so history still lists it).
 */
export const DEFAULT_AUDIT_RETENTION_MS = 30 * 24 * 60 * 60 * 1000;
export const DEFAULT_HISTORY_LIMIT = 20;
export const MAX_HISTORY_LIMIT = 500;
/** How many expired index entries one finishing rollout sweeps from each history index. */
const PRUNE_BATCH = 100;

export type RedisRolloutStoreOptions = {
  /** Prepended to every key; default `canarybot:`. On Redis Cluster use a hash tag, e.g. `{canarybot}:`. */
  prefix?: string;
  /**
   * How long a finished (promoted, rolled-back, failed) rollout and its audit stream are kept, from the save
   * that finished it. `null` keeps them forever. Default 90 days.
   */
  finishedRetentionMs?: number | null;
  /** How long audit entries are kept (see `DEFAULT_AUDIT_RETENTION_MS`). `null` keeps them as long as the rollout. */
  auditRetentionMs?: number | null;
  /** The clock audit trimming reads. Default `Date.now`. */
  now?: () => number;
};

/*
 * Claim the target and write the rollout with its first audit entries, or say who holds the claim.
 * KEYS: 1 rollout hash, 2 target claim, 3 active zset, 4 history zset, 5 service history zset,
 *       6 namespace history zset, 7 audit stream
 * ARGV: 1 id, 2 rollout JSON, 3 version, 4 createdAt, 5 a stale claim holder that may be replaced ('' = none),
 *       6.. audit entries as JSON
 */
const CREATE = luaScript(
  "create",
  `
if redis.call('EXISTS', KEYS[1]) == 1 then return {'exists'} end
local holder = redis.call('GET', KEYS[2])
if holder then
  if holder ~= ARGV[5] then return {'active', holder} end
  redis.call('ZREM', KEYS[3], holder)
end
redis.call('SET', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[1], 'json', ARGV[2], 'version', ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
redis.call('ZADD', KEYS[4], ARGV[4], ARGV[1])
redis.call('ZADD', KEYS[5], ARGV[4], ARGV[1])
redis.call('ZADD', KEYS[6], ARGV[4], ARGV[1])
for i = 6, #ARGV do redis.call('XADD', KEYS[7], '*', 'entry', ARGV[i]) end
return {'ok'}
`,
);

/*
 * Compare-and-set on the stored version, with the change's audit entries in the same step (a crash can never keep a
 * change and lose its entry); on a terminal phase, release the claim (only if it is still ours), drop the id from
 * the live index and start the retention clock.
 * KEYS: 1 rollout hash, 2 target claim, 3 active zset, 4 audit stream
 * ARGV: 1 id, 2 expected version, 3 rollout JSON (carrying expected + 1), 4 '1' when terminal,
 *       5 retention ms ('0' = keep forever), 6 audit retention ms ('0' = as long as the rollout),
 *       7 oldest audit id kept ('0' = all), 8.. audit entries as JSON
 */
const SAVE = luaScript(
  "save",
  `
local current = redis.call('HGET', KEYS[1], 'version')
if not current then return {'missing'} end
if tonumber(current) ~= tonumber(ARGV[2]) then return {'stale', current} end
redis.call('HSET', KEYS[1], 'json', ARGV[3], 'version', tonumber(ARGV[2]) + 1)
for i = 8, #ARGV do redis.call('XADD', KEYS[4], 'MINID', ARGV[7], '*', 'entry', ARGV[i]) end
if ARGV[4] == '1' then
  if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
  redis.call('ZREM', KEYS[3], ARGV[1])
  local retention = tonumber(ARGV[5])
  local audit = tonumber(ARGV[6])
  if retention > 0 then redis.call('PEXPIRE', KEYS[1], retention) end
  if audit > 0 and (retention == 0 or audit < retention) then retention = audit end
  if retention > 0 then redis.call('PEXPIRE', KEYS[4], retention) end
end
return {'ok'}
`,
);

/*
 * Append an audit entry, trimming entries older than the audit retention; a finished rollout's stream lives as long
 * as the rollout, at most the audit retention.
 * KEYS: 1 audit stream, 2 rollout hash
 * ARGV: 1 entry JSON, 2 oldest audit id kept ('0' = all), 3 audit retention ms ('0' = as long as the rollout)
 */
const APPEND_AUDIT = luaScript(
  "append-audit",
  `
local id = redis.call('XADD', KEYS[1], 'MINID', ARGV[2], '*', 'entry', ARGV[1])
local ttl = redis.call('PTTL', KEYS[2])
local audit = tonumber(ARGV[3])
if ttl > 0 and audit > 0 and audit < ttl then ttl = audit end
if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
return id
`,
);

/**
 * Rollouts in Redis. Key layout (P = prefix):
 * - `P rollout:<id>`            hash { json, version }: the rollout as JSON and its CAS version
 * - `P target:<targetKey>`      string: id of the live rollout holding the target (invariant 3)
 * - `P active`                  zset of live ids by createdAt
 * - `P history`                 zset of all ids by createdAt
 * - `P history:service:<svc>`   zset of ids by createdAt, per service
 * - `P history:namespace:<ns>`  zset of ids by createdAt, per namespace
 * - `P seq:<service>`           counter behind `nextId`
 * - `P audit:<id>`              stream of audit entries (field `entry`: JSON)
 *
 * Finished rollouts and their audit streams expire after `finishedRetentionMs`; index entries whose rollout has
 * expired are swept lazily (when read, and in bounded batches each time a rollout finishes).
 */
export class RedisRolloutStore implements RolloutStore {
  readonly #redis: RedisClient;
  readonly #prefix: string;
  readonly #retentionMs: number;
  readonly #auditRetentionMs: number;
  readonly #now: () => number;

  constructor(redis: RedisClient, options: RedisRolloutStoreOptions = {}) {
    this.#redis = redis;
    this.#prefix = options.prefix ?? DEFAULT_KEY_PREFIX;
    this.#retentionMs = retentionOption(
      "finishedRetentionMs",
      options.finishedRetentionMs,
      DEFAULT_FINISHED_RETENTION_MS,
    );
    this.#auditRetentionMs = retentionOption(
      "auditRetentionMs",
      options.auditRetentionMs,
      DEFAULT_AUDIT_RETENTION_MS,
    );
    this.#now = options.now ?? Date.now;
  }

  async nextId(service: string): Promise<string> {
    if (service.length === 0)
      throw new CanaryError(ErrorCode.InvalidInput, "a rollout id needs a service name");
    const n = await this.#withRedis(`allocate an id for ${service}`, () =>
      this.#redis.incr(this.#key("seq", service)),
    );
    return `${service}-${n}`;
  }

  async create(rollout: Rollout, audit: readonly AuditEntry[] = []): Promise<void> {
    if (TERMINAL_PHASES.includes(rollout.phase)) {
      throw new CanaryError(
        ErrorCode.InvalidInput,
        `rollout ${rollout.id} cannot be created already ${rollout.phase}`,
      );
    }
    const claim = targetKey(rollout.target, rollout.cluster);
    let replaceable = "";
    // At most two rounds: the second only when the first found a claim left behind by a rollout that is gone or
    // finished (which a terminal save would have released; this heals manual edits and partial restores).
    for (let round = 0; round < 2; round += 1) {
      const result = await this.#withRedis(`create rollout ${rollout.id}`, () =>
        runScript(
          this.#redis,
          CREATE,
          [
            this.#rolloutKey(rollout.id),
            this.#key("target", claim),
            this.#key("active"),
            this.#key("history"),
            this.#key("history", "service", rollout.target.service),
            this.#key("history", "namespace", rollout.target.namespace),
            this.#key("audit", rollout.id),
          ],
          [
            rollout.id,
            JSON.stringify(rollout),
            rollout.version,
            rollout.createdAt,
            replaceable,
            ...audit.map((entry) => JSON.stringify(entry)),
          ],
        ),
      );
      const [status, holderId] = scriptReply(result);
      if (status === "ok") return;
      if (status === "exists") {
        throw new CanaryError(ErrorCode.Conflict, `rollout ${rollout.id} already exists`);
      }
      if (holderId === undefined) break;
      const holder = await this.get(holderId);
      if (holder !== undefined && !TERMINAL_PHASES.includes(holder.phase)) {
        throw new CanaryError(
          ErrorCode.AlreadyActive,
          `${holderId} is already live on ${describeTarget(rollout)} (${holder.phase}, ${holder.appliedWeight}%)`,
        );
      }
      replaceable = holderId;
    }
    throw new CanaryError(
      ErrorCode.AlreadyActive,
      `another rollout is already live on ${describeTarget(rollout)}`,
    );
  }

  async get(id: string): Promise<Rollout | undefined> {
    const json = await this.#withRedis(`read rollout ${id}`, () =>
      this.#redis.hget(this.#rolloutKey(id), "json"),
    );
    return json === null ? undefined : parseRollout(json, id);
  }

  async save(rollout: Rollout, expectedVersion: number, audit: readonly AuditEntry[] = []): Promise<Rollout> {
    const saved: Rollout = { ...rollout, version: expectedVersion + 1 };
    const terminal = TERMINAL_PHASES.includes(rollout.phase);
    const result = await this.#withRedis(`save rollout ${rollout.id}`, () =>
      runScript(
        this.#redis,
        SAVE,
        [
          this.#rolloutKey(rollout.id),
          this.#key("target", targetKey(rollout.target, rollout.cluster)),
          this.#key("active"),
          this.#key("audit", rollout.id),
        ],
        [
          rollout.id,
          expectedVersion,
          JSON.stringify(saved),
          terminal ? "1" : "0",
          this.#retentionMs,
          this.#auditRetentionMs,
          this.#oldestAuditKept(),
          ...audit.map((entry) => JSON.stringify(entry)),
        ],
      ),
    );
    const [status, current] = scriptReply(result);
    if (status === "missing") throw new CanaryError(ErrorCode.NotFound, `rollout ${rollout.id} not found`);
    if (status === "stale") {
      throw new CanaryError(
        ErrorCode.StaleVersion,
        `rollout ${rollout.id} changed meanwhile (stored version ${current}, expected ${expectedVersion})`,
        { retryable: true },
      );
    }
    if (terminal && this.#retentionMs > 0) await this.#pruneHistory(saved);
    return saved;
  }

  async activeFor(key: string): Promise<string | undefined> {
    const id = await this.#withRedis(`read the claim on ${key}`, () =>
      this.#redis.get(this.#key("target", key)),
    );
    return id ?? undefined;
  }

  async listActive(): Promise<Rollout[]> {
    const activeKey = this.#key("active");
    const ids = await this.#withRedis("list live rollouts", () => this.#redis.zrange(activeKey, 0, "-1"));
    return await this.#loadMany(ids, [activeKey]);
  }

  async history(query: HistoryQuery): Promise<Rollout[]> {
    const limit = Math.min(Math.max(Math.trunc(query.limit ?? DEFAULT_HISTORY_LIMIT), 1), MAX_HISTORY_LIMIT);
    const index =
      query.service !== undefined
        ? this.#key("history", "service", query.service)
        : query.namespace !== undefined
          ? this.#key("history", "namespace", query.namespace)
          : this.#key("history");
    // Only the service index can hold rollouts of other namespaces.
    const namespace = query.service !== undefined ? query.namespace : undefined;
    const page = Math.max(limit, 50);
    const found: Rollout[] = [];
    for (let start = 0; found.length < limit; start += page) {
      const ids = await this.#withRedis("read rollout history", () =>
        this.#redis.zrevrange(index, start, start + page - 1),
      );
      if (ids.length === 0) break;
      for (const rollout of await this.#loadMany(ids, [index])) {
        if (namespace !== undefined && rollout.target.namespace !== namespace) continue;
        found.push(rollout);
        if (found.length === limit) break;
      }
      if (ids.length < page) break;
    }
    return found;
  }

  async appendAudit(entry: AuditEntry): Promise<void> {
    await this.#withRedis(`append to the audit log of ${entry.rolloutId}`, () =>
      runScript(
        this.#redis,
        APPEND_AUDIT,
        [this.#key("audit", entry.rolloutId), this.#rolloutKey(entry.rolloutId)],
        [JSON.stringify(entry), this.#oldestAuditKept(), this.#auditRetentionMs],
      ),
    );
  }

  async audit(rolloutId: string): Promise<AuditEntry[]> {
    const records = await this.#withRedis(`read the audit log of ${rolloutId}`, () =>
      this.#redis.xrange(this.#key("audit", rolloutId), "-", "+"),
    );
    return records.map(([streamId, fields]) => {
      const at = fields.indexOf("entry");
      const json = at >= 0 && at % 2 === 0 ? fields[at + 1] : undefined;
      if (json === undefined) {
        throw new CanaryError(
          ErrorCode.Internal,
          `audit entry ${streamId} of ${rolloutId} has no entry field`,
        );
      }
      return parseJson<AuditEntry>(json, `audit entry ${streamId} of ${rolloutId}`);
    });
  }

  /** One Redis interaction, its failure translated (a connection failure says where Redis is and why). */
  #withRedis<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return withRedis(what, fn, this.#redis);
  }

  #key(...parts: string[]): string {
    return this.#prefix + parts.join(":");
  }

  #rolloutKey(id: string): string {
    return this.#key("rollout", id);
  }

  /** The stream id (ms since the epoch) before which audit entries are trimmed; "0" keeps them all. */
  #oldestAuditKept(): string {
    return this.#auditRetentionMs > 0 ? `${Math.max(0, this.#now() - this.#auditRetentionMs)}-0` : "0";
  }

  /** Read rollouts by id in order, skipping (and unindexing from `indexes`) ids whose rollout has expired. */
  async #loadMany(ids: readonly string[], indexes: readonly string[]): Promise<Rollout[]> {
    if (ids.length === 0) return [];
    const replies = await this.#withRedis("read rollouts", async () => {
      const pipeline = this.#redis.pipeline();
      for (const id of ids) pipeline.hget(this.#rolloutKey(id), "json");
      return (await pipeline.exec()) ?? [];
    });
    const rollouts: Rollout[] = [];
    const gone: string[] = [];
    ids.forEach((id, i) => {
      const [error, json] = replies[i] ?? [new Error("no reply"), null];
      if (error) throw translateRedisError(error, `read rollout ${id}`, this.#redis);
      if (typeof json === "string") rollouts.push(parseRollout(json, id));
      else gone.push(id);
    });
    if (gone.length > 0) {
      await this.#withRedis("unindex expired rollouts", async () => {
        const pipeline = this.#redis.pipeline();
        for (const index of indexes) pipeline.zrem(index, ...gone);
        await pipeline.exec();
      });
    }
    return rollouts;
  }

  /**
   * Bounded housekeeping when a rollout finishes: in each history index it belongs to, entries created before
   * the retention window whose rollout has expired are removed. Best effort: the save has already succeeded.
   */
  async #pruneHistory(rollout: Rollout): Promise<void> {
    const cutoff = rollout.updatedAt - this.#retentionMs;
    const indexes = [
      this.#key("history"),
      this.#key("history", "service", rollout.target.service),
      this.#key("history", "namespace", rollout.target.namespace),
    ];
    try {
      // One round trip for the three indexes, another only when some of them hold expired candidates.
      const reads = this.#redis.pipeline();
      for (const index of indexes) reads.zrangebyscore(index, "-inf", `(${cutoff}`, "LIMIT", 0, PRUNE_BATCH);
      const candidates = ((await reads.exec()) ?? []).map(([, ids]) =>
        Array.isArray(ids) ? ids.map(String) : [],
      );
      const ids = [...new Set(candidates.flat())];
      if (ids.length === 0) return;
      const exists = this.#redis.pipeline();
      for (const id of ids) exists.exists(this.#rolloutKey(id));
      const replies = (await exists.exec()) ?? [];
      const gone = new Set(ids.filter((_, i) => replies[i]?.[1] === 0));
      const removals = this.#redis.pipeline();
      indexes.forEach((index, i) => {
        const expired = (candidates[i] ?? []).filter((id) => gone.has(id));
        if (expired.length > 0) removals.zrem(index, ...expired);
      });
      if (removals.length > 0) await removals.exec();
    } catch {
      // Swept again when the next rollout finishes or the index is read.
    }
  }
}

/** A retention option in ms: a positive integer, `null` for "forever" (0 here), the default when absent. */
function retentionOption(name: string, value: number | null | undefined, fallback: number): number {
  const retention = value === undefined ? fallback : value;
  if (retention !== null && (!Number.isSafeInteger(retention) || retention <= 0)) {
    throw new CanaryError(
      ErrorCode.InvalidInput,
      `${name} must be a positive integer or null, got ${retention}`,
    );
  }
  return retention ?? 0;
}

function scriptReply(result: unknown): [string, string | undefined] {
  if (!Array.isArray(result) || typeof result[0] !== "string") {
    throw new CanaryError(ErrorCode.Internal, `Redis: unexpected script reply ${JSON.stringify(result)}`);
  }
  const detail: unknown = result[1];
  return [result[0], typeof detail === "string" || typeof detail === "number" ? String(detail) : undefined];
}

function describeTarget(rollout: Rollout): string {
  const { context, namespace, virtualService } = rollout.target;
  return `${context === undefined ? "" : `${context}:`}${namespace}/${virtualService}`;
}

function parseRollout(json: string, id: string): Rollout {
  return parseJson<Rollout>(json, `rollout ${id}`);
}

function parseJson<T>(json: string, what: string): T {
  try {
    return JSON.parse(json) as T;
  } catch (error) {
    throw new CanaryError(ErrorCode.Internal, `stored ${what} is not valid JSON`, { cause: error });
  }
}
