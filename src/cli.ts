import { userInfo } from "node:os";
import { Command, CommanderError, Option } from "commander";
import { BUILTIN_DEFAULTS } from "./rollout/start-request.ts";
import type { StartOptions } from "./rollout/start-request.ts";
import {
  auditJson,
  auditTable,
  describeRolloutStart,
  dryRunText,
  snapshotTable,
  statusJson,
  statusLine,
  statusTable,
  unfinishedRollback,
} from "./commands/render-text.ts";
import { findRollout } from "./commands/find-rollout.ts";
import { humanEvent } from "./commands/human-event.ts";
import { CanaryError, ErrorCode, isCanaryError, errorMessage } from "./errors.ts";
import { redact, secretValues } from "./redact.ts";
import type { Runtime } from "./main.ts";
import type { RolloutStore } from "./rollout/ports.ts";
import type { HumanEvent } from "./rollout/types.ts";
import type { Rollout } from "./rollout/types.ts";
import type { RedisRole } from "./store/redis-client.ts";
import type { RedisScheduledStarts } from "./store/redis-scheduled-starts.ts";
import { registerConfigCommands } from "./config/config-commands.ts";
import { describeFailedScheduledStart, describeScheduledStart } from "./commands/render-scheduled.ts";
import { formatUtcDateTime } from "./rollout/time-text.ts";
import { processStopSignal } from "./ops/shutdown.ts";
import {
  WAIT_FLAG_HELP,
  followRollout,
  registerWaitCommand,
  waitTimeoutMs,
} from "./commands/wait-command.ts";
import type { WaitFlags } from "./commands/wait-command.ts";

// Beyond commander and the small pure modules above, every module is imported inside the command that uses it:
// `--help` and the commands that only read Redis start without the Kubernetes client, BullMQ, Bolt or chart.js
// (loading the whole program took seconds). Keep heavy imports out of this list.

export type CliIo = {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: Readonly<Record<string, string | undefined>>;
  /** Resolves when the process is asked to stop (SIGINT/SIGTERM), for long-running commands. */
  stopSignal: () => Promise<void>;
};

/** Exit codes: 0 done, 1 refused or invalid input, 2 internal error. */
export const ExitCode = { Ok: 0, Refused: 1, Internal: 2 } as const;

/** Failures of the world, not of the request: they exit 2. */
const INTERNAL_CODES: readonly string[] = [
  ErrorCode.Internal,
  ErrorCode.KubernetesUnavailable,
  ErrorCode.MetricsUnavailable,
  ErrorCode.SlackUnavailable,
  ErrorCode.Locked,
];

type Global = { kubeconfig?: string; context?: string; config?: string; verbose?: boolean };
type ActOptions = { as?: string; reason?: string };

