import { errorMessage } from "../../errors.ts";
import type { Logger } from "../../rollout/ports.ts";
import type { Respond } from "../handlers.ts";
import type { Reply } from "../replies.ts";

/** A reply that never fails a listener: one that cannot be delivered is logged. */
export function safeReply(logger: Logger, send: (reply: Reply) => Promise<unknown>): Respond {
  return async (reply) => {
    try {
      await send(reply);
    } catch (error) {
      logger.warn({ err: errorMessage(error) }, "slack reply failed");
    }
  };
}
