import { randomBytes } from "node:crypto";

/** Who the sandbox's bot token belongs to (what auth.test answers). */
export interface SandboxIdentity {
  teamId: string;
  teamName: string;
  teamDomain: string;
  botUserId: string;
  botName: string;
  botId: string;
  appId: string;
}

export const DEFAULT_IDENTITY: SandboxIdentity = {
  teamId: "T0SANDBOX",
  teamName: "canarybot sandbox",
  teamDomain: "canarybot-sandbox",
  botUserId: "U0CANARYBOT",
  botName: "canarybot",
  botId: "B0CANARYBOT",
  appId: "A0CANARYBOT",
};

export interface SeedUser {
  id: string;
  name: string;
  realName?: string;
  /** IANA zone, e.g. "Europe/Berlin" (default America/Los_Angeles); users.info derives tz_label and tz_offset. */
  tz?: string;
  isBot?: boolean;
  deleted?: boolean;
}

export interface SeedChannel {
  id: string;
  name: string;
  isPrivate?: boolean;
  isArchived?: boolean;
  /** Whether the bot was invited; defaults to true. */
  botIsMember?: boolean;
  /** Human members; defaults to every seeded user. chat.postEphemeral answers `user_not_in_channel` otherwise. */
  members?: string[];
}

export interface SeedUsergroup {
  id: string;
  handle: string;
  name?: string;
  users: string[];
}

export interface SlackMessage {
  channel: string;
  ts: string;
  /** The author: the bot's user id for the bot's own posts. */
  user: string;
  botId?: string;
  text: string;
  blocks?: unknown[];
  threadTs?: string;
  fileIds?: string[];
  edited?: { user: string; ts: string };
  /** How many times chat.update (or a response_url replace) changed it. */
  updates: number;
  deleted: boolean;
}

export interface EphemeralMessage {
  channel: string;
  user: string;
  ts: string;
  text: string;
  blocks?: unknown[];
  threadTs?: string;
  via: "chat.postEphemeral" | "response_url";
}

export interface UploadedFile {
  id: string;
  filename: string;
  declaredLength: number;
  altText?: string;
  /** Present once the client has POSTed the bytes to the upload URL. */
  bytes?: Buffer;
  /** Set by files.completeUploadExternal. */
  title?: string;
  completed: boolean;
  channel?: string;
  threadTs?: string;
  initialComment?: string;
}

export interface OpenedView {
  id: string;
  triggerId: string;
  user?: string;
  view: Record<string, unknown>;
}

/** Where a response_url leads: the command's or the clicked message's channel, and who triggered it. */
export interface ResponseUrlTarget {
  kind: "commands" | "actions";
  channel: string;
  user: string;
  /** For clicks: the message the button was on, so `replace_original` / `delete_original` can reach it. */
  messageTs?: string;
  isEphemeral?: boolean;
}

export interface ResponseUrlPost {
  url: string;
  at: number;
  status: number;
  body: Record<string, unknown>;
  outcome: "ephemeral" | "in_channel" | "replaced" | "deleted" | "rejected";
}

export interface ResponseUrlRecord {
  target: ResponseUrlTarget;
  createdAt: number;
  uses: number;
}

export interface TriggerRecord {
  user?: string;
  createdAt: number;
  used: boolean;
}

/** Slack gives every stored block a block_id, generating a short random one where the app sent none. */
export function withBlockIds(blocks: readonly unknown[]): unknown[] {
  return blocks.map((block) =>
    typeof block === "object" && block !== null && !("block_id" in block)
      ? { ...block, block_id: randomBytes(3).toString("base64url") }
      : block,
  );
}

type ChannelRecord = Required<Omit<SeedChannel, "members">> & { members?: string[]; isIm: boolean };

