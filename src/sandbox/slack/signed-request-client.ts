import { signedHeaders } from "./request-signing.ts";
import type { EphemeralMessage, SlackMessage } from "./slack-workspace.ts";
import type { SlackSandbox } from "./web-api-sandbox.ts";

export interface SignedSendOptions {
  /** Sign with the wrong secret; a Bolt app must answer 401. */
  badSignature?: boolean;
  /** Shift X-Slack-Request-Timestamp, e.g. -360 for a 6-minute-old request (Bolt refuses more than 5 minutes). */
  timestampOffsetSeconds?: number;
  /** Slack's redelivery headers, sent when it did not get an ack in time. */
  retryNum?: number;
  retryReason?: string;
}

export interface SignedResponse {
  status: number;
  body: string;
  headers: Headers;
}

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

export interface InteractionSent extends SignedResponse {
  responseUrl: string;
  triggerId: string;
}

/** What the client needs from the Web API sandbox: who the workspace is, what is posted, and minted URLs / ids. */
export type InteractionEndpoints = Pick<
  SlackSandbox,
  "identity" | "message" | "ephemerals" | "user" | "channel" | "createResponseUrl" | "createTriggerId"
>;

export interface SignedRequestClientOptions {
  /** The app's request URL, e.g. http://127.0.0.1:3000/slack/events. */
  endpoint: string;
  signingSecret: string;
  slack: InteractionEndpoints;
  /** Milliseconds since the epoch; the signature timestamp comes from it. */
  now?: () => number;
}

export interface SignedRequestClient {
  slashCommand(input: SlashCommandInput, options?: SignedSendOptions): Promise<InteractionSent>;
  /** Clicks a button that exists on a message in the sandbox, sending the block_actions payload Slack would. */
  clickButton(input: ButtonClickInput, options?: SignedSendOptions): Promise<InteractionSent>;
  /** Any interaction payload (view_submission, shortcut, ...), form-encoded as `payload=<json>`. */
  interaction(payload: Record<string, unknown>, options?: SignedSendOptions): Promise<SignedResponse>;
  /** A raw form body, signed as is. */
  sendRaw(rawBody: string, options?: SignedSendOptions): Promise<SignedResponse>;
}

/** The deprecated verification token Slack still puts in every body; Bolt ignores it. */
const VERIFICATION_TOKEN = "sandboxVerificationToken00";

/** POSTs a form body to a Slack request URL the way Slack does, signed with the given secret. */
export async function sendSignedRequest(
  endpoint: string,
  signingSecret: string,
  rawBody: string,
  options: SignedSendOptions = {},
  nowMs: number = Date.now(),
): Promise<SignedResponse> {
  const timestamp = Math.floor(nowMs / 1000) + (options.timestampOffsetSeconds ?? 0);
  const secret = options.badSignature === true ? `${signingSecret}-not-the-secret` : signingSecret;
  const response = await fetch(endpoint, {
    method: "POST",
    headers: {
      "Content-Type": "application/x-www-form-urlencoded",
      ...signedHeaders(secret, timestamp, rawBody),
      ...(options.retryNum === undefined ? {} : { "X-Slack-Retry-Num": String(options.retryNum) }),
      ...(options.retryReason === undefined ? {} : { "X-Slack-Retry-Reason": options.retryReason }),
    },
    body: rawBody,
  });
  return { status: response.status, body: await response.text(), headers: response.headers };
}

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

/** A client that sends slash commands and button clicks to a Bolt app exactly as Slack does (form body, signed). */
export function createSignedRequestClient(options: SignedRequestClientOptions): SignedRequestClient {
  const { endpoint, signingSecret, slack } = options;
  const now = options.now ?? Date.now;
  const team = { id: slack.identity.teamId, domain: slack.identity.teamDomain };
  const send = (body: string, sendOptions?: SignedSendOptions) =>
    sendSignedRequest(endpoint, signingSecret, body, sendOptions, now());

  const interaction = (payload: Record<string, unknown>, sendOptions?: SignedSendOptions) =>
    send(new URLSearchParams({ payload: JSON.stringify(payload) }).toString(), sendOptions);

  const userFields = (userId: string) => {
    const name = slack.user(userId)?.name ?? userId;
    return { id: userId, username: name, name, team_id: team.id };
  };

  return {
    async slashCommand(input, sendOptions) {
      const responseUrl = slack.createResponseUrl({
        kind: "commands",
        channel: input.channelId,
        user: input.userId,
      });
      const triggerId = slack.createTriggerId(input.userId);
      // Field order as in bodies Slack sends (bolt-js receiver fixtures).
      const fields = new URLSearchParams({
        token: VERIFICATION_TOKEN,
        team_id: team.id,
        team_domain: team.domain,
        channel_id: input.channelId,
        channel_name: slack.channel(input.channelId)?.name ?? "unknown",
        user_id: input.userId,
        user_name: slack.user(input.userId)?.name ?? input.userId,
        command: input.command ?? "/canary",
        text: input.text,
        api_app_id: slack.identity.appId,
        is_enterprise_install: String(input.isEnterpriseInstall ?? false),
      });
      if (input.enterprise !== undefined) {
        fields.set("enterprise_id", input.enterprise.id);
        fields.set("enterprise_name", input.enterprise.name);
      }
      fields.set("response_url", responseUrl);
      fields.set("trigger_id", triggerId);
      return { ...(await send(fields.toString(), sendOptions)), responseUrl, triggerId };
    },

    async clickButton(input, sendOptions) {
      const posted: SlackMessage | undefined = slack.message(input.channel, input.messageTs);
      const ephemeral: EphemeralMessage | undefined = slack
        .ephemerals({ channel: input.channel, user: input.userId })
        .find((e) => e.ts === input.messageTs);
      const source = posted ?? ephemeral;
      if (source === undefined)
        throw new Error(`no message ${input.messageTs} in ${input.channel} to click on`);
      const button = buttonsOf(source.blocks).find(
        (b) =>
          b.element.action_id === input.actionId &&
          (input.blockId === undefined || b.blockId === input.blockId),
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
      const payload = {
        type: "block_actions",
        user: userFields(input.userId),
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
            action_ts: actionTs(now()),
          },
        ],
      };
      return { ...(await interaction(payload, sendOptions)), responseUrl, triggerId };
    },

    interaction,

    sendRaw(rawBody, sendOptions) {
      return send(rawBody, sendOptions);
    },
  };
}
