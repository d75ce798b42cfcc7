import { describe, expect, it } from "vitest";
import { authorize, groupsToResolve, Permission } from "../../src/commands/authorize.ts";
import type { Access, AccessPolicy, AccessRequest } from "../../src/commands/authorize.ts";

const ALICE = "U0ALICE1";
const BOB = "U0BOB001";
const CAROL = "U0CAROL1";
const DAVE = "W0DAVE01";
const SRE = "S0SRE001";
const DEPLOYS = "C0DEPLOY";

const policy: AccessPolicy = {
  channels: [DEPLOYS],
  starters: [ALICE, BOB, SRE],
  approvers: [BOB, SRE],
  rollbackers: [CAROL],
};
const configured: Access = { mode: "configured", policy };
const members = new Map([[SRE, [DAVE]]]);

function request(overrides: Partial<AccessRequest>): AccessRequest {
  return {
    permission: Permission.Start,
    user: ALICE,
    channel: DEPLOYS,
    service: "reviews",
    access: configured,
    groupMembers: members,
    ...overrides,
  };
}

const rollout = { id: "reviews-3", startedBy: ALICE, twoPersonRule: true };

describe("authorize", () => {
  it.each([
    // who, what, allowed
    [ALICE, Permission.Start, true],
    [DAVE, Permission.Start, true], // through the SRE group
    [CAROL, Permission.Start, false],
    [BOB, Permission.Approve, true],
    [DAVE, Permission.Approve, true],
    [CAROL, Permission.Approve, false],
    // promoters absent: the approvers promote
    [BOB, Permission.Promote, true],
    [ALICE, Permission.Promote, false],
    // rollbackers given: only they roll back
    [CAROL, Permission.Rollback, true],
    [BOB, Permission.Rollback, false],
    // pause: anyone in any role (a missing role list is "anyone" only when absent)
    [CAROL, Permission.Pause, true],
    [ALICE, Permission.Resume, true],
    [CAROL, Permission.Resume, false],
    ["U0STRANGR", Permission.Pause, false],
  ] as const)("%s may %s: %s", (user, permission, allowed) => {
    const decision = authorize(
      request({ user, permission, rollout: { ...rollout, startedBy: "cli:someone" } }),
    );
    expect(decision.ok).toBe(allowed);
  });

  it("refuses outside the service's channels, naming them", () => {
    expect(authorize(request({ channel: "C0RANDOM" }))).toEqual({
      ok: false,
      reason: "`reviews` may be driven only from <#C0DEPLOY>.",
    });
  });

  it("refuses the starter's own approval (two-person rule), even when they are an approver", () => {
    const decision = authorize(
      request({ user: BOB, permission: Permission.Approve, rollout: { ...rollout, startedBy: BOB } }),
    );
    expect(decision).toEqual({
      ok: false,
      reason: "Two-person rule: you started reviews-3, so someone else must approve it.",
    });
    // A plan started with the rule off (the CLI's break-glass) lets the starter approve.
    expect(
      authorize(
        request({
          user: BOB,
          permission: Permission.Approve,
          rollout: { ...rollout, startedBy: BOB, twoPersonRule: false },
        }),
      ),
    ).toEqual({ ok: true });
  });

  it("names a user group it could not resolve when that is why it refuses", () => {
    const decision = authorize(
      request({ user: DAVE, permission: Permission.Approve, groupMembers: new Map() }),
    );
    expect(decision).toEqual({
      ok: false,
      reason: "You may not approve `reviews` rollouts (could not look up <!subteam^S0SRE001>).",
    });
  });

  it("without a config file lets anyone do anything anywhere, except approve their own rollout", () => {
    const open: Access = { mode: "open" };
    for (const permission of Object.values(Permission)) {
      expect(
        authorize(request({ access: open, user: CAROL, channel: "C0ANY", permission, rollout })),
      ).toEqual({
        ok: true,
      });
    }
    expect(authorize(request({ access: open, permission: Permission.Approve, rollout })).ok).toBe(false);
  });

  it("refuses a service the config file does not list, with a did-you-mean", () => {
    expect(
      authorize(request({ access: { mode: "unknown", suggestion: "reviews" }, service: "reveiws" })),
    ).toEqual({
      ok: false,
      reason: "`reveiws` is not a service in canarybot's config file. Did you mean `reviews`?",
    });
  });

  it("an empty list means no one; an absent list means anyone", () => {
    const locked: Access = { mode: "configured", policy: { approvers: [] } };
    expect(authorize(request({ access: locked, permission: Permission.Approve, user: BOB })).ok).toBe(false);
    expect(authorize(request({ access: locked, permission: Permission.Start, user: "U0ANYONE" })).ok).toBe(
      true,
    );
  });
});

describe("groupsToResolve", () => {
  it("asks only for the groups that could grant the permission", () => {
    expect(groupsToResolve(configured, Permission.Approve)).toEqual([SRE]);
    expect(groupsToResolve(configured, Permission.Rollback)).toEqual([]);
    expect(groupsToResolve({ mode: "open" }, Permission.Approve)).toEqual([]);
    expect(groupsToResolve({ mode: "configured", policy: {} }, Permission.Approve)).toEqual([]);
  });
});
