import type { App, SlashCommand } from "@slack/bolt";
import type { ServiceDirectory } from "../../config/services.ts";
import type { Logger } from "../../rollout/ports.ts";
import type { StartDefaults } from "../../rollout/start-request.ts";
import type { SlackHandlers } from "../handlers.ts";
import type { Reply } from "../replies.ts";
import { renderStartModal } from "../start-modal.ts";
import { safeReply } from "./reply.ts";

export type CommandListenerDeps = {
  handlers: Pick<SlackHandlers, "command">;
  /** For the start form that a bare `/canary start` opens. */
  services: Pick<ServiceDirectory, "names">;
  defaults: StartDefaults;
  logger: Logger;
};

/** What the `/canary` listener uses of Bolt's arguments, so a test can call it with a fake `ack`. */
export type CommandArgs = {
  command: Pick<SlashCommand, "text" | "user_id" | "channel_id" | "team_id" | "trigger_id">;
  ack: () => Promise<void>;
  respond: (message: Reply & { response_type: "ephemeral" }) => Promise<unknown>;
  client: {
    views: {
      open(args: { trigger_id: string; view: ReturnType<typeof renderStartModal> }): Promise<unknown>;
    };
  };
};

/** `/canary …`: ack first, then hand the text to the handlers with who asked from where. */
export function canaryCommand(deps: CommandListenerDeps): (args: CommandArgs) => Promise<void> {
  return async ({ command, ack, respond, client }) => {
    await ack();
    const origin = {
      user: command.user_id,
      channel: command.channel_id,
      team: command.team_id,
      deliveryId: command.trigger_id,
    };
    const reply = safeReply(deps.logger, (message) => respond({ response_type: "ephemeral", ...message }));
    // Slack omits `text` for a bare `/canary`: that is the help, not a crash.
    await deps.handlers.command(command.text ?? "", origin, reply, async () => {
      await client.views.open({
        trigger_id: command.trigger_id,
        view: renderStartModal({
          services: deps.services.names,
          defaults: deps.defaults,
          channel: command.channel_id,
        }),
      });
    });
  };
}

export function registerCommandListeners(app: App, deps: CommandListenerDeps): void {
  app.command(/.*/, canaryCommand(deps));
}
