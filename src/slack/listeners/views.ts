import type { App, SlackViewAction, ViewOutput, ViewSubmitAction } from "@slack/bolt";
import type { Logger } from "../../rollout/ports.ts";
import type { SlackHandlers } from "../handlers.ts";
import type { Reply } from "../replies.ts";
import { START_VIEW_ID } from "../start-modal.ts";
import type { StartField } from "../start-modal.ts";
import { ackOnly } from "./actions.ts";
import { safeReply } from "./reply.ts";

export type ViewListenerDeps = {
  handlers: Pick<SlackHandlers, "checkStartForm" | "startFromForm">;
  logger: Logger;
};

/** What the start form's listener uses of Bolt's arguments, so a test can call it with a fake `ack`. */
export type StartFormArgs = {
  ack: (response?: {
    response_action: "errors";
    errors: Partial<Record<StartField, string>>;
  }) => Promise<void>;
  body: Pick<SlackViewAction, "user" | "team"> & { trigger_id?: string };
  view: Pick<ViewOutput, "id" | "hash"> & Parameters<SlackHandlers["checkStartForm"]>[0];
  client: { chat: { postEphemeral(args: Reply & { channel: string; user: string }): Promise<unknown> } };
};

/**
 * The start form, submitted: problems go back with the ack, inline in the form; a sound form is acked, then
 * started, with the replies in the channel it names (else the person's own).
 */
export function startFormSubmission(deps: ViewListenerDeps): (args: StartFormArgs) => Promise<void> {
  return async ({ ack, body, view, client }) => {
    const checked = deps.handlers.checkStartForm(view);
    if (!checked.ok) {
      await ack({ response_action: "errors", errors: checked.errors });
      return;
    }
    await ack();
    const user = body.user.id;
    const channel = checked.channel ?? user;
    const reply = safeReply(deps.logger, (message) =>
      client.chat.postEphemeral({ channel, user, ...message }),
    );
    await deps.handlers.startFromForm(
      checked.options,
      { user, channel, team: body.team?.id ?? "", deliveryId: body.trigger_id ?? `${view.id}:${view.hash}` },
      reply,
    );
  };
}

export function registerViewListeners(app: App, deps: ViewListenerDeps): void {
  app.view<ViewSubmitAction>(START_VIEW_ID, startFormSubmission(deps));
  app.view({ type: "view_submission", callback_id: /^(?!canary_)/ }, ackOnly);
  app.view({ type: "view_closed", callback_id: /.*/ }, ackOnly);
}