/** The in-memory Slack workspace behind the sandbox: seeded directory data plus everything the bot created. */
export class SlackWorkspace {
  readonly identity: SandboxIdentity;
  readonly scopes: ReadonlySet<string>;
  readonly now: () => number;
  readonly users = new Map<string, SeedUser>();
  readonly usergroups = new Map<string, SeedUsergroup>();
  readonly channels = new Map<string, ChannelRecord>();
  readonly messages: SlackMessage[] = [];
  readonly ephemerals: EphemeralMessage[] = [];
  readonly files = new Map<string, UploadedFile>();
  readonly views: OpenedView[] = [];
  readonly responseUrls = new Map<string, ResponseUrlRecord>();
  readonly responsePosts: ResponseUrlPost[] = [];
  readonly triggers = new Map<string, TriggerRecord>();
  private sequence = 0;

  constructor(identity: SandboxIdentity, scopes: readonly string[], now: () => number) {
    this.identity = identity;
    this.scopes = new Set(scopes);
    this.now = now;
  }

  addUser(user: SeedUser): void {
    this.users.set(user.id, user);
  }

  addUsergroup(group: SeedUsergroup): void {
    this.usergroups.set(group.id, group);
  }

  addChannel(channel: SeedChannel): void {
    this.channels.set(channel.id, {
      id: channel.id,
      name: channel.name,
      isPrivate: channel.isPrivate ?? false,
      isArchived: channel.isArchived ?? false,
      botIsMember: channel.botIsMember ?? true,
      isIm: false,
      ...(channel.members === undefined ? {} : { members: channel.members }),
    });
  }

  /** A channel by id, by name (with or without '#'), or a user id, which Slack turns into the bot's DM with them. */
  findChannel(reference: string): ChannelRecord | undefined {
    const byId = this.channels.get(reference);
    if (byId !== undefined) return byId;
    const name = reference.replace(/^#/, "");
    for (const channel of this.channels.values()) if (channel.name === name && !channel.isIm) return channel;
    if (this.users.has(reference)) {
      const im: ChannelRecord = {
        id: `D${reference.slice(1)}`,
        name: reference,
        isPrivate: true,
        isArchived: false,
        botIsMember: true,
        isIm: true,
        members: [reference],
      };
      this.channels.set(im.id, im);
      return im;
    }
    return undefined;
  }

  isMember(channel: ChannelRecord, user: string): boolean {
    return channel.members === undefined ? this.users.has(user) : channel.members.includes(user);
  }

  /** A message ts: unix seconds, then a per-workspace counter, like "1700000000.000100". */
  nextTs(): string {
    this.sequence += 1;
    return `${Math.floor(this.now() / 1000)}.${String(this.sequence % 1_000_000).padStart(6, "0")}`;
  }

  nextId(prefix: string): string {
    this.sequence += 1;
    return `${prefix}${String(this.sequence).padStart(10, "0")}`;
  }

  findMessage(channel: string, ts: string): SlackMessage | undefined {
    return this.messages.find(
      (message) => message.channel === channel && message.ts === ts && !message.deleted,
    );
  }

  postMessage(message: Omit<SlackMessage, "ts" | "updates" | "deleted">): SlackMessage {
    const stored: SlackMessage = { ...message, ts: this.nextTs(), updates: 0, deleted: false };
    this.messages.push(stored);
    return stored;
  }

  createTriggerId(user?: string): string {
    this.sequence += 1;
    const id = `${this.sequence}.${this.identity.teamId.replace(/\D/g, "") || "1"}.${randomBytes(16).toString("hex")}`;
    this.triggers.set(id, { ...(user === undefined ? {} : { user }), createdAt: this.now(), used: false });
    return id;
  }

  createResponseUrl(baseUrl: string, target: ResponseUrlTarget): string {
    this.sequence += 1;
    const url = `${baseUrl}/${target.kind}/${this.identity.teamId}/${this.sequence}/${randomBytes(12).toString("hex")}`;
    this.responseUrls.set(url, { target, createdAt: this.now(), uses: 0 });
    return url;
  }
}
