import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { loadEnvConfig } from "../../src/config/env.ts";
import { createLogger } from "../../src/logger.ts";
import { startServe } from "../../src/serve.ts";
import type { ServeHandle } from "../../src/serve.ts";
import { startKubeSandbox } from "../kube/server.ts";
import { startMeshSandbox } from "../mesh/mesh-sandbox.ts";
import { createSignedRequestClient } from "../slack/signed-request-client.ts";
import { startSlackSandbox } from "../slack/web-api-sandbox.ts";
import type { SlackSandbox } from "../slack/web-api-sandbox.ts";
import { channelView } from "./channel-view.ts";
import { DEMO_CHANNEL, DEMO_CONFIG_PATH, DEMO_GROUPS, DEMO_PEOPLE } from "./demo-people.ts";
import { deleteKeysUnder, provideRedis } from "./demo-redis.ts";
import type { DemoRedis } from "./demo-redis.ts";
import { startDemoServer } from "./demo-server.ts";
import type { DemoServer } from "./demo-server.ts";
import { findOnPath, freePort } from "./processes.ts";
import { startPrometheusProcess } from "./prometheus-process.ts";
import type { PrometheusProcess } from "./prometheus-process.ts";

export type DemoOptions = {
  /** The channel page's port: 3000 by default, 0 for any free one. */
  port: number;
  env: Readonly<Record<string, string | undefined>>;
  /** The start-up lines: where Redis, the sandboxes and Prometheus are. */
  print: (line: string) => void;
};

export type Demo = {
  /** The channel page. */
  url: string;
  /** The `kubectl` line to watch the VirtualService from another terminal (the kubeconfig is the demo's own). */
  kubectlWatch: string;
  /** Child processes the demo started (Prometheus, redis-server): a second Ctrl-C kills them. */
  childPids(): number[];
  /** Stops everything, deletes the demo's Redis keys and temp files. */
  close(): Promise<void>;
};

/** Mesh traffic: enough requests per judged window that a 5% canary step has more than the minimum. */
const MESH_RPS = 200;
const SCRAPE_SECONDS = 1;

/**
 * Everything `npm run demo` runs, in this process except Prometheus (and redis-server when none is running): the
 * Kubernetes sandbox with bookinfo, the mesh simulating reviews' traffic, Prometheus scraping it every second, the
 * Slack sandbox with three people in #deploys, `canarybot serve` (HTTP mode and a worker) against all of them, and
 * the channel page. On any failure what was started is stopped again.
 */
