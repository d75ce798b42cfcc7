import { setTimeout as sleep } from "node:timers/promises";
import type { MessageRef, MessageRefs } from "./delivery-records.ts";

/**
 * Where the rollout's message is once a deliverer has posted it, or undefined after `timeoutMs` when it could not
 * be posted in time (Slack slow, the bot not in the channel, no deliverer running). For the one reply that says
 * whether the message is there.
 */
export async function awaitMessagePosted(
  messages: MessageRefs,
  rolloutId: string,
  timeoutMs = 3_000,
): Promise<MessageRef | undefined> {
  const deadline = Date.now() + timeoutMs;
  let where = await messages.message(rolloutId);
  while (!where && Date.now() < deadline) {
    await sleep(50);
    where = await messages.message(rolloutId);
  }
  return where;
}
