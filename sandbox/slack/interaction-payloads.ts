import type { EphemeralMessage, SlackMessage } from "./slack-workspace.ts";
import type { SlackSandbox } from "./web-api-sandbox.ts";

export interface SlashCommandInput {
  text: string;
  /** Defaults to "/canary". */
  command?: string;
  userId: string;
  channelId: string;
  /** An Enterprise Grid org: adds enterprise_id / enterprise_name as Slack does. */
  enterprise?: { id: string; name: string };
  isEnterpriseInstall?: boolean;
}

export interface ButtonClickInput {
  channel: string;
  /** The message the button is on: a regular message, or an ephemeral one (by its message_ts). */
  messageTs: string;
  actionId: string;
  /** Only needed when several blocks carry a button with the same action_id. */
  blockId?: string;
  userId: string;
}

/** What the payload builders need from the Web API sandbox: who the workspace is, what is posted, minted URLs / ids. */
export type InteractionEndpoints = Pick<
  SlackSandbox,
  "identity" | "message" | "ephemerals" | "user" | "channel" | "createResponseUrl" | "createTriggerId"
>;

/** A payload Slack would deliver, with the response_url and trigger_id minted for it. */
export interface BuiltInteraction<Payload> {
  payload: Payload;
  responseUrl: string;
  triggerId: string;
}

/** The deprecated verification token Slack still puts in every body; Bolt ignores it. */
export const VERIFICATION_TOKEN = "sandboxVerificationToken00";

interface Button {
  blockId: string;
  element: Record<string, unknown>;
}

function buttonsOf(blocks: readonly unknown[] | undefined): Button[] {
  const found: Button[] = [];
  for (const block of blocks ?? []) {
    const b = block as { block_id?: string; accessory?: unknown; elements?: unknown[] };
    for (const element of [b.accessory, ...(b.elements ?? [])]) {
      const e = element as Record<string, unknown> | undefined;
      if (e?.type === "button") found.push({ blockId: b.block_id ?? "", element: e });
    }
  }
  return found;
}

function actionTs(nowMs: number): string {
  return (nowMs / 1000).toFixed(6);
}

/**
 * A slash command's fields in the order Slack sends them (bolt-js receiver fixtures): the form body of an HTTP
 * request, or the `payload` of a Socket Mode `slash_commands` envelope.
 */
export function slashCommandPayload(
  slack: InteractionEndpoints,
  input: SlashCommandInput,
): BuiltInteraction<Record<string, string>> {
  const responseUrl = slack.createResponseUrl({
    kind: "commands",
    channel: input.channelId,
    user: input.userId,
  });
  const triggerId = slack.createTriggerId(input.userId);
  const payload: Record<string, string> = {
    token: VERIFICATION_TOKEN,
    team_id: slack.identity.teamId,
    team_domain: slack.identity.teamDomain,
    channel_id: input.channelId,
    channel_name: slack.channel(input.channelId)?.name ?? "unknown",
    user_id: input.userId,
    user_name: slack.user(input.userId)?.name ?? input.userId,
    command: input.command ?? "/canary",
    text: input.text,
    api_app_id: slack.identity.appId,
    is_enterprise_install: String(input.isEnterpriseInstall ?? false),
    ...(input.enterprise === undefined
      ? {}
      : { enterprise_id: input.enterprise.id, enterprise_name: input.enterprise.name }),
    response_url: responseUrl,
    trigger_id: triggerId,
  };
  return { payload, responseUrl, triggerId };
}

/** The `block_actions` payload of a click on a button that exists on a message in the sandbox. */
export function blockActionsPayload(
  slack: InteractionEndpoints,
  input: ButtonClickInput,
  nowMs: number,
): BuiltInteraction<Record<string, unknown>> {
  const team = { id: slack.identity.teamId, domain: slack.identity.teamDomain };
  const posted: SlackMessage | undefined = slack.message(input.channel, input.messageTs);
  const ephemeral: EphemeralMessage | undefined = slack
    .ephemerals({ channel: input.channel, user: input.userId })
    .find((e) => e.ts === input.messageTs);
  const source = posted ?? ephemeral;
  if (source === undefined) throw new Error(`no message ${input.messageTs} in ${input.channel} to click on`);
  const button = buttonsOf(source.blocks).find(
    (b) =>
      b.element.action_id === input.actionId && (input.blockId === undefined || b.blockId === input.blockId),
  );
  if (button === undefined) {
    throw new Error(`message ${input.messageTs} in ${input.channel} has no button "${input.actionId}"`);
  }
  const isEphemeral = posted === undefined;
  const responseUrl = slack.createResponseUrl({
    kind: "actions",
    channel: input.channel,
    user: input.userId,
    messageTs: input.messageTs,
    isEphemeral,
  });
  const triggerId = slack.createTriggerId(input.userId);
  const { element } = button;
  const name = slack.user(input.userId)?.name ?? input.userId;
  const payload = {
    type: "block_actions",
    user: { id: input.userId, username: name, name, team_id: team.id },
    api_app_id: slack.identity.appId,
    token: VERIFICATION_TOKEN,
    container: {
      type: "message",
      message_ts: input.messageTs,
      channel_id: input.channel,
      is_ephemeral: isEphemeral,
      ...(source.threadTs === undefined ? {} : { thread_ts: source.threadTs }),
    },
    trigger_id: triggerId,
    team,
    enterprise: null,
    is_enterprise_install: false,
    channel: { id: input.channel, name: slack.channel(input.channel)?.name ?? "unknown" },
    // Slack includes the message for regular messages only; ephemeral clicks carry just the container.
    ...(posted === undefined
      ? {}
      : {
          message: {
            type: "message",
            user: posted.user,
            ...(posted.botId === undefined ? {} : { bot_id: posted.botId, app_id: slack.identity.appId }),
            text: posted.text,
            ts: posted.ts,
            team: team.id,
            blocks: posted.blocks ?? [],
            ...(posted.threadTs === undefined ? {} : { thread_ts: posted.threadTs }),
          },
        }),
    state: { values: {} },
    response_url: responseUrl,
    actions: [
      {
        action_id: element.action_id,
        block_id: button.blockId,
        text: element.text,
        ...(element.value === undefined ? {} : { value: element.value }),
        ...(element.style === undefined ? {} : { style: element.style }),
        ...(element.confirm === undefined ? {} : { confirm: element.confirm }),
        type: "button",
        action_ts: actionTs(nowMs),
      },
    ],
  };
  return { payload, responseUrl, triggerId };
}
