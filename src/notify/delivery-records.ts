import type { RedisClient } from "../store/redis-client.ts";
import { withRedis } from "../store/redis-errors.ts";

/** Where a rollout's message lives in Slack. */
export type MessageRef = { channel: string; ts: string };

/** Reads where rollout messages live (the delivery records), for replies that link to them. */
export type MessageRefs = { message(rolloutId: string): Promise<MessageRef | undefined> };

/** What has reached the channel for one rollout, as far as Redis knows. */
export type DeliveryRecord = {
  /** The rollout message, once posted: recorded the moment Slack answers. */
  message?: MessageRef;
  /** Version of the rollout state the message shows (-1: none yet). */
  shownVersion: number;
};

export type RedisDeliveryRecordsOptions = {
  /** Key prefix, ending in `:`; one rollout's record is `<prefix>notify:<id>`. */
  prefix: string;
  /** How long a record outlives its last write. Default 14 days: longer than any rollout waits for Slack. */
  ttlSeconds?: number;
};

/**
 * The idempotency records of notification delivery, one Redis hash per rollout: the message's ts as soon as it
 * is posted, the version it shows, and the ts of every alert or snapshot reply posted, keyed by job. A job run
 * again after a crash (BullMQ hands a stalled job to another worker) finds what its first run posted and does
 * not post it twice.
 */
export class RedisDeliveryRecords {
  readonly #redis: RedisClient;
  readonly #prefix: string;
  readonly #ttlSeconds: number;

  constructor(redis: RedisClient, options: RedisDeliveryRecordsOptions) {
    this.#redis = redis;
    this.#prefix = options.prefix;
    this.#ttlSeconds = options.ttlSeconds ?? 14 * 24 * 3600;
  }

  /** Where the rollout's message lives, once posted. */
  async message(rolloutId: string): Promise<MessageRef | undefined> {
    return (await this.read(rolloutId)).message;
  }

  async read(rolloutId: string): Promise<DeliveryRecord> {
    const fields = await withRedis(`read the delivery record of ${rolloutId}`, () =>
      this.#redis.hmget(this.#key(rolloutId), "channel", "ts", "shown"),
    );
    const [channel, ts, shown] = fields;
    return {
      ...(channel && ts ? { message: { channel, ts } } : {}),
      shownVersion: shown ? Number(shown) : -1,
    };
  }

  /** The message was posted showing `version`. */
  async messagePosted(
    rolloutId: string,
    message: { channel: string; ts: string },
    version: number,
  ): Promise<void> {
    await this.#write(rolloutId, { channel: message.channel, ts: message.ts, shown: String(version) });
  }

  async shown(rolloutId: string, version: number): Promise<void> {
    await this.#write(rolloutId, { shown: String(version) });
  }

  /** The message is gone (deleted in Slack): the next delivery posts a new one. */
  async forgetMessage(rolloutId: string): Promise<void> {
    await withRedis(`forget the message of ${rolloutId}`, () =>
      this.#redis.hdel(this.#key(rolloutId), "channel", "ts", "shown"),
    );
  }

  /** The ts of what the job posted under `part` (`alert`, `reply`, `chart`), if it did. */
  async sent(rolloutId: string, jobId: string, part: string): Promise<string | undefined> {
    const ts = await withRedis(`read the delivery record of ${rolloutId}`, () =>
      this.#redis.hget(this.#key(rolloutId), `sent.${part}.${jobId}`),
    );
    return ts ?? undefined;
  }

  async markSent(rolloutId: string, jobId: string, part: string, ts: string): Promise<void> {
    await this.#write(rolloutId, { [`sent.${part}.${jobId}`]: ts });
  }

  async #write(rolloutId: string, fields: Record<string, string>): Promise<void> {
    const key = this.#key(rolloutId);
    await withRedis(`write the delivery record of ${rolloutId}`, () =>
      this.#redis.multi().hset(key, fields).expire(key, this.#ttlSeconds).exec(),
    );
  }

  #key(rolloutId: string): string {
    return `${this.#prefix}notify:${rolloutId}`;
  }
}
