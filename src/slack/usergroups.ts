import type { WebClient } from "@slack/web-api";
import type { Logger } from "../rollout/ports.ts";
import { errorMessage } from "../errors.ts";

/** Fetches the member ids of one user group. */
export type FetchGroupMembers = (groupId: string) => Promise<string[]>;

export type UsergroupResolverOptions = {
  fetchMembers: FetchGroupMembers;
  logger: Logger;
  /** How long a resolved group is trusted, ms. Default 5 minutes. */
  ttlMs?: number;
  /** A lookup taking longer is given up (the last known members are used, if any), ms. Default 2.5 s. */
  timeoutMs?: number;
  now?: () => number;
};

type Entry = { members: string[]; expiresAt: number };

/** `usergroups.users.list` through a WebClient. */
export function usergroupFetcher(client: WebClient): FetchGroupMembers {
  return async (groupId) => {
    const result = await client.usergroups.users.list({ usergroup: groupId });
    return result.users ?? [];
  };
}

/**
 * Resolves user groups to members, cached for a TTL. Concurrent lookups of one group share a request; a failed or
 * slow lookup falls back to the last known members (stale beats nothing), else the group stays unresolved and
 * the authorization that needed it refuses, saying so.
 */
export class UsergroupResolver {
  readonly #options: Required<Omit<UsergroupResolverOptions, "logger" | "fetchMembers">>;
  readonly #fetch: FetchGroupMembers;
  readonly #logger: Logger;
  readonly #cache = new Map<string, Entry>();
  readonly #inFlight = new Map<string, Promise<string[] | undefined>>();

  constructor(options: UsergroupResolverOptions) {
    this.#fetch = options.fetchMembers;
    this.#logger = options.logger;
    this.#options = {
      ttlMs: options.ttlMs ?? 5 * 60_000,
      timeoutMs: options.timeoutMs ?? 2_500,
      now: options.now ?? Date.now,
    };
  }

  /** Members of each group that could be resolved. */
  async members(groupIds: readonly string[]): Promise<Map<string, string[]>> {
    const unique = [...new Set(groupIds)];
    const resolved = await Promise.all(unique.map(async (id) => [id, await this.#one(id)] as const));
    const found = new Map<string, string[]>();
    for (const [id, members] of resolved) if (members) found.set(id, members);
    return found;
  }

  async #one(groupId: string): Promise<string[] | undefined> {
    const cached = this.#cache.get(groupId);
    if (cached && cached.expiresAt > this.#options.now()) return cached.members;
    let pending = this.#inFlight.get(groupId);
    if (!pending) {
      pending = this.#lookup(groupId).finally(() => this.#inFlight.delete(groupId));
      this.#inFlight.set(groupId, pending);
    }
    return (await pending) ?? cached?.members;
  }

  async #lookup(groupId: string): Promise<string[] | undefined> {
    let timer: NodeJS.Timeout | undefined;
    try {
      const members = await Promise.race([
        this.#fetch(groupId),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error("timed out")), this.#options.timeoutMs);
        }),
      ]);
      this.#cache.set(groupId, { members, expiresAt: this.#options.now() + this.#options.ttlMs });
      return members;
    } catch (error) {
      this.#logger.warn({ usergroup: groupId, err: errorMessage(error) }, "user group lookup failed");
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }
}
