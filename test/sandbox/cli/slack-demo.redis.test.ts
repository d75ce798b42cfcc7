import { describe, expect, it } from "vitest";
import { runCanarybot } from "../../support/cli-process.ts";
import { SANDBOX_BIN } from "../../support/processes.ts";
import { REDIS_URL } from "../../support/redis.ts";

describe("canarybot-sandbox slack-demo", () => {
  it("runs its rollout to the end in a shell that still holds another canarybot's settings", async () => {
    // What the README's metrics section leaves exported, and a Socket Mode token and config file of a real install:
    // the demo's bot must use none of them (a Prometheus that sees no traffic of this sandbox paused its rollout).
    const result = await runCanarybot(
      ["slack-demo"],
      {
        HOME: "/nonexistent",
        REDIS_URL,
        PROMETHEUS_URL: "http://127.0.0.1:1",
        PROMETHEUS_SCRAPE_INTERVAL_SECONDS: "1",
        SLACK_APP_TOKEN: "xapp-1-not-the-demos",
        CANARYBOT_CONFIG: "/nonexistent/canarybot.yaml",
      },
      { bin: SANDBOX_BIN, killAfterMs: 90_000 },
    );
    expect(result.code, result.stderr + result.stdout).toBe(0);
    expect(result.stdout).toMatch(/promoted/i);
  }, 120_000);
});
