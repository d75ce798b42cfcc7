import { blockActionsPayload, slashCommandPayload } from "./interaction-payloads.ts";
import type { ButtonClickInput, InteractionEndpoints, SlashCommandInput } from "./interaction-payloads.ts";
import { signedHeaders } from "./request-signing.ts";

export type { ButtonClickInput, InteractionEndpoints, SlashCommandInput } from "./interaction-payloads.ts";

export interface SignedSendOptions {
  /** Sign with the wrong secret; a Bolt app must answer 401. */
  badSignature?: boolean;
  /** Shift X-Slack-Request-Timestamp, e.g. -360 for a 6-minute-old request (Bolt refuses more than 5 minutes). */
  timestampOffsetSeconds?: number;
  /** Slack's redelivery headers, sent when it did not get an ack in time. */
  retryNum?: number;
  retryReason?: string;
  /** Default `application/x-www-form-urlencoded`, as Slack sends commands and interactions. */
  contentType?: string;
}

export interface SignedResponse {
  status: number;
  body: string;
  headers: Headers;
}

export interface InteractionSent extends SignedResponse {
  responseUrl: string;
  triggerId: string;
}

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
      "Content-Type": options.contentType ?? "application/x-www-form-urlencoded",
      ...signedHeaders(secret, timestamp, rawBody),
      ...(options.retryNum === undefined ? {} : { "X-Slack-Retry-Num": String(options.retryNum) }),
      ...(options.retryReason === undefined ? {} : { "X-Slack-Retry-Reason": options.retryReason }),
    },
    body: rawBody,
  });
  return { status: response.status, body: await response.text(), headers: response.headers };
}

/** A client that sends slash commands and button clicks to a Bolt app exactly as Slack does (form body, signed). */
export function createSignedRequestClient(options: SignedRequestClientOptions): SignedRequestClient {
  const { endpoint, signingSecret, slack } = options;
  const now = options.now ?? Date.now;
  const send = (body: string, sendOptions?: SignedSendOptions) =>
    sendSignedRequest(endpoint, signingSecret, body, sendOptions, now());

  const interaction = (payload: Record<string, unknown>, sendOptions?: SignedSendOptions) =>
    send(new URLSearchParams({ payload: JSON.stringify(payload) }).toString(), sendOptions);

  return {
    async slashCommand(input, sendOptions) {
      const { payload, responseUrl, triggerId } = slashCommandPayload(slack, input);
      const body = new URLSearchParams(payload).toString();
      return { ...(await send(body, sendOptions)), responseUrl, triggerId };
    },

    async clickButton(input, sendOptions) {
      const { payload, responseUrl, triggerId } = blockActionsPayload(slack, input, now());
      return { ...(await interaction(payload, sendOptions)), responseUrl, triggerId };
    },

    interaction,

    sendRaw(rawBody, sendOptions) {
      return send(rawBody, sendOptions);
    },
  };
}
