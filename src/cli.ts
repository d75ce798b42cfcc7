import { writeFile } from "node:fs/promises";
import { userInfo } from "node:os";
import { Command, CommanderError, Option } from "commander";
import { BUILTIN_DEFAULTS, buildStartSpec } from "./commands/start-request.ts";
import type { StartOptions } from "./commands/start-request.ts";
import {
  auditJson,
  auditLine,
  describeRolloutStart,
  snapshotTable,
  statusJson,
  statusLine,
} from "./commands/render-text.ts";
import { humanEvent } from "./commands/human-event.ts";
import { loadEnvConfig } from "./config/env.ts";
import { CanaryError, ErrorCode, isCanaryError } from "./errors.ts";
import { createLogger } from "./logger.ts";
import type { Runtime } from "./main.ts";
import type { HumanEvent } from "./rollout/service.ts";
import { configPathFrom, loadConfigFile } from "./config/file.ts";
import { serviceDirectory, startDefaultsFor, startOptionsFor } from "./config/services.ts";
import type { MeshSandboxFlags } from "./sandbox/mesh/cli.ts";
import type { Rollout } from "./rollout/types.ts";

// Each command imports the adapters it runs when it runs (Bolt, the Kubernetes client, BullMQ, the chart renderer
// take most of a second to load together; `sandbox kube` needs none of them).

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

type KubeSandboxFlags = {
  port: string;
  kubeconfigOut: string;
  scenario: "bookinfo" | "empty";
  mesh?: boolean;
  meshPort?: string;
  service?: string[];
  rps?: string;
  subset?: string[];
  header?: string[];
  detach?: boolean;
};

type Global = { kubeconfig?: string; context?: string; config?: string };
type ActOptions = { as?: string; reason?: string };