/** Run the command line; returns the exit code instead of exiting, so tests can drive it in-process. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  let exitCode: number = ExitCode.Ok;
  const program = new Command("canarybot")
    .description("Progressive (canary) releases of Istio VirtualServices, stepped from Redis-backed jobs")
    .option("--kubeconfig <file>", "kubeconfig file (default: KUBECONFIG, in-cluster, ~/.kube/config)")
    .option("--context <name>", "kubeconfig context")
    .option("--config <file>", "services, their targets, defaults and approvers (default: CANARYBOT_CONFIG)")
    .option("--verbose", "log what the command does on stderr (otherwise only warnings and errors)")
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr, outputError: () => undefined })
    .showSuggestionAfterError(true);

  const env = async () => (await import("./config/env.ts")).loadEnvConfig(io.env);
  /** A one-shot command logs at warn and above, unless --verbose; LOG_LEVEL can only make it quieter. */
  const oneShotLogLevel = (): string =>
    program.opts<Global>().verbose ? "debug" : quieter(io.env.LOG_LEVEL, "warn");
  /** Redis, Kubernetes, the tick queue and the rollout service, for the commands that change rollouts. */
  const runtime = async <T>(
    fn: (runtime: Runtime) => Promise<T>,
    redisRole: RedisRole = "one-shot",
  ): Promise<T> => {
    const [config, { createLogger }, { openRuntime }] = await Promise.all([
      env(),
      import("./logger.ts"),
      import("./main.ts"),
    ]);
    const global = program.opts<Global>();
    const opened = openRuntime({
      env: config,
      processEnv: io.env,
      // A worker logs as configured (LOG_LEVEL, default info); a one-shot command only what a person must see.
      logger: createLogger(redisRole === "service" ? config.LOG_LEVEL : oneShotLogLevel(), io.env),
      redisRole,
      ...(global.kubeconfig ? { kubeconfigPath: global.kubeconfig } : {}),
      ...(global.context ? { context: global.context } : {}),
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
        import("./store/redis-client.ts"),
        import("./store/redis-rollout-store.ts"),
        import("./store/redis-scheduled-starts.ts"),
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
  const actor = (options: ActOptions): string => `cli:${options.as ?? userInfo().username}`;
  const print = (value: unknown, json: boolean | undefined, text: () => string): void => {
    io.stdout(json ? `${JSON.stringify(value, null, 2)}\n` : `${text()}\n`);
  };

  program
    .command("start")
    .description("start a canary rollout of a service's VirtualService route")
    .argument("<service>", "the service (and, unless --virtual-service, its VirtualService)")
    .requiredOption(
      "--canary <subset>",
      "DestinationRule subset of the new version (with --http-route: its backend Service)",
    )
    .option("--stable <subset>", "subset that takes the traffic now (default: read off the route)")
    .option("-n, --namespace <ns>", `namespace (default ${BUILTIN_DEFAULTS.namespace})`)
    .option("--virtual-service <name>", "VirtualService name (default: the service)")
    .option("--http-route <name>", "split a Gateway API HTTPRoute's backendRefs instead of a VirtualService")
    .option("--route <name>", "name of the HTTP route to manage (default: the one to the stable subset)")
    .option("--host <host>", "destination host (default: the service)")
    .option("--steps <list>", `canary weights in percent (default ${BUILTIN_DEFAULTS.steps.join(",")})`)
    .option("--interval <duration>", `time between steps (default ${BUILTIN_DEFAULTS.intervalMs / 1000}s)`)
    .option("--approve-at <list>", "weights that wait for an approval")
    .option(
      "--progress-deadline <duration>",
      "roll back when the canary's pods stay unhealthy this long (default 10m)",
    )
    .option(
      "--mesh-context <name>",
      "kubeconfig context of the mesh's cluster (default: that of the workloads)",
    )
    .option("--header <name=value>", "first route only requests with this header to the canary")
    .option("--no-two-person", "let the starter approve their own gates")
    .option("--no-analysis", "step on schedule without judging metrics")
    .option("--min-success <percent>", "canary success rate at least (default 99)")
    .option("--max-p99 <duration>", "canary p99 latency at most (default 500ms)")
    .option("--max-error-increase <points>", "canary error rate at most stable + this (default 1)")
    .option("--max-p99-ratio <ratio>", "canary p99 at most this × stable p99 (default 1.25)")
    .option("--min-requests <n>", "fewer canary requests in a window is inconclusive (default 20)")
    .option("--failure-limit <n>", "failed checks that roll back (default 2)")
    .option("--dry-run", "print the plan and the route change, change nothing")
    .option("--ignore-freeze", "start even during one of the service's freezes (break glass; audited)")
    .option("--at <time>", 'start later: "2026-12-01 09:00 Europe/Berlin" (UTC without a zone)')
    .option("--as <user>", "who is acting, for the audit (default: the OS user)")
    .option(
      "--webhook <spec>",
      "a webhook of this start only, repeatable: type=rollout,url=http://…[,name=…,timeout=15s,retries=2,metadata.cmd=…]",
      (spec: string, previous: string[] | undefined) => [...(previous ?? []), spec],
    )
    .option("--channel <id>", "post the rollout message in this Slack channel (C…), where people approve it")
    .option("--wait", WAIT_FLAG_HELP.wait)
    .option("--wait-timeout <duration>", WAIT_FLAG_HELP.waitTimeout)
    .action(
      async (
        service: string,
        options: Omit<StartOptions, "service"> &
          ActOptions &
          WaitFlags & { dryRun?: boolean; ignoreFreeze?: boolean; at?: string; channel?: string },
      ) => {
        const timeoutMs = waitTimeoutMs(options, true);
        if (options.wait && (options.dryRun || options.at !== undefined)) {
          throw new CanaryError(
            ErrorCode.InvalidInput,
            "--wait: not with --dry-run or --at (nothing starts now)",
          );
        }
        const [{ configPathFrom, loadConfigFile }, services, { startDefaults }] = await Promise.all([
          import("./config/file.ts"),
          import("./config/services.ts"),
          import("./main.ts"),
        ]);
        const configPath = configPathFrom(program.opts<Global>().config, io.env);
        const configured = services
          .serviceDirectory(configPath ? await loadConfigFile(configPath) : undefined)
          .find(service);
        const report = services.reportChannel(options.channel, configured, service);
        if (!report.ok) throw new CanaryError(ErrorCode.InvalidInput, report.error);
        const start = services.startRequestFor(
          { ...options, service },
          configured,
          startDefaults(await env()),
          {
            by: actor(options),
            ...(report.value ? { report: report.value } : {}),
            ...(options.ignoreFreeze ? { ignoreFreeze: true } : {}),
          },
        );
        if (!start.ok) throw new CanaryError(ErrorCode.InvalidInput, start.error);
        const request = start.value;
        const started = await runtime(async ({ service: rollouts, scheduled: scheduledStarts }) => {
          if (options.dryRun) {
            const dry = dryRunText(await rollouts.dryRun(request));
            io.stdout(`${[dry.heading, ...dry.lines, dry.change].join("\n")}\n`);
            return;
          }
          if (options.at !== undefined) {
            const { parseStartTime } = await import("./schedule/local-time.ts");
            const at = parseStartTime(options.at, Date.now());
            if (!at.ok) throw new CanaryError(ErrorCode.InvalidInput, at.error);
            await rollouts.dryRun(request); // a start that could not run now is refused now, not when it is due
            const scheduled = await scheduledStarts.add(at.value, request, Date.now());
            io.stdout(`${describeScheduledStart(scheduled)}\n`);
            return;
          }
          const rollout = await rollouts.start(request);
          io.stdout(`${describeRolloutStart(rollout)}\n`);
          return rollout.id;
        });
        // Followed from Redis alone, once the Kubernetes client and the queue are closed.
        if (options.wait && started !== undefined) {
          const follow = timeoutMs === undefined ? {} : { timeoutMs };
          exitCode = await readStore((store) => followRollout(store, started, io, follow));
        }
      },
    );

  program
    .command("status")
    .description("show live rollouts, or one by id or service")
    .argument("[ref]", "rollout id (reviews-3) or service name")
    .option("-n, --namespace <ns>", "namespace of the service")
    .option("--json", "machine-readable output")
    .action(async (ref: string | undefined, options: { namespace?: string; json?: boolean }) => {
      await readStore(async (store) => {
        const found =
          ref === undefined
            ? await store.listActive()
            : [await requireRollout(store, ref, options.namespace)];
        const shown = found.map(statusJson);
        print(ref === undefined ? shown : shown[0], options.json, () =>
          found.length === 0 ? "no live rollouts" : statusTable(found),
        );
      });
    });

  program
    .command("list")
    .description("list live rollouts (and, as text, scheduled starts)")
    .option("--json", "machine-readable output: the live rollouts")
    .action(async (options: { json?: boolean }) => {
      await readStore(async (store, scheduled) => {
        const live = await store.listActive();
        if (options.json) {
          print(live.map(statusJson), true, () => "");
          return;
        }
        const lines = [
          live.length === 0 ? "no live rollouts" : statusTable(live),
          ...(await scheduled.list()).map(describeScheduledStart),
          ...(await scheduled.failures()).map(describeFailedScheduledStart),
        ];
        io.stdout(`${lines.join("\n")}\n`);
      });
    });

  program
    .command("scheduled")
    .description("list scheduled starts, and those refused when their time came")
    .option("--json", "machine-readable output")
    .action(async (options: { json?: boolean }) => {
      await readStore(async (_store, scheduled) => {
        const pending = await scheduled.list();
        const failed = await scheduled.failures();
        print(
          { scheduled: pending, refused: failed },
          options.json,
          () =>
            [...pending.map(describeScheduledStart), ...failed.map(describeFailedScheduledStart)].join(
              "\n",
            ) || "no scheduled starts",
        );
      });
    });

  program
    .command("cancel")
    .description("cancel a scheduled start")
    .argument("<id>", "scheduled start id, e.g. reviews@3 (see list)")
    .action(async (id: string) => {
      await readStore(async (_store, scheduled) => {
        const cancelled = await scheduled.cancel(id);
        io.stdout(
          `cancelled ${cancelled.id}: ${cancelled.request.target.service} would have started at ${formatUtcDateTime(cancelled.at)}\n`,
        );
      });
    });

  registerWaitCommand(
    program,
    (fn) => readStore((store) => fn(store)),
    (code) => (exitCode = code),
    io,
  );

  const act = (name: HumanEvent["type"], description: string): void => {
    program
      .command(name)
      .description(description)
      .argument("<id>", "rollout id, e.g. reviews-3")
      .option("--reason <text>", "why, for the audit and the channel")
      .option("--as <user>", "who is acting, for the audit (default: the OS user)")
      .action(async (id: string, options: ActOptions) => {
        const by = actor(options);
        const event = humanEvent(name, by, options.reason, `requested by ${by}`);
        await runtime(async ({ service }) => {
          const rollout = await service.act(id, event);
          io.stdout(`${statusLine(rollout)}\n`);
          const unfinished = name === "rollback" ? unfinishedRollback(rollout) : undefined;
          if (unfinished) throw new CanaryError(ErrorCode.Internal, unfinished);
        });
      });
  };
  act("pause", "pause a rollout (the weight holds)");
  act("resume", "resume a paused rollout");
  act("promote", "send all traffic to the canary now");
  act("rollback", "restore the route exactly as it was before the rollout");
  act("approve", "approve the gate a rollout is waiting at");

  program
    .command("history")
    .description("the audit trail of a rollout, or a service's rollouts newest first")
    .argument("<ref>", "rollout id (reviews-3) or service name")
    .option("-n, --namespace <ns>", "namespace of the service")
    .option("--json", "machine-readable output")
    .action(async (ref: string, options: { namespace?: string; json?: boolean }) => {
      await readStore(async (store) => {
        const rollout = await store.get(ref);
        if (rollout) {
          const entries = await store.audit(rollout.id);
          print(entries.map(auditJson), options.json, () => auditTable(entries));
          return;
        }
        const rollouts = await store.history({
          service: ref,
          ...(options.namespace ? { namespace: options.namespace } : {}),
        });
        if (rollouts.length === 0)
          throw new CanaryError(ErrorCode.NotFound, `no rollout or service named ${ref}`);
        print(rollouts.map(statusJson), options.json, () => statusTable(rollouts));
      });
    });

  program
    .command("snapshot")
    .description("the latest metrics snapshot of a rollout, as a table (and a chart)")
    .argument("<id>", "rollout id or service")
    .option("--chart <file>", "also write the chart PNG here")
    .option("--json", "machine-readable output")
    .action(async (ref: string, options: { chart?: string; json?: boolean }) => {
      await readStore(async (store) => {
        const rollout = await requireRollout(store, ref);
        const latest = rollout.snapshots.at(-1);
        if (!latest) throw new CanaryError(ErrorCode.NotFound, `${rollout.id} has no metrics snapshot yet`);
        if (options.chart) {
          const [{ renderChartOf }, { writeFile }] = await Promise.all([
            import("./metrics/chart.ts"),
            import("node:fs/promises"),
          ]);
          await writeFile(options.chart, await renderChartOf(rollout));
        }
        print({ id: rollout.id, snapshot: latest, verdict: rollout.lastVerdict }, options.json, () =>
          snapshotTable(rollout),
        );
      });
    });

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
      import("./logger.ts"),
      import("./serve.ts"),
    ]);
    const global = program.opts<Global>();
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

  registerConfigCommands(program, io);

  try {
    await program.parseAsync(argv, { from: "user" });
  } catch (error) {
    exitCode = reportError(error, io);
  }
  return exitCode;
}

