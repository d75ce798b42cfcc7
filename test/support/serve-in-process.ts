import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadEnvConfig } from "../../src/config/env.ts";
import { createLogger } from "../../src/logger.ts";
import type { KubeSandbox } from "../../sandbox/kube/server.ts";
import type { SlackSandbox } from "../../sandbox/slack/web-api-sandbox.ts";
import { startServe } from "../../src/serve.ts";
import type { ServeHandle } from "../../src/serve.ts";
import { REDIS_URL, connectRedis, deleteKeysWithPrefix, uniqueName } from "./redis.ts";

export type ServeInProcess = {
  serve: ServeHandle;
  /** The key prefix (CANARYBOT_PREFIX) of this serve, without the trailing `:`. */
  prefix: string;
  /** Stop serving, delete its Redis keys and its kubeconfig. */
  close(): Promise<void>;
};

/**
 * `canarybot serve --no-worker` in this process (HTTP receiver on a free port), its Web API client on the Slack
 * sandbox and its Kubernetes the kube sandbox, on Redis under a prefix of its own: the benches' canarybot.
 */
export async function serveInProcess(options: {
  slack: SlackSandbox;
  kube: Pick<KubeSandbox, "writeKubeconfig">;
  signingSecret: string;
  label: string;
}): Promise<ServeInProcess> {
  const redis = await connectRedis();
  const dir = await mkdtemp(join(tmpdir(), "canarybot-serve-"));
  const kubeconfigPath = join(dir, "kubeconfig");
  await options.kube.writeKubeconfig(kubeconfigPath);
  const prefix = uniqueName(options.label);
  const processEnv = {
    REDIS_URL,
    CANARYBOT_PREFIX: prefix,
    KUBECONFIG: kubeconfigPath,
    HOME: process.env.HOME ?? dir,
    LOG_LEVEL: "silent",
    SLACK_BOT_TOKEN: options.slack.botToken,
    SLACK_SIGNING_SECRET: options.signingSecret,
    SLACK_API_URL: options.slack.apiUrl,
    PORT: "0",
  };
  let stop: () => void = () => undefined;
  const stopSignal = new Promise<void>((resolve) => (stop = resolve));
  const serve = await startServe({
    env: loadEnvConfig(processEnv),
    processEnv,
    logger: createLogger("silent"),
    mode: { slack: true, worker: false },
    stopSignal,
  });
  return {
    serve,
    prefix,
    async close() {
      stop();
      await serve.close();
      await deleteKeysWithPrefix(redis, `${prefix}:`);
      redis.disconnect();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