/** Run the command line; returns the exit code instead of exiting, so tests can drive it in-process. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  let exitCode: number = ExitCode.Ok;
  const program = new Command("canarybot")
    .description("Progressive (canary) releases of Istio VirtualServices, stepped from Redis-backed jobs")
    .option("--kubeconfig <file>", "kubeconfig file (default: KUBECONFIG, in-cluster, ~/.kube/config)")
    .option("--context <name>", "kubeconfig context")
    .option("--config <file>", "services, their targets, defaults and approvers (default: CANARYBOT_CONFIG)")
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr, outputError: () => undefined })
    .showSuggestionAfterError(true);

  const runtime = async <T>(fn: (runtime: Runtime) => Promise<T>): Promise<T> => {
    const { openRuntime } = await import("./main.ts");
    const env = loadEnvConfig(io.env);
    const global = program.opts<Global>();
    const opened = openRuntime({
      env,
      processEnv: io.env,
      logger: createLogger(io.env.LOG_LEVEL ?? "warn"),
      ...(global.kubeconfig ? { kubeconfigPath: global.kubeconfig } : {}),
      ...(global.context ? { context: global.context } : {}),
    });
    try {
      return await fn(opened);
    } finally {
      await opened.close();
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
    .requiredOption("--canary <subset>", "DestinationRule subset of the new version")
    .option("--stable <subset>", "subset that takes the traffic now (default: read off the route)")
    .option("-n, --namespace <ns>", `namespace (default ${BUILTIN_DEFAULTS.namespace})`)
    .option("--virtual-service <name>", "VirtualService name (default: the service)")
    .option("--route <name>", "name of the HTTP route to manage (default: the one to the stable subset)")
    .option("--host <host>", "destination host (default: the service)")
    .option("--steps <list>", `canary weights in percent (default ${BUILTIN_DEFAULTS.steps.join(",")})`)
    .option("--interval <duration>", `time between steps (default ${BUILTIN_DEFAULTS.intervalMs / 1000}s)`)
    .option("--approve-at <list>", "weights that wait for an approval")
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
    .option("--as <user>", "who is acting, for the audit (default: the OS user)")
    .action(
      async (service: string, options: Omit<StartOptions, "service"> & ActOptions & { dryRun?: boolean }) => {
        const configPath = configPathFrom(program.opts<Global>().config, io.env);
        const configured = serviceDirectory(configPath ? await loadConfigFile(configPath) : undefined).find(
          service,
        );
        const typed = startOptionsFor({ ...options, service }, configured);
        if (!typed.ok) throw new CanaryError(ErrorCode.InvalidInput, typed.error);
        const { startDefaults } = await import("./main.ts");
        const spec = buildStartSpec(
          typed.value,
          startDefaultsFor(startDefaults(loadEnvConfig(io.env)), configured),
        );
        if (!spec.ok) throw new CanaryError(ErrorCode.InvalidInput, spec.error);
        await runtime(async ({ service: rollouts }) => {
          const request = { ...spec.value, by: actor(options) };
          if (options.dryRun) {
            const dry = await rollouts.dryRun(request);
            io.stdout(
              `dry run: nothing changed\nplan: steps ${dry.plan.steps.join(" → ")}% every ${dry.plan.intervalMs / 1000}s` +
                `${dry.plan.approvalGates.length > 0 ? `, approval at ${dry.plan.approvalGates.join(", ")}%` : ""}` +
                `${dry.plan.headerMatch ? `, header stage ${dry.plan.headerMatch.name}=${dry.plan.headerMatch.value}` : ""}\n` +
                `target: ${dry.target.namespace}/${dry.target.virtualService} ${dry.target.stableSubset} → ${dry.target.canarySubset}\n` +
                `first change:\n${dry.change}\n`,
            );
            return;
          }
          const rollout = await rollouts.start(request);
          io.stdout(`${describeRolloutStart(rollout)}\n`);
        });
      },
    );

  program
    .command("status")
    .description("show live rollouts, or one by id or service")
    .argument("[ref]", "rollout id (reviews-3) or service name")
    .option("-n, --namespace <ns>", "namespace of the service")
    .option("--json", "machine-readable output")
    .action(async (ref: string | undefined, options: { namespace?: string; json?: boolean }) => {
      await runtime(async ({ store }) => {
        const found =
          ref === undefined ? await store.listActive() : [await findRollout(store, ref, options.namespace)];
        const shown = found.map(statusJson);
        print(ref === undefined ? shown : shown[0], options.json, () =>
          found.length === 0 ? "no live rollouts" : found.map(statusLine).join("\n"),
        );
      });
    });

  program
    .command("list")
    .description("list live rollouts")
    .option("--json", "machine-readable output")
    .action(async (options: { json?: boolean }) => {
      await runtime(async ({ store }) => {
        const live = await store.listActive();
        print(live.map(statusJson), options.json, () =>
          live.length === 0 ? "no live rollouts" : live.map(statusLine).join("\n"),
        );
      });
    });

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
    .description("the audit trail of a rollout")
    .argument("<id>", "rollout id")
    .option("--json", "machine-readable output")
    .action(async (id: string, options: { json?: boolean }) => {
      await runtime(async ({ store }) => {
        await findRollout(store, id);
        const entries = await store.audit(id);
        print(entries.map(auditJson), options.json, () => entries.map(auditLine).join("\n"));
      });
    });

  program
    .command("snapshot")
    .description("the latest metrics snapshot of a rollout, as a table (and a chart)")
    .argument("<id>", "rollout id or service")
    .option("--chart <file>", "also write the chart PNG here")
    .option("--json", "machine-readable output")
    .action(async (ref: string, options: { chart?: string; json?: boolean }) => {
      await runtime(async ({ store }) => {
        const rollout = await findRollout(store, ref);
        const latest = rollout.snapshots.at(-1);
        if (!latest) throw new CanaryError(ErrorCode.NotFound, `${rollout.id} has no metrics snapshot yet`);
        if (options.chart) {
          const { renderRolloutChart } = await import("./metrics/chart.ts");
          const png = await renderRolloutChart({
            snapshots: rollout.snapshots,
            ...(rollout.plan.analysis ? { policy: rollout.plan.analysis } : {}),
            title: `${rollout.id} ${rollout.target.stableSubset} → ${rollout.target.canarySubset}`,
          });
          await writeFile(options.chart, png);
        }
        print({ id: rollout.id, snapshot: latest, verdict: rollout.lastVerdict }, options.json, () =>
          snapshotTable(rollout),
        );
      });
    });

  program
    .command("worker")
    .description("run the tick worker until SIGINT/SIGTERM")
    .action(async () => {
      await runtime(async (opened) => {
        const { startWorker } = await import("./main.ts");
        const env = loadEnvConfig(io.env);
        const logger = createLogger(env.LOG_LEVEL);
        const worker = startWorker(opened, env, logger);
        await worker.waitUntilReady();
        logger.info({ queue: worker.queueName }, "worker ready");
        await io.stopSignal();
        await worker.close();
      });
    });

  program
    .command("serve")
    .description("run the Slack app and the tick worker until SIGINT/SIGTERM")
    .option("--no-worker", "the Slack app only")
    .option("--no-slack", "the tick worker only")
    .action(async (options: { worker: boolean; slack: boolean }) => {
      const { runServe } = await import("./serve.ts");
      const env = loadEnvConfig(io.env);
      const global = program.opts<Global>();
      await runServe({
        env,
        processEnv: io.env,
        logger: createLogger(env.LOG_LEVEL),
        ...(global.kubeconfig ? { kubeconfigPath: global.kubeconfig } : {}),
        ...(global.context ? { context: global.context } : {}),
        ...(global.config ? { configPath: global.config } : {}),
        mode: { slack: options.slack, worker: options.worker },
        stopSignal: io.stopSignal(),
      });
    });

  const sandbox = program
    .command("sandbox")
    .description("local stand-ins for Kubernetes, the mesh and Slack");
  sandbox
    .command("slack-demo")
    .description(
      "a /canary rollout end to end against the Slack and Kubernetes sandboxes, printed as it goes",
    )
    .action(async () => {
      const { runSlackDemo } = await import("./slack/demo.ts");
      await runSlackDemo({ print: (line) => io.stdout(`${line}\n`), env: io.env });
    });
  sandbox
    .command("kube")
    .description("run the Kubernetes API emulator (and, with --mesh, the traffic simulator beside it)")
    .option("--port <port>", "port (0 picks a free one)", "0")
    .requiredOption("--kubeconfig-out <file>", "where to write a kubeconfig for it")
    .addOption(
      new Option("--scenario <name>", "seeded objects").choices(["bookinfo", "empty"]).default("bookinfo"),
    )
    .option("--mesh", "also run the traffic simulator on the sandbox's VirtualServices")
    .option("--mesh-port <port>", "port of the simulator's /metrics and /control (default 15090)")
    .option("--service <name...>", "with --mesh: services to send traffic to", ["reviews"])
    .option("--rps <n>", "with --mesh: requests per second per service")
    .option("--subset <spec...>", "with --mesh: subset behaviour, e.g. v2:errorRate=0.05,p50=20,p99=900")
    .option("--header <spec...>", "with --mesh: header-carrying traffic, e.g. qa=canary-test:5%")
    .option("--detach", "run in the background; return once the kubeconfig is written")
    .action(async (options: KubeSandboxFlags) => {
      if (options.detach) {
        const { runDetached } = await import("./sandbox/kube/detach.ts");
        exitCode = await runDetached(argv, options.kubeconfigOut, io.stdout);
        return;
      }
      const kube = {
        port: Number(options.port),
        kubeconfigOut: options.kubeconfigOut,
        scenario: options.scenario,
        print: io.stdout,
        stopSignal: io.stopSignal(),
      };
      if (!options.mesh) {
        const { runKubeSandbox } = await import("./sandbox/kube/run.ts");
        await runKubeSandbox(kube);
        return;
      }
      const { service, rps, subset, header, meshPort } = options;
      const mesh: MeshSandboxFlags = {
        ...(service ? { service } : {}),
        ...(rps ? { rps } : {}),
        ...(subset ? { subset } : {}),
        ...(header ? { header } : {}),
        ...(meshPort ? { port: meshPort } : {}),
      };
      const { runKubeWithMesh } = await import("./sandbox/run-kube-with-mesh.ts");
      await runKubeWithMesh({ ...kube, mesh, env: io.env });
    });

  sandbox
    .command("mesh")
    .description("run the traffic simulator: Istio metrics that follow the live VirtualService")
    .option("--namespace <ns>", "namespace of the services", "default")
    .option("--service <name...>", "services to send traffic to", ["reviews"])
    .option("--rps <n>", "requests per second per service")
    .option("--port <port>", "port of /metrics and /control (default 15090)")
    .option("--host <host>", "listen address")
    .option("--seed <n>", "seed of the simulated traffic")
    .option("--poll-ms <ms>", "how often the VirtualService is re-read")
    .option("--subset <spec...>", "subset behaviour, e.g. v2:errorRate=0.05,p50=20,p99=900")
    .option("--header <spec...>", "header-carrying traffic, e.g. qa=canary-test:5%")
    .action(async (options: MeshSandboxFlags) => {
      const global = program.opts<Global>();
      const stop = new AbortController();
      void io.stopSignal().then(() => stop.abort());
      const { runMeshSandbox } = await import("./sandbox/mesh/cli.ts");
      await runMeshSandbox(
        {
          ...options,
          ...(global.kubeconfig ? { kubeconfig: global.kubeconfig } : {}),
          ...(global.context ? { context: global.context } : {}),
        },
        { log: (line) => io.stdout(`${line}\n`), signal: stop.signal, env: io.env },
      );
    });

  try {
    await program.parseAsync(argv, { from: "user" });
  } catch (error) {
    exitCode = reportError(error, io);
  }
  return exitCode;
}

/** A rollout by id, else the newest rollout of a service (a live one first). */
async function findRollout(store: Runtime["store"], ref: string, namespace?: string): Promise<Rollout> {
  const byId = await store.get(ref);
  if (byId) return byId;
  const recent = await store.history({ service: ref, ...(namespace ? { namespace } : {}), limit: 20 });
  const pick = recent.find((rollout) => !rollout.outcome || rollout.phase === "rolling-back") ?? recent[0];
  if (!pick) throw new CanaryError(ErrorCode.NotFound, `no rollout or service named ${ref}`);
  return pick;
}