/** A rollout by id, else the live (or newest) rollout of a service. */
async function requireRollout(store: RolloutStore, ref: string, namespace?: string): Promise<Rollout> {
  const found = await findRollout(store, ref, namespace);
  if (!found) throw new CanaryError(ErrorCode.NotFound, `no rollout or service named ${ref}`);
  return found;
}

function reportError(error: unknown, io: CliIo): number {
  // One line, and never a credential, whatever an upstream put in the message.
  // A message of several lines (config check: one problem a line) keeps its lines; each is redacted on its own.
  const say = (text: string): void =>
    io.stderr(
      `${text
        .split("\n")
        .map((line) => redact(line, secretValues(io.env), 1_000))
        .join("\n")}\n`,
    );
  if (error instanceof CommanderError) {
    if (error.exitCode === 0) return ExitCode.Ok;
    // No command given: the help commander printed is the whole answer.
    if (error.code === "commander.help") return ExitCode.Refused;
    say(error.message.replace(/^error: /, ""));
    return ExitCode.Refused;
  }
  if (isCanaryError(error)) {
    say(error.message);
    return INTERNAL_CODES.includes(error.code) ? ExitCode.Internal : ExitCode.Refused;
  }
  say(`internal error: ${errorMessage(error)}`);
  return ExitCode.Internal;
}

