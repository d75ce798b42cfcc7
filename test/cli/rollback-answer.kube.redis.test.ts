import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCanarybot } from "../support/cli-process.ts";
import { engineHarness } from "../support/engine.ts";
import type { EngineHarness } from "../support/engine.ts";

/** What `canarybot rollback` answers: the state on stdout, logs only when asked, and the truth about the restore. */
describe("canarybot rollback", () => {
  let h: EngineHarness;
  /** The environment of a person at a terminal: LOG_LEVEL unset. */
  let shell: Record<string, string>;

  beforeAll(async () => {
    h = await engineHarness("cli-rollback");
    const { LOG_LEVEL: _, ...rest } = h.env;
    shell = rest;
  }, 60_000);
  afterAll(async () => {
    await h?.cleanup();
  });

  const start = (): Promise<string> =>
    h.start("reviews", "--canary", "v2", "--steps", "10,100", "--interval", "1h", "--as", "alice");

  it("answers with the rolled-back state on stdout and nothing on stderr", async () => {
    const id = await start();
    const result = await runCanarybot(["rollback", id, "--reason", "bad build"], shell);
    expect(result.stderr).toBe("");
    expect(result.stdout).toMatch(new RegExp(`^${id}\\s+default/reviews\\s+rolled-back\\s`));
    expect(result.code).toBe(0);
  });

  it("--verbose shows what it did as JSON log lines on stderr", async () => {
    const id = await start();
    const result = await runCanarybot(["--verbose", "rollback", id], shell);
    expect(result.code).toBe(0);
    const logs = result.stderr
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { msg: string });
    expect(logs.map((log) => log.msg)).toContain("rollout changed");
  });

  it("says the restore is failing, and why, and exits 2 when the route could not be restored", async () => {
    const id = await start();
    const fault = h.kube.faults.add({ resource: "virtualservices", errors: 1_000, status: 503 });
    try {
      const result = await h.cli("rollback", id);
      // Why it fails comes from the rollout's restoreFailure (test/commands/render-text.test.ts).
      expect(result.stderr).toMatch(/^rollback requested, restore failing: .*\S.*\n$/);
      expect(result.stdout).toMatch(/rolling-back/);
      expect(result.code).toBe(2);
    } finally {
      h.kube.faults.remove(fault);
    }
  }, 60_000);
});
