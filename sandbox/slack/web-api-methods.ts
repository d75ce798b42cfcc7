import { messageBlockProblems, messageTextProblems, modalViewProblems } from "./block-kit-limits.ts";
import { stringArgument, structuredArgument } from "./request-body.ts";
import type { ApiArguments } from "./request-body.ts";
import { withBlockIds } from "./slack-workspace.ts";
import type { SlackMessage, SlackWorkspace } from "./slack-workspace.ts";

export type ApiResult = Record<string, unknown> & { ok: boolean };

/**
 * chat.postMessage "text" limit: since August 2018 Slack truncates longer text and still posts, with a
 * `message_truncated` warning (https://api.slack.com/changelog/2018-04-truncating-really-long-messages).
 */
export const MESSAGE_TEXT_LIMIT = 40_000;

/** trigger_id lifetime: "expires in 3 seconds" (docs.slack.dev/interactivity/handling-user-interaction). */
const TRIGGER_LIFETIME_MS = 3_000;

const fail = (error: string, extra: Record<string, unknown> = {}): ApiResult => ({
  ok: false,
  error,
  ...extra,
});

function blockFailure(error: "invalid_blocks" | "invalid_arguments", problems: string[]): ApiResult {
  const messages = problems.map((problem) => `[ERROR] ${problem}`);
  // chat.* answers carry `errors` as well; views.* answers only the metadata messages.
  return error === "invalid_blocks"
    ? fail(error, { errors: problems, response_metadata: { messages } })
    : fail(error, { response_metadata: { messages } });
}

type Blocks = { ok: true; blocks: unknown[] | undefined } | { ok: false; result: ApiResult };

/** The blocks, checked; the top-level `text` is checked here too, so every method that takes a message checks both. */
function readBlocks(args: ApiArguments): Blocks {
  const textProblems = messageTextProblems(stringArgument(args.text), structuredArgument(args.mrkdwn));
  if (textProblems.length > 0) return { ok: false, result: blockFailure("invalid_arguments", textProblems) };
  if (args.blocks === undefined) return { ok: true, blocks: undefined };
  const blocks = structuredArgument(args.blocks);
  if (!Array.isArray(blocks)) return { ok: false, result: fail("invalid_blocks_format") };
  const problems = messageBlockProblems(blocks);
  return problems.length > 0
    ? { ok: false, result: blockFailure("invalid_blocks", problems) }
    : { ok: true, blocks: withBlockIds(blocks) };
}

function truncated(text: string): { text: string; warned: boolean } {
  return text.length > MESSAGE_TEXT_LIMIT
    ? { text: text.slice(0, MESSAGE_TEXT_LIMIT), warned: true }
    : { text, warned: false };
}

const TRUNCATION_WARNING = {
  messages: [
    "[WARN] Your message was truncated but still posted. The `text` field accepts up to 40,000 characters.",
  ],
  warnings: ["message_truncated"],
};

type Postable = { ok: true; channel: string } | { ok: false; result: ApiResult };

/** Where the bot may write: Slack hides private channels it is not in and refuses public ones without chat:write.public. */
function postableChannel(ws: SlackWorkspace, reference: unknown): Postable {
  const channel = ws.findChannel(stringArgument(reference) ?? "");
  if (channel === undefined) return { ok: false, result: fail("channel_not_found") };
  if (channel.isPrivate && !channel.botIsMember) return { ok: false, result: fail("channel_not_found") };
  if (channel.isArchived) return { ok: false, result: fail("is_archived") };
  if (!channel.botIsMember && !ws.scopes.has("chat:write.public"))
    return { ok: false, result: fail("not_in_channel") };
  return { ok: true, channel: channel.id };
}

/** A message as Slack returns it in `message` fields. */
export function renderMessage(ws: SlackWorkspace, message: SlackMessage): Record<string, unknown> {
  return {
    type: "message",
    user: message.user,
    ...(message.botId === undefined ? {} : { bot_id: message.botId, app_id: ws.identity.appId }),
    text: message.text,
    ts: message.ts,
    team: ws.identity.teamId,
    ...(message.blocks === undefined ? {} : { blocks: message.blocks }),
    ...(message.threadTs === undefined ? {} : { thread_ts: message.threadTs }),
    ...(message.edited === undefined ? {} : { edited: message.edited }),
    ...(message.fileIds === undefined ? {} : { files: message.fileIds.map((id) => ({ id })) }),
  };
}

