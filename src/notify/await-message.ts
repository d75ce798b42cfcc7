import { setTimeout as sleep } from "node:timers/promises";
import type { RolloutStore } from "../rollout/ports.ts";
import type { Rollout } from "../rollout/types.ts";

/**
 * The rollout once its message is posted (the deliverer has recorded `report.ts`), or as it is after `timeoutMs`
 * when the message could not be posted in time (Slack slow, the bot not in the channel, no deliverer running).
 * For the one reply that says whether the message is there.
 */
export async function awaitMessagePosted(
  store: Pick<RolloutStore, "get">,
  rollout: Rollout,
  timeoutMs = 3_000,
): Promise<Rollout> {
  const deadline = Date.now() + timeoutMs;
  let latest = rollout;
  while (!latest.report?.ts && Date.now() < deadline) {
    await sleep(50);
    latest = (await store.get(rollout.id)) ?? latest;
  }
  return latest;
}
