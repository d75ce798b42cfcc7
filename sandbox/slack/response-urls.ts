import { messageBlockProblems, messageTextProblems } from "./block-kit-limits.ts";
import { booleanArgument, stringArgument } from "./request-body.ts";
import { withBlockIds } from "./slack-workspace.ts";
import type { ResponseUrlPost, ResponseUrlRecord, SlackWorkspace } from "./slack-workspace.ts";

/** "You can use a response_url up to 5 times within 30 minutes" (docs.slack.dev/interactivity/handling-user-interaction). */
const MAX_USES = 5;
const LIFETIME_MS = 30 * 60 * 1000;

export interface ResponseUrlAnswer {
  status: number;
  /**
   * A short text code, as Slack's hooks answer: "ok", or an error from the incoming-webhook list (invalid_payload,
   * no_text, invalid_blocks, no_active_hooks); the codes for a used-up or expired URL are not documented.
   */
  body: string;
}

function parseJsonObject(raw: Buffer): Record<string, unknown> | undefined {
  try {
    const parsed = JSON.parse(raw.toString("utf8")) as unknown;
    return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function rejection(
  record: ResponseUrlRecord | undefined,
  body: Record<string, unknown>,
): ResponseUrlAnswer | undefined {
  if (record === undefined) return { status: 404, body: "no_active_hooks" };
  if (record.uses >= MAX_USES) return { status: 404, body: "used_url" };
  const blocks = body.blocks;
  if (blocks !== undefined && (!Array.isArray(blocks) || messageBlockProblems(blocks).length > 0)) {
    return { status: 400, body: "invalid_blocks" };
  }
  if (messageTextProblems(body.text, body.mrkdwn).length > 0) return { status: 400, body: "invalid_payload" };
  const deleting = booleanArgument(body.delete_original);
  if (!deleting && (stringArgument(body.text) ?? "") === "" && blocks === undefined) {
    return { status: 400, body: "no_text" };
  }
  return undefined;
}

/**
 * Applies a POST to a sandbox response_url the way Slack does: `delete_original` / `replace_original` act on the
 * message a button was clicked on, `response_type: "in_channel"` posts for everyone (no channel membership needed),
 * anything else is an ephemeral reply to the person who triggered it.
 */
export function postToResponseUrl(ws: SlackWorkspace, url: string, raw: Buffer): ResponseUrlAnswer {
  const body = parseJsonObject(raw);
  const record = ws.responseUrls.get(url);
  const log = (post: Omit<ResponseUrlPost, "url" | "at" | "body">): void => {
    ws.responsePosts.push({ url, at: ws.now(), body: body ?? {}, ...post });
  };
  if (body === undefined) {
    log({ status: 400, outcome: "rejected" });
    return { status: 400, body: "invalid_payload" };
  }
  const expired = record !== undefined && ws.now() - record.createdAt > LIFETIME_MS;
  const refused = expired ? { status: 404, body: "expired_url" } : rejection(record, body);
  if (refused !== undefined) {
    log({ status: refused.status, outcome: "rejected" });
    return refused;
  }
  const { target } = record!;
  record!.uses += 1;
  const text = stringArgument(body.text) ?? "";
  const blocks = Array.isArray(body.blocks) ? withBlockIds(body.blocks) : undefined;
  const original =
    target.messageTs === undefined
      ? undefined
      : target.isEphemeral === true
        ? ws.ephemerals.find((e) => e.channel === target.channel && e.ts === target.messageTs)
        : ws.findMessage(target.channel, target.messageTs);

  if (booleanArgument(body.delete_original) && original !== undefined) {
    if ("deleted" in original) original.deleted = true;
    else ws.ephemerals.splice(ws.ephemerals.indexOf(original), 1);
    log({ status: 200, outcome: "deleted" });
  } else if (booleanArgument(body.replace_original) && original !== undefined) {
    original.text = text;
    if (blocks !== undefined) original.blocks = blocks;
    if ("updates" in original) original.updates += 1;
    log({ status: 200, outcome: "replaced" });
  } else if (body.response_type === "in_channel") {
    const threadTs = stringArgument(body.thread_ts);
    ws.postMessage({
      channel: target.channel,
      user: ws.identity.botUserId,
      botId: ws.identity.botId,
      text,
      ...(blocks === undefined ? {} : { blocks }),
      ...(threadTs === undefined ? {} : { threadTs }),
    });
    log({ status: 200, outcome: "in_channel" });
  } else {
    ws.ephemerals.push({
      channel: target.channel,
      user: target.user,
      ts: ws.nextTs(),
      text,
      ...(blocks === undefined ? {} : { blocks }),
      via: "response_url",
    });
    log({ status: 200, outcome: "ephemeral" });
  }
  return { status: 200, body: "ok" };
}
