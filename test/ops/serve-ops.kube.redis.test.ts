import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { runCli } from "../../src/cli/program.ts";
import { resolveSecretFiles } from "../../src/config/secrets.ts";
import { startKubeSandbox } from "../../sandbox/kube/server.ts";
import { startSlackSandbox } from "../../sandbox/slack/web-api-sandbox.ts";
import { waitFor } from "../support/engine.ts";
import { REDIS_URL, connectRedis, deleteKeysWithPrefix, uniqueName } from "../support/redis.ts";
import { freePort, healthPort, startCanarybot } from "../support/processes.ts";

const SECRETS = {
  SLACK_BOT_TOKEN: "xoxb-4242-4242-testbottokensecret",
  SLACK_SIGNING_SECRET: "signingsecret0123456789abcdef42",
  PROMETHEUS_PASSWORD: "prometheus-test-password-42",
  REDIS_PASSWORD: "redis-test-password-42",
};

/** One sample's value from Prometheus text format, or undefined when the series is absent. */
function sample(metrics: string, series: string): number | undefined {
  const line = metrics.split("\n").find((text) => text.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe("`canarybot serve --metrics-port` on a rollout", () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it("counts its Kubernetes and Prometheus calls, steps and phases, keeps every secret out of its logs, and stops on SIGTERM", async () => {
    const kube = await startKubeSandbox({ scenario: "bookinfo" });
    cleanups.push(() => kube.close());
    const slack = await startSlackSandbox({ botToken: SECRETS.SLACK_BOT_TOKEN });
    cleanups.push(() => slack.close());
    const dir = await mkdtemp(join(tmpdir(), "canarybot-serve-ops-"));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    await kube.writeKubeconfig(join(dir, "kubeconfig"));
    const prefix = uniqueName("serve-ops");
    cleanups.push(async () => {
      const redis = await connectRedis();
      await deleteKeysWithPrefix(redis, `${prefix}:`);
      redis.disconnect();
    });
    // The bot token and the Redis password come from files, the way a Kubernetes Secret volume hands them over.
    await writeFile(join(dir, "bot-token"), `${SECRETS.SLACK_BOT_TOKEN}\n`);
    await writeFile(join(dir, "redis-password"), SECRETS.REDIS_PASSWORD);
    const env = {
      PATH: process.env.PATH ?? "",
      HOME: dir,
      REDIS_URL,
      CANARYBOT_PREFIX: prefix,
      KUBECONFIG: join(dir, "kubeconfig"),
      CANARYBOT_MIN_INTERVAL_MS: "100",
      LOG_LEVEL: "debug",
      PORT: "0",
      SLACK_API_URL: slack.apiUrl,
      SLACK_BOT_TOKEN_FILE: join(dir, "bot-token"),
      SLACK_SIGNING_SECRET: SECRETS.SLACK_SIGNING_SECRET,
      REDIS_PASSWORD_FILE: join(dir, "redis-password"),
      // Nobody listens there: every analysis fails to reach Prometheus, with the basic-auth password in hand.
      PROMETHEUS_URL: `http://127.0.0.1:${await freePort()}`,
      PROMETHEUS_USERNAME: "canarybot",
      PROMETHEUS_PASSWORD: SECRETS.PROMETHEUS_PASSWORD,
      PROMETHEUS_SCRAPE_INTERVAL_SECONDS: "0.05",
    };
    const serve = await startCanarybot(["serve", "--metrics-port", "0"], "slack app ready", { env });
    cleanups.push(() => serve.stop("SIGKILL"));
    const port = healthPort(serve.output());
    const metrics = async (): Promise<string> => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();

    let stderr = "";
    const code = await runCli(
      ["start", "reviews", "--canary", "v2", "--steps", "10,100", "--interval", "200ms"],
      {
        stdout: () => undefined,
        stderr: (text) => (stderr += text),
        env: { ...resolveSecretFiles(env), LOG_LEVEL: "silent" },
        stopSignal: () => new Promise(() => undefined),
      },
    );
    expect(code, stderr).toBe(0);
    // Prometheus is unreachable, so the verdicts are inconclusive and the rollout pauses after three. The gauge is
    // read from Redis at scrape time, the counter once the service has saved the change: a scrape can fall between.
    const scraped = await waitFor(
      "the rollout paused for want of metrics",
      async () => {
        const text = await metrics();
        const paused = sample(text, 'canarybot_rollouts{phase="paused"}') === 1;
        return paused && sample(text, 'canarybot_rollout_transitions_total{phase="paused"}') !== undefined
          ? text
          : undefined;
      },
      60_000,
    );
    expect(
      sample(scraped, 'canarybot_external_calls_total{system="prometheus",operation="analyze",outcome="ok"}'),
    ).toBeGreaterThanOrEqual(3);
    expect(sample(scraped, 'canarybot_rollout_transitions_total{phase="paused"}')).toBe(1);
    expect(
      sample(
        scraped,
        'canarybot_external_calls_total{system="kubernetes",operation="setWeights",outcome="ok"}',
      ),
    ).toBeGreaterThanOrEqual(1);
    expect(scraped).toMatch(
      /^canarybot_external_call_duration_seconds_count\{system="kubernetes",operation="setWeights"\} \d+/m,
    );
    for (const state of ["waiting", "delayed", "active", "failed"]) {
      expect(sample(scraped, `canarybot_tick_queue_jobs{state="${state}"}`)).toBeGreaterThanOrEqual(0);
    }
    expect(sample(scraped, "canarybot_tick_lag_seconds")).toBeLessThan(5);

    // A request with a forged signature is refused and logged, without the secret it was checked against.
    const forged = await fetch(`http://127.0.0.1:${slackPort(serve.output())}/slack/events`, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        "x-slack-signature": "v0=00",
        "x-slack-request-timestamp": String(Math.floor(Date.now() / 1000)),
      },
      body: "command=%2Fcanary&text=list",
    });
    expect(forged.status).toBe(401);

    void serve.stop();
    const exited = await serve.exited;
    expect(exited.code, serve.output()).toBe(0);
    expect(exited.afterMs).toBeLessThan(10_000);
    const log = serve.output();
    expect(log).toContain("worker ready");
    expect(log).toContain("shutting down");
    for (const [name, secret] of Object.entries(SECRETS)) {
      expect(log.includes(secret), `${name} appears in the serve log`).toBe(false);
      expect(log.includes(encodeURIComponent(secret)), `${name} (URL-encoded) appears in the serve log`).toBe(
        false,
      );
    }
  }, 120_000);
});

function slackPort(output: string): number {
  const line = output.split("\n").find((text) => text.includes("slack app ready"));
  const port = line ? (JSON.parse(line) as { port?: number }).port : undefined;
  if (port === undefined) throw new Error(`no "slack app ready" line with a port in:\n${output}`);
  return port;
}
