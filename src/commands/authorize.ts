import type { Actor } from "../rollout/types.ts";

/** What a person may be allowed to do to a service's rollouts. Reading (status, list, history) is open. */
export const Permission = {
  Start: "start",
  Approve: "approve",
  Promote: "promote",
  Pause: "pause",
  Resume: "resume",
  Rollback: "rollback",
} as const;
export type Permission = (typeof Permission)[keyof typeof Permission];

/**
 * Who may drive one service, as the config file says: user ids (`U…`/`W…`) and user group ids (`S…`). An absent
 * list means anyone (promoters: the approvers; rollbackers: everyone in another role); an empty list, no one.
 */
export type AccessPolicy = {
  channels?: readonly string[];
  starters?: readonly string[];
  approvers?: readonly string[];
  promoters?: readonly string[];
  rollbackers?: readonly string[];
};

/**
 * The access rules in force: `open` without a config file (anyone, anywhere; the two-person rule still holds),
 * else the service's policy, or `unknown` for a service the config file does not list.
 */
export type Access =
  { mode: "open" } | { mode: "configured"; policy: AccessPolicy } | { mode: "unknown"; suggestion?: string };

export type AccessRequest = {
  permission: Permission;
  /** The Slack user asking. */
  user: Actor;
  /** Where the request comes from (the channel of the command or of the clicked message). */
  channel?: string;
  service: string;
  access: Access;
  /** The rollout acted on, for the two-person rule. */
  rollout?: { id: string; startedBy: Actor; twoPersonRule: boolean };
  /** Members of the user groups the policy names, as resolved; a group missing here could not be resolved. */
  groupMembers: ReadonlyMap<string, readonly string[]>;
};

export type Decision = { ok: true } | { ok: false; reason: string };

const GROUP = /^S/;

type Holders = readonly string[] | "anyone";

function union(...lists: Holders[]): Holders {
  return lists.some((list) => list === "anyone")
    ? "anyone"
    : lists.flatMap((list) => (list === "anyone" ? [] : list));
}

/**
 * Who holds a permission. Promoters default to the approvers; rollbackers to everyone in another role (rolling
 * back is the safe way out); pausing is open to every role, resuming to those who may move traffic forward.
 */
function grantees(policy: AccessPolicy, permission: Permission): Holders {
  const starters: Holders = policy.starters ?? "anyone";
  const approvers: Holders = policy.approvers ?? "anyone";
  const promoters: Holders = policy.promoters ?? approvers;
  const rollbackers: Holders = policy.rollbackers ?? union(starters, approvers, promoters);
  switch (permission) {
    case Permission.Start:
      return starters;
    case Permission.Approve:
      return approvers;
    case Permission.Promote:
      return promoters;
    case Permission.Rollback:
      return rollbackers;
    case Permission.Pause:
      return union(starters, approvers, promoters, rollbackers);
    case Permission.Resume:
      return union(starters, approvers, promoters);
  }
}

/** The user groups whose members must be known to decide a request, so an adapter resolves only those. */
export function groupsToResolve(access: Access, permission: Permission): string[] {
  if (access.mode !== "configured") return [];
  const holders = grantees(access.policy, permission);
  return holders === "anyone" ? [] : holders.filter((id) => GROUP.test(id));
}

const ROLE_NAMES: Readonly<Record<Permission, string>> = {
  start: "start",
  approve: "approve",
  promote: "promote",
  pause: "pause",
  resume: "resume",
  rollback: "roll back",
};

/**
 * May this person do this, from here? Pure: group members come in resolved. The core enforces the two-person rule
 * as well; checking it here too gives the clearer answer before anything is attempted.
 */
export function authorize(request: AccessRequest): Decision {
  const { access, permission, user, service } = request;
  const what = ROLE_NAMES[permission];
  if (access.mode === "unknown") {
    const hint = access.suggestion ? ` Did you mean \`${access.suggestion}\`?` : "";
    return { ok: false, reason: `\`${service}\` is not a service in canarybot's config file.${hint}` };
  }
  if (access.mode === "configured") {
    const { channels } = access.policy;
    if (channels && (request.channel === undefined || !channels.includes(request.channel))) {
      const where = channels.map((id) => `<#${id}>`).join(", ");
      return { ok: false, reason: `\`${service}\` may be driven only from ${where}.` };
    }
    const holders = grantees(access.policy, permission);
    if (holders !== "anyone" && !holds(holders, user, request.groupMembers)) {
      const unresolved = holders.filter((id) => GROUP.test(id) && !request.groupMembers.has(id));
      const note =
        unresolved.length > 0
          ? ` (could not look up ${unresolved.map((id) => `<!subteam^${id}>`).join(", ")})`
          : "";
      return { ok: false, reason: `You may not ${what} \`${service}\` rollouts${note}.` };
    }
  }
  const { rollout } = request;
  if (permission === Permission.Approve && rollout?.twoPersonRule && rollout.startedBy === user) {
    return {
      ok: false,
      reason: `Two-person rule: you started ${rollout.id}, so someone else must approve it.`,
    };
  }
  return { ok: true };
}

function holds(
  holders: readonly string[],
  user: string,
  groupMembers: ReadonlyMap<string, readonly string[]>,
): boolean {
  return holders.some((id) => id === user || (GROUP.test(id) && (groupMembers.get(id) ?? []).includes(user)));
}
