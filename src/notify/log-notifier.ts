import { desiredWeight } from "../rollout/plan.ts";
import type { Logger, Notifier } from "../rollout/ports.ts";
import type { Rollout } from "../rollout/types.ts";

/** Where a rollout reports when no Slack is configured (CLI-started rollouts, a headless worker): the log. */
export class LogNotifier implements Notifier {
  readonly #logger: Logger;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  update(rollout: Rollout): Promise<void> {
    this.#logger.info(
      { rollout: rollout.id, phase: rollout.phase, weight: desiredWeight(rollout), reason: rollout.reason },
      "rollout state",
    );
    return Promise.resolve();
  }

  snapshot(rollout: Rollout, text: string): Promise<void> {
    this.#logger.info({ rollout: rollout.id, checks: text }, "rollout snapshot");
    return Promise.resolve();
  }

  alert(rollout: Rollout, text: string): Promise<void> {
    // An alert is news for the channel, not a fault of this process: at warn, every CLI action would print it.
    this.#logger.info({ rollout: rollout.id, alert: text }, "rollout alert");
    return Promise.resolve();
  }
}
