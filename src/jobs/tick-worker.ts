import { DelayedError, UnrecoverableError, Worker } from "bullmq";
import type { Job } from "bullmq";
import { ErrorCode, isCanaryError, asError } from "../errors.ts";
import { DEFAULT_TICK_QUEUE, bullConnection, closeBullConnection, isTickJobData } from "./tick-job.ts";
import type { RedisConnectionSource, TickJobData } from "./tick-job.ts";

/** Runs one tick of one rollout. Throw a CanaryError with `retryable` to say whether running it again can help. */
export type TickHandler = (rolloutId: string, tick: number) => Promise<void>;

/**
 * Called once when a tick is given up: a retryable failure used up its attempts, or a non-retryable one
 * stopped it at once (`error` tells which). The service pauses the rollout and tells the channel.
 */
export type TickExhaustedHandler = (rolloutId: string, tick: number, error: unknown) => Promise<void> | void;

export type TickWorkerOptions = {
  connection: RedisConnectionSource;
  handler: TickHandler;
  onExhausted: TickExhaustedHandler;
  /** Default `canarybot-ticks`; must match the scheduler's. */
  queueName?: string;
  /** BullMQ key prefix; must match the scheduler's. Default BullMQ's `bull`. */
  prefix?: string;
  /** Ticks this process runs at once (each waits mostly on Kubernetes and Prometheus). Default 16. */
  concurrency?: number;
  /** Worker-level errors (connection, lock renewal, a throwing `onExhausted`). Default: written to stderr. */
  onError?: (error: Error) => void;
  /** A tick of a rollout on another cluster was put back for that cluster's workers (said once per tick). */
  onLeft?: (rolloutId: string, tick: number, reason: string) => void;
  /** How long a tick left for another cluster's workers waits before any worker may take it again. Default 1 s. */
  leaveForMs?: number;
};

export type TickWorker = {
  readonly queueName: string;
  /** Resolves once the worker's connections are up. */
  waitUntilReady(): Promise<void>;
  /** Stop taking ticks and wait for the running ones to finish (graceful SIGTERM). */
  close(): Promise<void>;
};

/**
 * A BullMQ worker that turns due tick jobs into handler calls. Retryable failures (a CanaryError with
 * `retryable: true`, or any other error: an untranslated failure is assumed transient and bounded by the
 * job's attempts) go back to BullMQ for a retry with backoff; a CanaryError with `retryable: false` fails the
 * job at once through BullMQ's `UnrecoverableError`.
 */
export function createTickWorker(options: TickWorkerOptions): TickWorker {
  const queueName = options.queueName ?? DEFAULT_TICK_QUEUE;
  const onError = options.onError ?? ((error: Error) => console.error(`tick worker ${queueName}:`, error));

  const giveUp = async (rolloutId: string, tick: number, error: unknown): Promise<void> => {
    try {
      await options.onExhausted(rolloutId, tick, error);
    } catch (callbackError) {
      onError(asError(callbackError));
    }
  };

  const left = new Map<string, number>();
  const processTick = async (job: Job<TickJobData>, token?: string): Promise<void> => {
    const data: unknown = job.data;
    if (!isTickJobData(data)) {
      throw new UnrecoverableError(`tick job ${job.id ?? "?"} carries no rollout id and tick`);
    }
    try {
      await options.handler(data.rolloutId, data.tick);
    } catch (error) {
      if (isCanaryError(error, ErrorCode.WrongCluster)) {
        // Not this worker's cluster: put the tick back, unspent, for a worker that reaches the rollout's cluster.
        if (left.get(data.rolloutId) !== data.tick)
          options.onLeft?.(data.rolloutId, data.tick, error.message);
        left.set(data.rolloutId, data.tick);
        await job.moveToDelayed(Date.now() + (options.leaveForMs ?? 1_000), token);
        throw new DelayedError();
      }
      const retryable = isRetryable(error);
      // attemptsMade counts the failed runs before this one.
      const lastAttempt = !retryable || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      if (lastAttempt) await giveUp(data.rolloutId, data.tick, error);
      if (!retryable) throw new UnrecoverableError(asError(error).message);
      throw asError(error);
    }
  };

  const connection = bullConnection(options.connection, "worker");
  const worker = new Worker<TickJobData>(queueName, processTick, {
    connection,
    ...(options.prefix === undefined ? {} : { prefix: options.prefix }),
    concurrency: Math.max(1, Math.trunc(options.concurrency ?? 16)),
  });
  worker.on("error", onError);

  return {
    queueName,
    waitUntilReady: () => worker.waitUntilReady(),
    async close() {
      await worker.close();
      closeBullConnection(connection);
    },
  };
}

function isRetryable(error: unknown): boolean {
  if (isCanaryError(error)) return error.retryable;
  if (error instanceof UnrecoverableError) return false;
  return true;
}
