import { Option } from "commander";
import { CanaryError, ErrorCode } from "../errors.ts";
import type { CliContext } from "./context.ts";

/** `canarybot serve` and `canarybot worker`: the long-running processes, until SIGINT/SIGTERM. */
export function registerServeCommands(cli: CliContext): void {
  const { program, io, env } = cli;
  const metricsPortOption = (): Option =>
    new Option("--metrics-port <port>", "serve /healthz, /readyz and /metrics here (default: METRICS_PORT)");
  const metricsPort = (flag: string | undefined): { metricsPort?: number } => {
    const text = flag ?? io.env.METRICS_PORT;
    if (text === undefined || text === "") return {};
    const port = Number(text);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new CanaryError(
        ErrorCode.InvalidInput,
        `--metrics-port ${text}: expected a port from 0 to 65535`,
      );
    }
    return { metricsPort: port };
  };
  const serve = async (
    mode: { slack: boolean; worker: boolean },
    port: string | undefined,
  ): Promise<void> => {
    const [config, { createLogger }, { runServe }] = await Promise.all([
      env(),
      import("../logger.ts"),
      import("../serve.ts"),
    ]);
    const global = cli.global();
    await runServe({
      env: config,
      processEnv: io.env,
      logger: createLogger(config.LOG_LEVEL, io.env),
      ...(global.kubeconfig ? { kubeconfigPath: global.kubeconfig } : {}),
      ...(global.context ? { context: global.context } : {}),
      ...(global.config ? { configPath: global.config } : {}),
      mode,
      ...metricsPort(port),
      stopSignal: io.stopSignal(),
    });
  };

  program
    .command("serve")
    .description("run the Slack app and the tick worker until SIGINT/SIGTERM")
    .option("--no-worker", "the Slack app only")
    .option("--no-slack", "the tick worker only")
    .addOption(metricsPortOption())
    .action(async (options: { worker: boolean; slack: boolean; metricsPort?: string }) => {
      await serve({ slack: options.slack, worker: options.worker }, options.metricsPort);
    });

  program
    .command("worker")
    .description("run the tick worker (and, with SLACK_BOT_TOKEN, Slack delivery) until SIGINT/SIGTERM")
    .addOption(metricsPortOption())
    .action(async (options: { metricsPort?: string }) => {
      // `serve --no-slack`: the same worker, health server and shutdown, and it delivers when it holds a token.
      await serve({ slack: false, worker: true }, options.metricsPort);
    });
}
