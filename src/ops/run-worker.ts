import type { EnvConfig } from "../config/env.ts";
import type { TickWorker } from "../jobs/tick-worker.ts";
import { openRuntime, startWorker } from "../main.ts";
import type { Logger } from "../rollout/ports.ts";
import type { HealthServer } from "./health-server.ts";
import { OpsMetrics } from "./metrics.ts";
import { startOpsServer } from "./ops-server.ts";

export type RunWorkerOptions = {
  env: EnvConfig;
  processEnv: Readonly<Record<string, string | undefined>>;
  logger: Logger;
  kubeconfigPath?: string;
  context?: string;
  /** Serve /healthz, /readyz and /metrics on this port (0 picks a free one); none when absent. */
  metricsPort?: number;
  /** Resolves when the process should stop (SIGINT/SIGTERM). */
  stopSignal: Promise<void>;
};

/** `canarybot worker`: step rollouts until asked to stop, then finish the tick in hand and close everything. */
export async function runWorker(options: RunWorkerOptions): Promise<void> {
  const { env, logger, metricsPort } = options;
  const where = {
    ...(options.kubeconfigPath ? { kubeconfigPath: options.kubeconfigPath } : {}),
    ...(options.context ? { context: options.context } : {}),
  };
  const metrics = metricsPort === undefined ? undefined : new OpsMetrics();
  const runtime = openRuntime({
    env,
    processEnv: options.processEnv,
    logger,
    ...where,
    ...(metrics ? { metrics } : {}),
  });
  let ops: HealthServer | undefined;
  let worker: TickWorker | undefined;
  try {
    if (metrics && metricsPort !== undefined) {
      ops = await startOpsServer({
        port: metricsPort,
        env,
        processEnv: options.processEnv,
        ...where,
        store: runtime.store,
        metrics,
        logger,
      });
    }
    worker = startWorker(runtime, env, logger);
    await worker.waitUntilReady();
    logger.info({ queue: worker.queueName }, "worker ready");
    await options.stopSignal;
    logger.info({}, "shutting down");
  } finally {
    ops?.drain();
    await worker?.close();
    await runtime.close();
    await ops?.close();
  }
}
