import { spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveSecretFiles } from "../../src/config/secrets.ts";
import { secretValues } from "../../src/redact.ts";

const BOT_TOKEN = "xoxb-1111-2222-secretbottoken";
const REDIS_PASSWORD = "redis-pass/with:odd@chars";

let dir = "";
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "canarybot-secrets-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("secrets from files", () => {
  it("reads <NAME>_FILE into <NAME> without its trailing newline, and folds REDIS_PASSWORD into REDIS_URL", async () => {
    await writeFile(join(dir, "bot"), `${BOT_TOKEN}\n`);
    await writeFile(join(dir, "redis"), REDIS_PASSWORD);
    const env = resolveSecretFiles({
      SLACK_BOT_TOKEN_FILE: join(dir, "bot"),
      REDIS_PASSWORD_FILE: join(dir, "redis"),
      REDIS_URL: "redis://redis.canarybot:6379/2",
    });
    expect(env.SLACK_BOT_TOKEN).toBe(BOT_TOKEN);
    expect(env.SLACK_BOT_TOKEN_FILE).toBeUndefined();
    const url = new URL(env.REDIS_URL ?? "");
    expect(decodeURIComponent(url.password)).toBe(REDIS_PASSWORD);
    expect(`${url.host}${url.pathname}`).toBe("redis.canarybot:6379/2");
    expect(secretValues(env)).toEqual(expect.arrayContaining([BOT_TOKEN, REDIS_PASSWORD]));
  });

  it("refuses both forms at once and an unreadable file, naming the variable and never the content", () => {
    expect(() => resolveSecretFiles({ SLACK_BOT_TOKEN: BOT_TOKEN, SLACK_BOT_TOKEN_FILE: "/x" })).toThrow(
      "set SLACK_BOT_TOKEN or SLACK_BOT_TOKEN_FILE, not both",
    );
    expect(() => resolveSecretFiles({ PROMETHEUS_PASSWORD_FILE: join(dir, "missing") })).toThrow(
      `PROMETHEUS_PASSWORD_FILE: cannot read ${join(dir, "missing")} (ENOENT)`,
    );
  });
});

describe("createLogger", () => {
  it("never writes a secret: not under a secret-bearing key, not inside an error message", () => {
    // A child process, so the test reads exactly what pino writes to stderr.
    const script = `
      import { createLogger } from ${JSON.stringify(resolve(import.meta.dirname, "../../src/logger.ts"))};
      const logger = createLogger("info");
      logger.info({ headers: { authorization: "Bearer ${BOT_TOKEN}" }, token: "${BOT_TOKEN}" }, "calling slack");
      logger.warn({ err: "401 for token ${BOT_TOKEN} at redis://:${REDIS_PASSWORD}@host" }, "slack call failed");
      logger.child({ rolloutId: "reviews-3" }).info({}, "tick");
      logger.info({ rolloutId: "reviews-4" }, "tick");
    `;
    const run = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
      env: {
        PATH: process.env.PATH ?? "",
        SLACK_BOT_TOKEN: BOT_TOKEN,
        REDIS_URL: `redis://:${encodeURIComponent(REDIS_PASSWORD)}@host:6379`,
      },
      encoding: "utf8",
    });
    expect(run.status, run.stderr).toBe(0);
    const lines = run.stderr.trimEnd().split("\n");
    expect(lines).toHaveLength(4);
    expect(run.stderr).not.toContain(BOT_TOKEN);
    expect(run.stderr).not.toContain(REDIS_PASSWORD);
    expect(run.stderr).not.toContain(encodeURIComponent(REDIS_PASSWORD));
    expect(lines[1]).toContain("401 for token [redacted]");
    const rollouts = lines.slice(2).map((line) => (JSON.parse(line) as { rollout?: string }).rollout);
    expect(rollouts).toEqual(["reviews-3", "reviews-4"]);
  });
});
