import { Queue, UnrecoverableError, Worker } from "bullmq";
import type { Job } from "bullmq";
import { isCanaryError, asError, errorMessage } from "../errors.ts";
import { exponentialDelay } from "../retry.ts";
import type { Logger } from "../rollout/ports.ts";
import {
  DEFAULT_NOTIFICATION_QUEUE,
  DeliveryRateLimited,
  isNotificationJobData,
  notificationSubject,
} from "./notification-job.ts";
import type { NotificationJobData } from "./notification-job.ts";
import { bullConnection, closeBullConnection } from "./tick-job.ts";
import type { RedisConnectionSource } from "./tick-job.ts";

/** Delivers one notification; throws `DeliveryRateLimited`, or a CanaryError saying whether a retry can help. */
export type DeliverNotification = (jobId: string, job: NotificationJobData) => Promise<void>;

export type NotificationWorkerOptions = {
  connection: RedisConnectionSource;
  deliver: DeliverNotification;
  logger: Logger;
  /** Default `canarybot-notifications`; must match the QueuedNotifier's. */
  queueName?: string;
  /** BullMQ key prefix; must match the QueuedNotifier's. */
  prefix?: string;
  /** Notifications delivered at once (one rollout's are delivered one at a time whatever this is). Default 8. */
  concurrency?: number;
  /** Longest wait between retries after a failure, ms. Default 30 s. */
  maxBackoffMs?: number;
  /**
   * How long a job taken by a process that died stays with it before another process runs it again, ms.
   * Default 10 s: a Slack call takes at most the client's timeout, and the lock is renewed while it runs.
   */
  lockDurationMs?: number;
};

export type NotificationWorker = {
  readonly queueName: string;
  waitUntilReady(): Promise<void>;
  /** Stop taking notifications and finish the one being delivered. */
  close(): Promise<void>;
};

/**
 * The BullMQ worker that delivers queued notifications, in every process that holds a bot token. A rate limit
 * pauses the whole queue for Slack's Retry-After (the job runs again without using an attempt); other
 * transient failures retry with capped exponential backoff; a permanent one (`channel_not_found`,
 * `not_in_channel`) is logged once and dropped.
 */
export function createNotificationWorker(options: NotificationWorkerOptions): NotificationWorker {
  const queueName = options.queueName ?? DEFAULT_NOTIFICATION_QUEUE;
  const { logger } = options;
  const maxBackoffMs = options.maxBackoffMs ?? 30_000;
  const lockDuration = options.lockDurationMs ?? 10_000;
  const prefix = options.prefix === undefined ? {} : { prefix: options.prefix };
  // Queue-wide rate limits are set through a queue handle.
  const limiterConnection = bullConnection(options.connection, "queue");
  const limiter = new Queue(queueName, {
    connection: limiterConnection,
    ...prefix,
  });

  const deliver = async (job: Job<NotificationJobData>): Promise<void> => {
    const data: unknown = job.data;
    const jobId = job.id ?? "";
    if (!isNotificationJobData(data) || jobId === "") {
      logger.warn({ job: jobId, data }, "notification dropped: not a notification job");
      throw new UnrecoverableError(`notification job ${jobId} carries no rollout id or digest`);
    }
    try {
      await options.deliver(jobId, data);
    } catch (error) {
      const meta = { ...notificationSubject(data), kind: data.kind, err: errorMessage(error) };
      if (error instanceof DeliveryRateLimited) {
        logger.warn({ ...meta, waitMs: error.retryAfterMs }, "slack rate limited; the queue waits");
        await limiter.rateLimit(error.retryAfterMs);
        throw Worker.RateLimitError();
      }
      if (isCanaryError(error) && !error.retryable) {
        logger.warn(meta, "notification dropped");
        throw new UnrecoverableError(errorMessage(error));
      }
      const attempts = job.opts.attempts ?? 1;
      if (job.attemptsMade + 1 >= attempts) logger.warn({ ...meta, attempts }, "notification given up");
      else logger.warn(meta, "notification failed; retrying");
      throw asError(error);
    }
  };

  const workerConnection = bullConnection(options.connection, "worker");
  const worker = new Worker<NotificationJobData>(queueName, deliver, {
    connection: workerConnection,
    ...prefix,
    concurrency: Math.max(1, Math.trunc(options.concurrency ?? 8)),
    // BullMQ honours a manual rate limit (a 429's Retry-After) only with a limiter set; this one is well above what
    // one workspace lets a bot post anyway.
    limiter: { max: 50, duration: 1000 },
    lockDuration,
    stalledInterval: Math.max(1000, Math.floor(lockDuration / 2)),
    // A process killed mid-delivery hands the job on; the delivery records keep a second run from posting twice.
    maxStalledCount: 5,
    settings: {
      backoffStrategy: (attemptsMade: number) => exponentialDelay(attemptsMade, 500, maxBackoffMs),
    },
  });
  worker.on("error", (error: Error) => logger.warn({ err: error.message }, "notification worker error"));
  limiter.on("error", (error: Error) => logger.warn({ err: error.message }, "notification queue error"));

  return {
    queueName,
    waitUntilReady: () => worker.waitUntilReady(),
    async close() {
      await worker.close();
      await limiter.close();
      closeBullConnection(workerConnection);
      closeBullConnection(limiterConnection);
    },
  };
}
