import { Queue } from "bullmq";
import { DEFAULT_TICK_QUEUE, bullConnection, closeBullConnection } from "../jobs/tick-job.ts";
import type { RedisConnectionSource } from "../jobs/tick-job.ts";

export type TickQueueStats = {
  read(): Promise<{ counts: Record<string, number>; lagSeconds: number }>;
  close(): Promise<void>;
};

/** How many due ticks the lag looks at: enough to find the oldest, bounded so a backlog scrape stays cheap. */
const LAG_SAMPLE = 100;

/** Queue depth and tick lag, read from the tick queue itself (a read-only handle of this process's own). */
export function tickQueueStats(connection: RedisConnectionSource, prefix: string): TickQueueStats {
  const opened = bullConnection(connection, "queue");
  const queue = new Queue(DEFAULT_TICK_QUEUE, { connection: opened, prefix });
  queue.on("error", () => undefined); // a scrape while Redis is away leaves the gauges out; readiness says why
  return {
    async read() {
      const counts = await queue.getJobCounts("waiting", "delayed", "active", "failed");
      const due = await queue.getWaiting(0, LAG_SAMPLE - 1);
      const now = Date.now();
      const lagMs = Math.max(0, ...due.map((job) => now - (job.timestamp + (job.opts.delay ?? 0))));
      return { counts, lagSeconds: lagMs / 1000 };
    },
    async close() {
      await queue.close();
      closeBullConnection(opened);
    },
  };
}