function authTest(ws: SlackWorkspace): ApiResult {
  const { identity } = ws;
  return {
    ok: true,
    url: `https://${identity.teamDomain}.slack.com/`,
    team: identity.teamName,
    user: identity.botName,
    team_id: identity.teamId,
    user_id: identity.botUserId,
    bot_id: identity.botId,
    is_enterprise_install: false,
  };
}

function postMessage(ws: SlackWorkspace, args: ApiArguments): ApiResult {
  const target = postableChannel(ws, args.channel);
  if (!target.ok) return target.result;
  const blocks = readBlocks(args);
  if (!blocks.ok) return blocks.result;
  const rawText = stringArgument(args.text) ?? "";
  if (rawText === "" && blocks.blocks === undefined && args.attachments === undefined) return fail("no_text");
  const { text, warned } = truncated(rawText);
  const threadTs = stringArgument(args.thread_ts);
  const message = ws.postMessage({
    channel: target.channel,
    user: ws.identity.botUserId,
    botId: ws.identity.botId,
    text,
    ...(blocks.blocks === undefined ? {} : { blocks: blocks.blocks }),
    ...(threadTs === undefined || threadTs === "" ? {} : { threadTs }),
  });
  return {
    ok: true,
    channel: message.channel,
    ts: message.ts,
    message: renderMessage(ws, message),
    ...(warned ? { response_metadata: TRUNCATION_WARNING } : {}),
  };
}

function updateMessage(ws: SlackWorkspace, args: ApiArguments): ApiResult {
  const channel = ws.findChannel(stringArgument(args.channel) ?? "");
  if (channel === undefined) return fail("channel_not_found");
  const message = ws.findMessage(channel.id, stringArgument(args.ts) ?? "");
  if (message === undefined) return fail("message_not_found");
  if (message.user !== ws.identity.botUserId) return fail("cant_update_message");
  const blocks = readBlocks(args);
  if (!blocks.ok) return blocks.result;
  const rawText = stringArgument(args.text);
  if ((rawText === undefined || rawText === "") && blocks.blocks === undefined) return fail("no_text");
  const { text, warned } = truncated(rawText ?? "");
  message.text = text;
  // chat.update keeps the previous blocks when `blocks` is omitted; an empty array removes them.
  if (blocks.blocks !== undefined) message.blocks = blocks.blocks;
  message.edited = { user: ws.identity.botUserId, ts: ws.nextTs() };
  message.updates += 1;
  return {
    ok: true,
    channel: channel.id,
    ts: message.ts,
    text: message.text,
    message: renderMessage(ws, message),
    ...(warned ? { response_metadata: TRUNCATION_WARNING } : {}),
  };
}

function postEphemeral(ws: SlackWorkspace, args: ApiArguments): ApiResult {
  const target = postableChannel(ws, args.channel);
  if (!target.ok) return target.result;
  const user = stringArgument(args.user) ?? "";
  if (!ws.users.has(user)) return fail("user_not_found");
  if (!ws.isMember(ws.channels.get(target.channel)!, user)) return fail("user_not_in_channel");
  const blocks = readBlocks(args);
  if (!blocks.ok) return blocks.result;
  const rawText = stringArgument(args.text) ?? "";
  if (rawText === "" && blocks.blocks === undefined) return fail("no_text");
  const threadTs = stringArgument(args.thread_ts);
  const ts = ws.nextTs();
  ws.ephemerals.push({
    channel: target.channel,
    user,
    ts,
    text: truncated(rawText).text,
    ...(blocks.blocks === undefined ? {} : { blocks: blocks.blocks }),
    ...(threadTs === undefined ? {} : { threadTs }),
    via: "chat.postEphemeral",
  });
  return { ok: true, message_ts: ts };
}

