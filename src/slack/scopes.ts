/**
 * The bot token scopes canarybot asks for; manifest.yml must list exactly these (a test holds them equal).
 *
 * - commands: receive `/canary`.
 * - chat:write: post, update and thread the rollout message, and send ephemeral replies (chat.postEphemeral).
 * - files:write: attach the metrics chart to a rollout's thread (files.getUploadURLExternal + completeUploadExternal).
 * - usergroups:read: resolve approval gates given as a user group (usergroups.users.list).
 * - users:read: name the people in messages and audit entries and show times in their zone (users.info).
 * - channels:read: check a public report channel exists and the bot is in it before a rollout starts (conversations.info).
 * - groups:read: the same check for private channels, which release channels often are; a bot token only ever sees
 *   private channels it was invited to, so this reads no channel the bot is not already in.
 *
 * Left out on purpose: chat:write.public (the bot posts only where a channel invited it, so nobody gets rollout noise
 * they did not ask for; a post elsewhere answers `not_in_channel` and the bot says "invite me"), and any history or
 * user-token scope: canarybot never reads messages.
 */
export const BOT_SCOPES = [
  "commands",
  "chat:write",
  "files:write",
  "usergroups:read",
  "users:read",
  "channels:read",
  "groups:read",
] as const;

export type BotScope = (typeof BOT_SCOPES)[number];
