import type { App, BlockAction, ButtonAction } from "@slack/bolt";
import type { Logger } from "../../rollout/ports.ts";
import type { SlackHandlers } from "../handlers.ts";
import { isActionId } from "../render-rollout-message.ts";
import { errorReply } from "../replies.ts";
import type { Reply } from "../replies.ts";
import { safeReply } from "./reply.ts";

export type ActionListenerDeps = { handlers: Pick<SlackHandlers, "button">; logger: Logger };

/** What the button listener uses of Bolt's arguments, so a test can call it with a fake `ack`. */
export type ButtonArgs = {
  ack: () => Promise<void>;
  body: Pick<BlockAction<ButtonAction>, "user" | "channel" | "container" | "team" | "trigger_id">;
  action: Pick<ButtonAction, "action_id" | "value" | "action_ts">;
  respond: (message: Reply & { response_type: "ephemeral"; replace_original: false }) => Promise<unknown>;
};

/** A click on a rollout message's button: ack first, then hand it to the handlers; an unknown button is said so. */
export function rolloutButton(deps: ActionListenerDeps): (args: ButtonArgs) => Promise<void> {
  return async ({ ack, body, action, respond }) => {
    await ack();
    const reply = safeReply(deps.logger, (message) =>
      respond({ response_type: "ephemeral", replace_original: false, ...message }),
    );
    const container = body.container as { channel_id?: string } | undefined;
    const channel = body.channel?.id ?? container?.channel_id ?? "";
    if (!isActionId(action.action_id)) {
      await reply(errorReply("That button is not one canarybot knows; nothing changed."));
      return;
    }
    await deps.handlers.button(
      action.action_id,
      action.value,
      {
        user: body.user.id,
        channel: String(channel),
        team: body.team?.id ?? body.user.team_id ?? "",
        deliveryId: body.trigger_id ?? `${body.user.id}:${action.action_ts}`,
      },
      reply,
    );
  };
}

/** Acknowledges a delivery canarybot has nothing to do with, so Slack never retries it. */
export async function ackOnly({ ack }: { ack: () => Promise<void> }): Promise<void> {
  await ack();
}

export function registerActionListeners(app: App, deps: ActionListenerDeps): void {
  app.action<BlockAction<ButtonAction>>(
    { type: "block_actions", action_id: /^canary_/ },
    rolloutButton(deps),
  );
  // Anything else Slack may deliver to this request URL is acknowledged, so Slack never retries it.
  app.action(/^(?!canary_)/, ackOnly);
  app.shortcut(/.*/, ackOnly);
}
