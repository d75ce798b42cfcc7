import type { Clock, Logger } from "../rollout/ports.ts";
import type { RolloutService } from "../rollout/service.ts";
import type { RedisScheduledStarts } from "../store/redis-scheduled-starts.ts";
import { errorMessage } from "../errors.ts";

export type ScheduledStartRunner = { runDue(): Promise<void>; close(): Promise<void> };

/**
 * Every few seconds, start what is due. Taking a due start removes it from the schedule atomically, so with any
 * number of replicas each scheduled start starts once. A start that is refused when its time comes (a freeze, a live
 * rollout on the target, a failed preflight) is logged and kept for `list`; a failed preflight is also in the new
 * rollout's own history.
 */
export function startScheduledStartRunner(options: {
  scheduled: RedisScheduledStarts;
  service: Pick<RolloutService, "start">;
  clock: Clock;
  logger: Logger;
  everyMs?: number;
}): ScheduledStartRunner {
  let running: Promise<void> | undefined;
  const drain = async (): Promise<void> => {
    for (;;) {
      const due = await options.scheduled.takeDue(options.clock.now());
      if (!due) return;
      try {
        const rollout = await options.service.start(due.request);
        options.logger.info({ scheduled: due.id, rollout: rollout.id }, "scheduled start started");
      } catch (error) {
        const reason = errorMessage(error);
        options.logger.warn({ scheduled: due.id, err: reason }, "scheduled start refused when due");
        await options.scheduled.recordFailure(due, reason, options.clock.now());
      }
    }
  };
  const runDue = (): Promise<void> => {
    running ??= drain()
      .catch((error: unknown) => {
        options.logger.warn({ err: errorMessage(error) }, "scheduled starts");
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  };
  const timer = setInterval(() => void runDue(), options.everyMs ?? 5_000);
  timer.unref();
  return {
    runDue,
    async close() {
      clearInterval(timer);
      await running;
    },
  };
}
