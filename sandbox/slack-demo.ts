import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { auditLine } from "../src/commands/render-text.ts";
import { loadEnvConfig } from "../src/config/env.ts";
import { createLogger } from "../src/logger.ts";
import { startKubeSandbox } from "./kube/server.ts";
import { createSignedRequestClient } from "./slack/signed-request-client.ts";
import { startSlackSandbox } from "./slack/web-api-sandbox.ts";
import { startServe } from "../src/serve.ts";
import { ActionId } from "../src/slack/render-rollout-message.ts";

const ALICE = { id: "U0ALICE01", name: "alice" };
const BOB = { id: "U0BOB0001", name: "bob" };
const DEPLOYS = { id: "C0DEPLOYS", name: "deploys" };

type Route = { route?: { destination?: { subset?: string }; weight?: number }[] };

/**
 * The Slack side end to end, on one machine: the Slack Web API sandbox, the Kubernetes sandbox (bookinfo), and
 * `canarybot serve` (HTTP mode and a worker) on the Redis at REDIS_URL. Alice starts a canary of `reviews` with
 * `/canary`, tries to approve her own gate (refused), Bob approves, and the rollout message is printed every
 * time it changes, with the VirtualService's weights.
 */
export async function runSlackDemo(options: {
  print: (line: string) => void;
  env?: Readonly<Record<string, string | undefined>>;
}): Promise<void> {
  const { print } = options;
  const signingSecret = randomBytes(16).toString("hex");
  const slack = await startSlackSandbox({ users: [ALICE, BOB], channels: [DEPLOYS] });
  const kube = await startKubeSandbox({ scenario: "bookinfo" });
  const dir = await mkdtemp(join(tmpdir(), "canarybot-slack-demo-"));
  const kubeconfigPath = join(dir, "kubeconfig");
  await kube.writeKubeconfig(kubeconfigPath);
  const prefix = `canarybot-demo-${randomBytes(3).toString("hex")}`;
  // The demo's bot lives in the demo's world: of the caller's environment it takes where Redis is and HOME, never a
  // Prometheus, a config file or a Socket Mode token meant for another canarybot (a PROMETHEUS_URL left over from
  // the README's metrics section made it judge this mesh-less sandbox by a Prometheus that sees none of it).
  const caller = options.env ?? process.env;
  const processEnv = {
    ...(caller.REDIS_URL === undefined ? {} : { REDIS_URL: caller.REDIS_URL }),
    ...(caller.HOME === undefined ? {} : { HOME: caller.HOME }),
    CANARYBOT_PREFIX: prefix,
    CANARYBOT_MIN_INTERVAL_MS: "100",
    KUBECONFIG: kubeconfigPath,
    LOG_LEVEL: caller.LOG_LEVEL ?? "warn",
    SLACK_BOT_TOKEN: slack.botToken,
    SLACK_SIGNING_SECRET: signingSecret,
    SLACK_API_URL: slack.apiUrl,
    PORT: "0",
  };
  const env = loadEnvConfig(processEnv);
  const bot = await startServe({
    env,
    processEnv,
    logger: createLogger(env.LOG_LEVEL),
    kubeconfigPath,
    mode: { slack: true, worker: true },
    stopSignal: new Promise(() => undefined),
  });
  const endpoint = `http://127.0.0.1:${bot.port}/slack/events`;
  print(`Slack sandbox ${slack.url}, Kubernetes sandbox ${kube.url}, canarybot ${endpoint}`);
  const client = createSignedRequestClient({ endpoint, signingSecret, slack });

  const weights = (): string =>
    ((kube.get("VirtualService", "default", "reviews")?.spec as { http?: Route[] } | undefined)?.http ?? [])
      .map((route) =>
        (route.route ?? []).map((d) => `${d.destination?.subset ?? "?"}=${d.weight ?? 100}`).join(","),
      )
      .join(" | ");
  let shown = "";
  const watch = setInterval(() => {
    const message = slack.messages(DEPLOYS.id).find((m) => m.text.startsWith("reviews-"));
    const line = message ? `${message.text}   route: ${weights()}` : "";
    if (line !== shown && line !== "") print(`  #deploys  ${line}`);
    shown = line;
  }, 20);
  const until = async (what: string, check: () => boolean): Promise<void> => {
    const deadline = Date.now() + 20_000;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`demo: timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  const rolloutMessage = () => slack.messages(DEPLOYS.id).find((m) => m.text.startsWith("reviews-1:"));
  const reply = async (user: { id: string }, count: number): Promise<void> => {
    await until("a reply", () => slack.ephemerals({ user: user.id }).length >= count);
    print(`  (only ${user.id} sees) ${slack.ephemerals({ user: user.id })[count - 1]?.text ?? ""}`);
  };

  try {
    const text = "start reviews --canary v2 --steps 10,50,100 --approve-at 50 --interval 1s";
    print(`alice: /canary ${text}`);
    await client.slashCommand({ text, userId: ALICE.id, channelId: DEPLOYS.id });
    await reply(ALICE, 1);
    await until("the approval gate", () => rolloutMessage()?.text.includes("awaiting-approval") ?? false);
    print("alice clicks Approve on her own rollout");
    await client.clickButton({
      channel: DEPLOYS.id,
      messageTs: rolloutMessage()!.ts,
      actionId: ActionId.Approve,
      userId: ALICE.id,
    });
    await reply(ALICE, 2);
    print("bob clicks Approve");
    await client.clickButton({
      channel: DEPLOYS.id,
      messageTs: rolloutMessage()!.ts,
      actionId: ActionId.Approve,
      userId: BOB.id,
    });
    await until("the promotion", () => rolloutMessage()?.text.includes(", promoted,") ?? false);
    await new Promise((resolve) => setTimeout(resolve, 100));
    print("audit trail (/canary history reviews-1):");
    for (const entry of await bot.runtime.store.audit("reviews-1")) print(`  ${auditLine(entry)}`);
  } finally {
    clearInterval(watch);
    await bot.close();
    const redis = new Redis(env.REDIS_URL);
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
    await kube.close();
    await slack.close();
    await rm(dir, { recursive: true, force: true });
  }
}