function reportError(error: unknown, io: CliIo): number {
  if (error instanceof CommanderError) {
    if (error.exitCode === 0) return ExitCode.Ok;
    // No command given: the help commander printed is the whole answer.
    if (error.code === "commander.help") return ExitCode.Refused;
    io.stderr(`${error.message.replace(/^error: /, "")}\n`);
    return ExitCode.Refused;
  }
  if (isCanaryError(error)) {
    io.stderr(`${error.message}\n`);
    return INTERNAL_CODES.includes(error.code) ? ExitCode.Internal : ExitCode.Refused;
  }
  io.stderr(`internal error: ${error instanceof Error ? error.message : String(error)}\n`);
  return ExitCode.Internal;
}

/** The `canarybot` executable: real streams, real signals, the process's exit code. */
export async function main(): Promise<void> {
  // Signals are taken over only by the commands that wait for them; elsewhere Ctrl-C keeps its usual meaning.
  let stop: Promise<void> | undefined;
  const stopSignal = (): Promise<void> =>
    (stop ??= new Promise<void>((resolve) => {
      process.once("SIGINT", () => resolve());
      process.once("SIGTERM", () => resolve());
    }));
  process.exitCode = await runCli(process.argv.slice(2), {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    env: process.env,
    stopSignal,
  });
}
