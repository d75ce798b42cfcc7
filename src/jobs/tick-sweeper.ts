import { planSweep } from "../rollout/overdue.ts";
import type { Clock, Logger, RolloutStore } from "../rollout/ports.ts";
import type { Rollout } from "../rollout/types.ts";
import { errorMessage } from "../errors.ts";

export type TickSweeperOptions = {
  store: Pick<RolloutStore, "listActive">;
  /** Enqueues a tick's job unless it is already waiting, delayed or running. */
  ensure: (rolloutId: string, tick: number) => Promise<unknown>;
  /** Tells a rollout that nobody steps it. */
  reportOverdue: (rolloutId: string, tick: number, detail: string) => Promise<void>;
  /** Whether this process takes this period's sweep (one process of many does). */
  claim: (ttlMs: number) => Promise<boolean>;
  /** Whether this process steps the rollout (it reaches the rollout's cluster). */
  serves: (rollout: Rollout) => boolean;
  clock: Clock;
  logger: Logger;
  /** How often a sweep runs. Default 5 s. */
  everyMs?: number;
};

export type TickSweeper = {
  /** One sweep now, when this process wins the period's claim; resolves when it is done. */
  sweepOnce(): Promise<void>;
  close(): Promise<void>;
};

/**
 * Every few seconds, one process per cluster enqueues the tick of every live rollout of its cluster whose saved state
 * says a tick is due and has none, and any process reports rollouts that nobody has stepped for too long. A duplicate enqueue is
 * a no-op by the tick's job id, so racing the process that is about to schedule the same tick is harmless.
 */
export function startTickSweeper(options: TickSweeperOptions): TickSweeper {
  const everyMs = options.everyMs ?? 5_000;
  let running: Promise<void> | undefined;

  const sweep = async (): Promise<void> => {
    // A little under the period, so that the next period's claim is free again.
    if (!(await options.claim(Math.max(1, everyMs - 250)))) return;
    const live = await options.store.listActive();
    const plan = planSweep(live, options.serves, options.clock.now());
    for (const { rolloutId, tick } of plan.ensure) {
      const outcome = await options.ensure(rolloutId, tick);
      if (outcome !== "present") {
        options.logger.warn({ rollout: rolloutId, tick, outcome }, "overdue tick enqueued by the sweeper");
      }
    }
    for (const { rolloutId, tick, detail } of plan.overdue) {
      await options.reportOverdue(rolloutId, tick, detail);
    }
  };

  const sweepOnce = async (): Promise<void> => {
    if (running) return running;
    running = sweep()
      .catch((error: unknown) => {
        // The next period tries again: the plan is read afresh from the saved state every time.
        options.logger.warn({ err: errorMessage(error) }, "sweep failed");
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  };

  const timer = setInterval(() => void sweepOnce(), everyMs);
  timer.unref();
  return {
    sweepOnce,
    async close() {
      clearInterval(timer);
      await running;
    },
  };
}
