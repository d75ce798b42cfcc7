import { userInfo } from "node:os";
import type { Command } from "commander";
import { findRollout } from "../commands/find-rollout.ts";
import { CanaryError, ErrorCode } from "../errors.ts";
import type { Runtime } from "../runtime.ts";
import type { EnvConfig } from "../config/env.ts";
import type { RolloutStore } from "../rollout/ports.ts";
import type { Rollout } from "../rollout/types.ts";
import type { RedisRole } from "../store/redis-client.ts";
import type { RedisScheduledStarts } from "../store/redis-scheduled-starts.ts";

// Beyond commander and small pure modules, every module is imported inside the command that uses it: `--help` and
// the commands that only read Redis start without the Kubernetes client, BullMQ, Bolt or chart.js (loading the
// whole program took seconds). Keep heavy imports out of the command modules' import lists.

export type CliIo = {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: Readonly<Record<string, string | undefined>>;
  /** Resolves when the process is asked to stop (SIGINT/SIGTERM), for long-running commands. */
  stopSignal: () => Promise<void>;
};

/** Exit codes: 0 done, 1 refused or invalid input, 2 internal error. */
export const ExitCode = { Ok: 0, Refused: 1, Internal: 2 } as const;

export type Global = { kubeconfig?: string; context?: string; config?: string; verbose?: boolean };
export type ActOptions = { as?: string; reason?: string };

/** What every command group is given: the program, the streams, and the ways to reach Redis and the cluster. */
export type CliContext = {
  program: Command;
  io: CliIo;
  global: () => Global;
  env: () => Promise<EnvConfig>;
  /** Redis, Kubernetes, the tick queue and the rollout service, for the commands that change rollouts. */
  runtime: <T>(fn: (runtime: Runtime) => Promise<T>, redisRole?: RedisRole) => Promise<T>;
  /** The rollout store (and scheduled starts) alone, for the commands that only read: no Kubernetes, no queue. */
  readStore: <T>(fn: (store: RolloutStore, scheduled: RedisScheduledStarts) => Promise<T>) => Promise<T>;
  actor: (options: ActOptions) => string;
  print: (value: unknown, json: boolean | undefined, text: () => string) => void;
  setExitCode: (code: number) => void;
};

export function createCliContext(
  program: Command,
  io: CliIo,
  setExitCode: (code: number) => void,
): CliContext {
  const global = (): Global => program.opts<Global>();
  const env = async () => (await import("../config/env.ts")).loadEnvConfig(io.env);
  /** A one-shot command logs at warn and above, unless --verbose; LOG_LEVEL can only make it quieter. */
  const oneShotLogLevel = (): string => (global().verbose ? "debug" : quieter(io.env.LOG_LEVEL, "warn"));
  /** Redis, Kubernetes, the tick queue and the rollout service, for the commands that change rollouts. */
  const runtime = async <T>(
    fn: (runtime: Runtime) => Promise<T>,
    redisRole: RedisRole = "one-shot",
  ): Promise<T> => {
    const [config, { createLogger }, { openRuntime }] = await Promise.all([
      env(),
      import("../logger.ts"),
      import("../runtime.ts"),
    ]);
    const options = global();
    const opened = openRuntime({
      env: config,
      processEnv: io.env,
      // A worker logs as configured (LOG_LEVEL, default info); a one-shot command only what a person must see.
      logger: createLogger(redisRole === "service" ? config.LOG_LEVEL : oneShotLogLevel(), io.env),
      redisRole,
      ...(options.kubeconfig ? { kubeconfigPath: options.kubeconfig } : {}),
      ...(options.context ? { context: options.context } : {}),
    });
    try {
      return await fn(opened);
    } finally {
      await opened.close();
    }
  };
  /** The rollout store (and scheduled starts) alone, for the commands that only read: no Kubernetes, no queue. */
  const readStore = async <T>(
    fn: (store: RolloutStore, scheduled: RedisScheduledStarts) => Promise<T>,
  ): Promise<T> => {
    const [config, { createRedisClient }, { RedisRolloutStore }, { RedisScheduledStarts }] =
      await Promise.all([
        env(),
        import("../store/redis-client.ts"),
        import("../store/redis-rollout-store.ts"),
        import("../store/redis-scheduled-starts.ts"),
      ]);
    // A failed connection is reported by the command that needed it, once.
    const redis = createRedisClient(config.REDIS_URL, { role: "one-shot", onError: () => undefined });
    const prefix = `${config.CANARYBOT_PREFIX}:`;
    try {
      return await fn(new RedisRolloutStore(redis, { prefix }), new RedisScheduledStarts(redis, prefix));
    } finally {
      redis.disconnect();
    }
  };
  return {
    program,
    io,
    global,
    env,
    runtime,
    readStore,
    actor: (options) => `cli:${options.as ?? userInfo().username}`,
    print: (value, json, text) => {
      io.stdout(json ? `${JSON.stringify(value, null, 2)}\n` : `${text()}\n`);
    },
    setExitCode,
  };
}

/** A rollout by id, else the live (or newest) rollout of a service. */
export async function requireRollout(store: RolloutStore, ref: string, namespace?: string): Promise<Rollout> {
  const found = await findRollout(store, ref, namespace);
  if (!found) throw new CanaryError(ErrorCode.NotFound, `no rollout or service named ${ref}`);
  return found;
}

const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"];

/** The quieter of a configured log level and `floor`. */
function quieter(level: string | undefined, floor: string): string {
  if (level === undefined) return floor;
  return LOG_LEVELS.indexOf(level) > LOG_LEVELS.indexOf(floor) ? level : floor;
}
