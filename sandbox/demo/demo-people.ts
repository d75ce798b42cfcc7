import { fileURLToPath } from "node:url";
import type { SeedChannel, SeedUser, SeedUsergroup } from "../slack/slack-workspace.ts";

/** A demo person: a Slack user and what canarybot.demo.yaml lets them do. */
export type DemoPerson = SeedUser & { role: string };

export const DEMO_PEOPLE: readonly DemoPerson[] = [
  { id: "U0ALICE01", name: "alice", realName: "Alice Adams", role: "developer: starts and approves" },
  {
    id: "U0BOB0001",
    name: "bob",
    realName: "Bob Brown",
    role: "SRE: starts, approves, promotes, rolls back",
  },
  { id: "U0CAROL01", name: "carol", realName: "Carol Chen", role: "on call: rolls back, may not start" },
];

export const DEMO_CHANNEL: SeedChannel = { id: "C0DEPLOYS", name: "deploys" };

export const DEMO_GROUPS: readonly SeedUsergroup[] = [
  { id: "S0SRE0001", handle: "sre", name: "SRE", users: ["U0BOB0001"] },
  { id: "S0ONCALL1", handle: "oncall", name: "On call", users: ["U0CAROL01"] },
];

/** The roles above as canarybot reads them. */
export const DEMO_CONFIG_PATH = fileURLToPath(new URL("./canarybot.demo.yaml", import.meta.url));
