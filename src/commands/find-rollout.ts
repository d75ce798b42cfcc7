import { isLive } from "../rollout/plan.ts";
import type { RolloutStore } from "../rollout/ports.ts";
import type { Rollout } from "../rollout/types.ts";

/**
 * A rollout by id, else a service's live rollout (any phase before an end: one whose end is decided but not yet
 * confirmed on the route is still live), else its newest. Slack and the command line find rollouts this one way.
 */
export async function findRollout(
  store: Pick<RolloutStore, "get" | "history">,
  ref: string,
  namespace?: string,
): Promise<Rollout | undefined> {
  const byId = await store.get(ref);
  if (byId) return byId;
  const recent = await store.history({ service: ref, ...(namespace ? { namespace } : {}), limit: 20 });
  return recent.find((rollout) => isLive(rollout.phase)) ?? recent[0];
}