const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"];

/** The quieter of a configured log level and `floor`. */
function quieter(level: string | undefined, floor: string): string {
  if (level === undefined) return floor;
  return LOG_LEVELS.indexOf(level) > LOG_LEVELS.indexOf(floor) ? level : floor;
}

/** The `canarybot` executable: real streams, real signals, the process's exit code. */
export async function main(): Promise<void> {
  // Signals are taken over only by the commands that wait for them; elsewhere Ctrl-C keeps its usual meaning.
  const stop = processStopSignal((message) => process.stderr.write(`${message}\n`));
  let env: Record<string, string | undefined>;
  try {
    env = (await import("./config/secrets.ts")).resolveSecretFiles(process.env);
  } catch (error) {
    process.stderr.write(`${errorMessage(error)}\n`);
    process.exitCode = ExitCode.Refused;
    return;
  }
  process.exitCode = await runCli(process.argv.slice(2), {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    env,
    stopSignal: () => stop.wait(),
  });
  // Stopped in order: an idle keep-alive socket or a library's timer must not keep the process alive.
  if (stop.received()) process.exit();
  // The command has answered. Whatever a library left behind (a connection still retrying, a timer) must not keep
  // the process alive: it would hang a script that waits for the exit code.
  // Exit once what was written to stdout has gone out (pipes are asynchronous on some platforms).
  setTimeout(() => process.stdout.write("", () => process.exit()), LINGER_MS).unref();
}

/** How long a finished command may take to close what it opened before the process exits anyway. */
const LINGER_MS = 1_000;