function openView(ws: SlackWorkspace, args: ApiArguments): ApiResult {
  const triggerId = stringArgument(args.trigger_id) ?? "";
  const trigger = ws.triggers.get(triggerId);
  if (trigger === undefined) return fail("invalid_trigger_id");
  if (trigger.used) return fail("exchanged_trigger_id");
  if (ws.now() - trigger.createdAt > TRIGGER_LIFETIME_MS) return fail("expired_trigger_id");
  const view = structuredArgument(args.view);
  if (view === undefined || view === null) return fail("invalid_arguments");
  const problems = modalViewProblems(view);
  if (problems.length > 0) return blockFailure("invalid_arguments", problems);
  trigger.used = true;
  const id = ws.nextId("V");
  const spec = view as Record<string, unknown>;
  ws.views.push({ id, triggerId, ...(trigger.user === undefined ? {} : { user: trigger.user }), view: spec });
  return {
    ok: true,
    view: {
      id,
      team_id: ws.identity.teamId,
      type: "modal",
      callback_id: "",
      private_metadata: "",
      external_id: "",
      clear_on_close: false,
      notify_on_close: false,
      ...spec,
      state: { values: {} },
      hash: `${Math.floor(ws.now() / 1000)}.${id.slice(-8)}`,
      root_view_id: id,
      previous_view_id: null,
      app_id: ws.identity.appId,
      bot_id: ws.identity.botId,
    },
  };
}

function getUploadUrl(ws: SlackWorkspace, args: ApiArguments, baseUrl: string): ApiResult {
  const filename = stringArgument(args.filename);
  const length = Number(stringArgument(args.length));
  if (filename === undefined || filename === "" || !Number.isInteger(length) || length < 0) {
    return fail("invalid_arguments");
  }
  const id = ws.nextId("F");
  const altText = stringArgument(args.alt_text);
  ws.files.set(id, {
    id,
    filename,
    declaredLength: length,
    completed: false,
    ...(altText === undefined ? {} : { altText }),
  });
  return { ok: true, upload_url: `${baseUrl}/upload/v1/${id}`, file_id: id };
}

function completeUpload(ws: SlackWorkspace, args: ApiArguments): ApiResult {
  const requested = structuredArgument(args.files);
  if (!Array.isArray(requested) || requested.length === 0) return fail("invalid_arguments");
  const files = [];
  for (const entry of requested as { id?: unknown; title?: unknown }[]) {
    const file = ws.files.get(stringArgument(entry.id) ?? "");
    if (file === undefined || file.bytes === undefined) return fail("file_not_found");
    files.push({ file, title: stringArgument(entry.title) });
  }
  const channelArgument = stringArgument(args.channel_id) ?? stringArgument(args.channels);
  let channel: string | undefined;
  if (channelArgument !== undefined) {
    const target = postableChannel(ws, channelArgument);
    if (!target.ok) return target.result;
    channel = target.channel;
  }
  const threadTs = stringArgument(args.thread_ts);
  const initialComment = stringArgument(args.initial_comment);
  for (const { file, title } of files) {
    file.completed = true;
    file.title = title ?? file.filename;
    if (channel !== undefined) file.channel = channel;
    if (threadTs !== undefined) file.threadTs = threadTs;
    if (initialComment !== undefined) file.initialComment = initialComment;
  }
  if (channel !== undefined) {
    // Slack shares asynchronously; here the share message exists by the time the call returns.
    ws.postMessage({
      channel,
      user: ws.identity.botUserId,
      botId: ws.identity.botId,
      text: initialComment ?? "",
      fileIds: files.map(({ file }) => file.id),
      ...(threadTs === undefined ? {} : { threadTs }),
    });
  }
  return {
    ok: true,
    files: files.map(({ file }) => ({
      id: file.id,
      name: file.filename,
      title: file.title,
      size: file.bytes!.length,
      user: ws.identity.botUserId,
      created: Math.floor(ws.now() / 1000),
      channels: channel === undefined ? [] : [channel],
    })),
  };
}

function usergroupUsers(ws: SlackWorkspace, args: ApiArguments): ApiResult {
  const group = ws.usergroups.get(stringArgument(args.usergroup) ?? "");
  return group === undefined ? fail("no_such_subteam") : { ok: true, users: [...group.users] };
}

