/**
 * The bot token scopes canarybot asks for; manifest.yml must list exactly these (a test holds them equal).
 *
 * - commands: receive `/canary`.
 * - chat:write: post, update and thread the rollout message, and send ephemeral replies (chat.postEphemeral).
 * - files:write: attach the metrics chart to a rollout's thread (files.getUploadURLExternal + completeUploadExternal).
 * - usergroups:read: resolve approval gates given as a user group (usergroups.users.list).
 *
 * Left out on purpose: chat:write.public (the bot posts only where a channel invited it, so nobody gets rollout noise
 * they did not ask for; a post elsewhere answers `not_in_channel` and the bot says "invite me"), and any history or
 * user-token scope: canarybot never reads messages. Nor users:read / channels:read: the bot mentions people by id
 * and learns that it is missing from a channel from chat.postMessage's own `not_in_channel`.
 */
export const BOT_SCOPES = ["commands", "chat:write", "files:write", "usergroups:read"] as const;

export type BotScope = (typeof BOT_SCOPES)[number];
