import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadEnvConfig } from "../../src/config/env.ts";
import type { Logger } from "../../src/rollout/ports.ts";
import { startKubeSandbox } from "../../sandbox/kube/server.ts";
import type { KubeSandbox } from "../../sandbox/kube/server.ts";
import { startSlackSandbox } from "../../sandbox/slack/web-api-sandbox.ts";
import type { SlackSandbox } from "../../sandbox/slack/web-api-sandbox.ts";
import { runServe, startServe } from "../../src/serve.ts";
import type { ServeOptions } from "../../src/serve.ts";
import { REDIS_URL, connectRedis, deleteKeysWithPrefix, uniqueName } from "../support/redis.ts";

type Line = { level: string; message: string; meta: object };

function recordingLogger(lines: Line[]): Logger {
  const logger: Logger = {
    info: (meta, message) => lines.push({ level: "info", message, meta }),
    warn: (meta, message) => lines.push({ level: "warn", message, meta }),
    error: (meta, message) => lines.push({ level: "error", message, meta }),
    child: () => logger,
  };
  return logger;
}

let kube: KubeSandbox;
let slack: SlackSandbox;
let dir: string;
let prefix: string;
let base: Record<string, string>;

beforeAll(async () => {
  kube = await startKubeSandbox({ scenario: "bookinfo" });
  slack = await startSlackSandbox();
  dir = await mkdtemp(join(tmpdir(), "canarybot-serve-"));
  await kube.writeKubeconfig(join(dir, "kubeconfig"));
  prefix = uniqueName("serve");
  base = {
    HOME: dir,
    REDIS_URL,
    CANARYBOT_PREFIX: prefix,
    KUBECONFIG: join(dir, "kubeconfig"),
    SLACK_API_URL: slack.apiUrl,
    PORT: "0",
  };
});

afterAll(async () => {
  const redis = await connectRedis();
  await deleteKeysWithPrefix(redis, `${prefix}:`);
  redis.disconnect();
  await slack.close();
  await kube.close();
  await rm(dir, { recursive: true, force: true });
});

function options(
  processEnv: Record<string, string>,
  lines: Line[],
  overrides: Partial<ServeOptions> = {},
): ServeOptions {
  return {
    env: loadEnvConfig(processEnv),
    processEnv,
    logger: recordingLogger(lines),
    mode: { slack: true, worker: true },
    stopSignal: new Promise(() => undefined),
    ...overrides,
  };
}

describe("canarybot serve", () => {
  it("stops before connecting to anything when a Slack setting or the config file is wrong, naming each", async () => {
    const lines: Line[] = [];
    await expect(startServe(options({ ...base, SLACK_BOT_TOKEN: "nope" }, lines))).rejects.toThrow(
      /SLACK_BOT_TOKEN: must be a bot token.*SLACK_SIGNING_SECRET: is required/,
    );
    const config = join(dir, "bad.yaml");
    await writeFile(config, "services:\n  reviews:\n    approvers: [bob]\n");
    const env = { ...base, SLACK_BOT_TOKEN: slack.botToken, SLACK_SIGNING_SECRET: "a".repeat(32) };
    await expect(startServe(options(env, lines, { configPath: config }))).rejects.toThrow(
      /bad\.yaml: services\.reviews\.approvers\[0\]: must be a Slack user id/,
    );
    await expect(startServe(options(env, lines, { mode: { slack: false, worker: false } }))).rejects.toThrow(
      /nothing to run/,
    );
  });

  it("refuses a bot token Slack does not accept", async () => {
    const env = { ...base, SLACK_BOT_TOKEN: "xoxb-0-0-wrong", SLACK_SIGNING_SECRET: "a".repeat(32) };
    await expect(startServe(options(env, []))).rejects.toThrow(
      /SLACK_BOT_TOKEN: Slack refused it \(invalid_auth\)/,
    );
  });

  it("warns without a config file, serves /healthz, and shuts down when the stop signal comes", async () => {
    const lines: Line[] = [];
    let stop!: () => void;
    const stopSignal = new Promise<void>((resolve) => {
      stop = resolve;
    });
    const env = { ...base, SLACK_BOT_TOKEN: slack.botToken, SLACK_SIGNING_SECRET: "a".repeat(32) };
    const running = runServe(options(env, lines, { stopSignal }));
    const deadline = Date.now() + 60_000;
    while (!lines.some((line) => line.message === "slack app ready") && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const ready = lines.find((line) => line.message === "slack app ready")!.meta as { port: number };
    expect((await fetch(`http://127.0.0.1:${ready.port}/healthz`)).status).toBe(200);
    expect(lines.find((line) => line.level === "warn")?.message).toMatch(
      /^no config file.*two-person rule holds$/,
    );
    expect(lines.some((line) => line.message === "worker ready")).toBe(true);
    stop();
    await running;
    await expect(fetch(`http://127.0.0.1:${ready.port}/healthz`)).rejects.toThrow();
  });

  it("runs a worker alone without Slack settings, leaving delivery to a process with a bot token", async () => {
    const lines: Line[] = [];
    const handle = await startServe(options(base, lines, { mode: { slack: false, worker: true } }));
    expect(handle.port).toBeUndefined();
    expect(handle.delivery).toBeUndefined();
    expect(lines.map((line) => line.message)).toContain(
      "no SLACK_BOT_TOKEN: this worker queues the channel's notifications for a process with a bot token to deliver",
    );
    await handle.close();
  });
});
