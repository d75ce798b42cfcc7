import type { EnvConfig } from "../config/env.ts";
import { outlineKubeConfig } from "../k8s/kubeconfig-outline.ts";
import type { Logger, RolloutStore } from "../rollout/ports.ts";
import { startHealthServer } from "./health-server.ts";
import type { HealthServer } from "./health-server.ts";
import type { OpsMetrics } from "./metrics.ts";
import { kubernetesReadiness, redisReadiness } from "./readiness.ts";
import { tickQueueStats } from "./tick-queue-stats.ts";

export type OpsServerOptions = {
  port: number;
  env: EnvConfig;
  processEnv: Readonly<Record<string, string | undefined>>;
  kubeconfigPath?: string;
  context?: string;
  store: RolloutStore;
  metrics: OpsMetrics;
  logger: Logger;
};

/** The health and metrics endpoints of a `serve` or `worker` process, with the checks and gauges they read. */
export async function startOpsServer(options: OpsServerOptions): Promise<HealthServer> {
  const { env, metrics, logger } = options;
  const kubeconfig = outlineKubeConfig({
    env: options.processEnv,
    ...(options.kubeconfigPath ? { kubeconfigPath: options.kubeconfigPath } : {}),
    ...(options.context ? { context: options.context } : {}),
  });
  const queue = tickQueueStats(env.REDIS_URL, env.CANARYBOT_PREFIX);
  metrics.observe({ liveRollouts: () => options.store.listActive(), tickQueue: () => queue.read() });
  const server = await startHealthServer({
    port: options.port,
    checks: [
      redisReadiness(env.REDIS_URL, `${env.CANARYBOT_PREFIX}:marker`),
      kubernetesReadiness(
        async () => (await import("../k8s/kubeconfig.ts")).kubeConfigFrom(kubeconfig).kubeConfig,
      ),
    ],
    metrics,
    logger,
  });
  logger.info({ port: server.port, paths: ["/healthz", "/readyz", "/metrics"] }, "health server listening");
  return {
    port: server.port,
    drain: () => server.drain(),
    async close() {
      await server.close();
      await queue.close();
    },
  };
}