export async function startDemo(options: DemoOptions): Promise<Demo> {
  const { env, print } = options;
  const undo: (() => Promise<unknown>)[] = [];
  const close = async (): Promise<void> => {
    for (const step of undo.splice(0).reverse()) await step().catch(() => undefined);
  };
  try {
    const dir = await mkdtemp(join(tmpdir(), "canarybot-demo-"));
    undo.push(() => rm(dir, { recursive: true, force: true }));
    const kubeconfigPath = join(dir, "kubeconfig");
    const prefix = `canarybot-demo-${randomBytes(4).toString("hex")}`;

    const [redis, kube, slack] = await Promise.all([
      provideRedis(env),
      startKubeSandbox({ scenario: "bookinfo" }),
      startSlackSandbox({ users: [...DEMO_PEOPLE], channels: [DEMO_CHANNEL], usergroups: [...DEMO_GROUPS] }),
    ]);
    undo.push(
      () => slack.close(),
      () => kube.close(),
    );
    if (redis.process !== undefined) undo.push(() => redis.process!.stop());
    undo.push(() => deleteKeysUnder(redis.url, `${prefix}:`));
    await kube.writeKubeconfig(kubeconfigPath);

    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromString(kube.kubeconfig);
    const meshPort = await freePort();
    // PROMETHEUS_BIN names the binary; set empty, it runs the demo without Prometheus (analysis off).
    const prometheusBinary =
      env.PROMETHEUS_BIN === "" ? undefined : (env.PROMETHEUS_BIN ?? findOnPath("prometheus", env));
    const [mesh, prometheus] = await Promise.all([
      startMeshSandbox({
        kubeConfig,
        namespace: "default",
        services: ["reviews"],
        port: meshPort,
        rps: MESH_RPS,
        pollMs: 100,
      }),
      prometheusBinary === undefined
        ? Promise.resolve(undefined)
        : startPrometheusProcess({
            binary: prometheusBinary,
            targets: [`127.0.0.1:${meshPort}`],
            scrapeIntervalSeconds: SCRAPE_SECONDS,
          }),
    ]);
    undo.push(() => mesh.close());
    if (prometheus !== undefined) undo.push(() => prometheus.stop());

    const bot = await startBot({ env, redis, prefix, kubeconfigPath, slack, prometheus });
    undo.push(() => bot.handle.close());

    const kubectlWatch = `kubectl --kubeconfig ${kubeconfigPath} get virtualservice reviews -w`;
    const closedViews = new Set<string>();
    const analysis =
      prometheus === undefined
        ? { on: false, note: "No Prometheus (not on PATH): analysis is off, rollouts step on schedule." }
        : {
            on: true,
            note: `Prometheus ${prometheus.url} judges every step (scraping every ${SCRAPE_SECONDS}s).`,
          };
    const server: DemoServer = await startDemoServer({
      port: options.port,
      slack,
      client: createSignedRequestClient({ endpoint: bot.endpoint, signingSecret: bot.signingSecret, slack }),
      channelId: DEMO_CHANNEL.id,
      view: () =>
        channelView({
          slack,
          channel: DEMO_CHANNEL,
          people: DEMO_PEOPLE,
          groups: DEMO_GROUPS,
          virtualServices: () => kube.list("VirtualService", "default"),
          destinationRules: () => kube.list("DestinationRule", "default"),
          mesh: () => mesh.settings(),
          analysis,
          kubectl: kubectlWatch,
          closedViews,
        }),
      closeView: (id) => closedViews.add(id),
      meshControl: (control) => mesh.control(control),
    });
    undo.push(() => server.close());
    print(`redis ${redis.url} (${redis.origin}), keys under ${prefix}:`);
    print(`kubernetes sandbox ${kube.url} (bookinfo), mesh ${mesh.url}`);
    print(
      prometheus === undefined
        ? "prometheus: none (not on PATH); analysis is off"
        : `prometheus ${prometheus.url}`,
    );
    return {
      url: server.url,
      kubectlWatch,
      childPids: () =>
        [prometheus?.pid(), redis.process?.child.pid].filter((pid): pid is number => pid !== undefined),
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

async function startBot(options: {
  env: Readonly<Record<string, string | undefined>>;
  redis: DemoRedis;
  prefix: string;
  kubeconfigPath: string;
  slack: SlackSandbox;
  prometheus: PrometheusProcess | undefined;
}): Promise<{ handle: ServeHandle; endpoint: string; signingSecret: string }> {
  const { slack, prometheus } = options;
  const signingSecret = randomBytes(16).toString("hex");
  const processEnv: Record<string, string | undefined> = {
    ...options.env,
    REDIS_URL: options.redis.url,
    CANARYBOT_PREFIX: options.prefix,
    // The demo steps every few seconds; real deployments keep the 1 s floor.
    CANARYBOT_MIN_INTERVAL_MS: "100",
    KUBECONFIG: options.kubeconfigPath,
    LOG_LEVEL: options.env.LOG_LEVEL ?? "error",
    SLACK_BOT_TOKEN: slack.botToken,
    SLACK_SIGNING_SECRET: signingSecret,
    SLACK_API_URL: slack.apiUrl,
    SLACK_APP_TOKEN: undefined,
    PORT: "0",
    PROMETHEUS_URL: prometheus?.url,
    PROMETHEUS_SCRAPE_INTERVAL_SECONDS: String(SCRAPE_SECONDS),
    CANARYBOT_CONFIG: DEMO_CONFIG_PATH,
  };
  const env = loadEnvConfig(processEnv);
  const handle = await startServe({
    env,
    processEnv,
    logger: createLogger(env.LOG_LEVEL, processEnv),
    kubeconfigPath: options.kubeconfigPath,
    configPath: DEMO_CONFIG_PATH,
    mode: { slack: true, worker: true },
    stopSignal: new Promise(() => undefined),
  });
  return { handle, endpoint: `http://127.0.0.1:${handle.port}/slack/events`, signingSecret };
}