function zoneLabel(tz: string, date: Date): { label: string; offsetSeconds: number } {
  const part = (style: "long" | "longOffset"): string =>
    new Intl.DateTimeFormat("en-US", { timeZone: tz, timeZoneName: style })
      .formatToParts(date)
      .find((p) => p.type === "timeZoneName")?.value ?? "";
  const match = /GMT([+-])(\d{2}):(\d{2})/.exec(part("longOffset"));
  const offsetSeconds =
    match === null ? 0 : (match[1] === "-" ? -1 : 1) * (Number(match[2]) * 3600 + Number(match[3]) * 60);
  return { label: part("long"), offsetSeconds };
}

function userInfo(ws: SlackWorkspace, args: ApiArguments): ApiResult {
  const user = ws.users.get(stringArgument(args.user) ?? "");
  if (user === undefined) return fail("user_not_found");
  const tz = user.tz ?? "America/Los_Angeles";
  const zone = zoneLabel(tz, new Date(ws.now()));
  const realName = user.realName ?? user.name;
  return {
    ok: true,
    user: {
      id: user.id,
      team_id: ws.identity.teamId,
      name: user.name,
      deleted: user.deleted ?? false,
      real_name: realName,
      tz,
      tz_label: zone.label,
      tz_offset: zone.offsetSeconds,
      profile: { real_name: realName, display_name: user.name, team: ws.identity.teamId },
      is_bot: user.isBot ?? false,
      is_app_user: false,
      updated: Math.floor(ws.now() / 1000),
    },
  };
}

function conversationInfo(ws: SlackWorkspace, args: ApiArguments): ApiResult {
  const channel = ws.channels.get(stringArgument(args.channel) ?? "");
  if (channel === undefined || (channel.isPrivate && !channel.botIsMember)) return fail("channel_not_found");
  return {
    ok: true,
    channel: {
      id: channel.id,
      name: channel.name,
      name_normalized: channel.name,
      is_channel: !channel.isPrivate && !channel.isIm,
      is_group: channel.isPrivate && !channel.isIm,
      is_im: channel.isIm,
      is_private: channel.isPrivate,
      is_archived: channel.isArchived,
      is_member: channel.botIsMember,
      is_general: false,
      created: 1_700_000_000,
    },
  };
}

type MethodHandler = (ws: SlackWorkspace, args: ApiArguments, baseUrl: string) => ApiResult;

interface MethodSpec {
  /** The bot scope Slack requires, decided per call where it depends on the conversation type. */
  scope: (ws: SlackWorkspace, args: ApiArguments) => string | undefined;
  handle: MethodHandler;
}

const fixed = (scope: string | undefined) => (): string | undefined => scope;

/** The methods canarybot calls, with the scope each requires (from each method's reference page). */
export const METHODS: Readonly<Record<string, MethodSpec>> = {
  "auth.test": { scope: fixed(undefined), handle: authTest },
  "chat.postMessage": { scope: fixed("chat:write"), handle: postMessage },
  "chat.update": { scope: fixed("chat:write"), handle: updateMessage },
  "chat.postEphemeral": { scope: fixed("chat:write"), handle: postEphemeral },
  "views.open": { scope: fixed(undefined), handle: openView },
  "files.getUploadURLExternal": { scope: fixed("files:write"), handle: getUploadUrl },
  "files.completeUploadExternal": { scope: fixed("files:write"), handle: completeUpload },
  "usergroups.users.list": { scope: fixed("usergroups:read"), handle: usergroupUsers },
  "users.info": { scope: fixed("users:read"), handle: userInfo },
  "conversations.info": {
    scope: (ws, args) =>
      ws.channels.get(stringArgument(args.channel) ?? "")?.isPrivate === true
        ? "groups:read"
        : "channels:read",
    handle: conversationInfo,
  },
};

/** Runs one Web API method against the workspace, enforcing its scope the way Slack reports a missing one. */
export function callMethod(
  ws: SlackWorkspace,
  method: string,
  args: ApiArguments,
  baseUrl: string,
): ApiResult {
  const spec = METHODS[method];
  if (spec === undefined) return fail("unknown_method");
  const needed = spec.scope(ws, args);
  if (needed !== undefined && !ws.scopes.has(needed)) {
    return fail("missing_scope", { needed, provided: [...ws.scopes].join(",") });
  }
  return spec.handle(ws, args, baseUrl);
}
