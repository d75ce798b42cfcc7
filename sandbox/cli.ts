import { once } from "node:events";
import { Command, CommanderError, Option } from "commander";
import { errorText, isSandboxError } from "./errors.ts";
import type { MeshSandboxFlags } from "./mesh/cli.ts";
import type { WebhookSandboxFlags } from "./webhooks/run.ts";

// Each command imports what it runs when it runs: `--help` starts without the emulators, client-node or the product.

export type SandboxCliIo = {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: Readonly<Record<string, string | undefined>>;
  /** Resolves when the process is asked to stop (SIGINT/SIGTERM). */
  stopSignal: () => Promise<void>;
};

type KubeFlags = {
  port: string;
  kubeconfigOut: string;
  scenario: "bookinfo" | "bookinfo-gateway-api" | "empty";
  mesh?: boolean;
  meshPort?: string;
  metrics?: string;
  service?: string[];
  rps?: string;
  subset?: string[];
  header?: string[];
  detach?: boolean;
};

const METRICS_OPTION = (description: string) =>
  new Option("--metrics <mesh>", description).choices(["istio", "linkerd"]);

/** `canarybot-sandbox <argv>`: the exit code (0 done, 1 bad flags or input, 2 a system the sandbox needed). */
export async function runSandboxCli(argv: readonly string[], io: SandboxCliIo): Promise<number> {
  let exitCode = 0;
  const program = new Command("canarybot-sandbox")
    .description(
      "local stand-ins for Kubernetes, the mesh, Slack and webhook receivers, for trying canarybot",
    )
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr, outputError: () => undefined });

  program
    .command("kube")
    .description("run the Kubernetes API emulator (and, with --mesh, the traffic simulator beside it)")
    .option("--port <port>", "port (0 picks a free one)", "0")
    .requiredOption("--kubeconfig-out <file>", "where to write a kubeconfig for it")
    .addOption(
      new Option("--scenario <name>", "seeded objects")
        .choices(["bookinfo", "bookinfo-gateway-api", "empty"])
        .default("bookinfo"),
    )
    .option("--mesh", "also run the traffic simulator on the sandbox's VirtualServices and HTTPRoutes")
    .option("--mesh-port <port>", "port of the simulator's /metrics and /control (default 15090)")
    .option("--service <name...>", "with --mesh: services to send traffic to", ["reviews"])
    .option("--rps <n>", "with --mesh: requests per second per service")
    .option("--subset <spec...>", "with --mesh: subset behaviour, e.g. v2:errorRate=0.05,p50=20,p99=900")
    .option("--header <spec...>", "with --mesh: header-carrying traffic, e.g. qa=canary-test:5%")
    .addOption(METRICS_OPTION("with --mesh: whose metrics to serve"))
    .option("--detach", "run in the background; return once the kubeconfig is written")
    .action(async (options: KubeFlags) => {
      if (options.detach) {
        const { runDetached } = await import("./kube/detach.ts");
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
        const { runKubeSandbox } = await import("./kube/run.ts");
        await runKubeSandbox(kube);
        return;
      }
      const { service, rps, subset, header, meshPort, metrics } = options;
      const mesh: MeshSandboxFlags = {
        ...(metrics ? { metrics } : {}),
        ...(service ? { service } : {}),
        ...(rps ? { rps } : {}),
        ...(subset ? { subset } : {}),
        ...(header ? { header } : {}),
        ...(meshPort ? { port: meshPort } : {}),
      };
      const { runKubeWithMesh } = await import("./run-kube-with-mesh.ts");
      await runKubeWithMesh({ ...kube, mesh, env: io.env });
    });

  program
    .command("mesh")
    .description(
      "run the traffic simulator: Istio (or Linkerd) metrics that follow the live VirtualService or HTTPRoute",
    )
    .option("--kubeconfig <file>", "the cluster whose routes to follow (default $KUBECONFIG, ~/.kube/config)")
    .option("--context <name>", "kubeconfig context (default its current-context)")
    .option("--namespace <ns>", "namespace of the services", "default")
    .option("--service <name...>", "services to send traffic to", ["reviews"])
    .option("--rps <n>", "requests per second per service")
    .option("--port <port>", "port of /metrics and /control (default 15090)")
    .option("--host <host>", "listen address")
    .option("--seed <n>", "seed of the simulated traffic")
    .option("--poll-ms <ms>", "how often the routes are re-read")
    .option("--subset <spec...>", "subset behaviour, e.g. v2:errorRate=0.05,p50=20,p99=900")
    .option("--header <spec...>", "header-carrying traffic, e.g. qa=canary-test:5%")
    .addOption(METRICS_OPTION("whose metrics to serve"))
    .action(async (options: MeshSandboxFlags) => {
      const stop = new AbortController();
      void io.stopSignal().then(() => stop.abort());
      const { runMeshSandbox } = await import("./mesh/cli.ts");
      await runMeshSandbox(options, {
        log: (line) => io.stdout(`${line}\n`),
        signal: stop.signal,
        env: io.env,
      });
    });

  program
    .command("webhooks")
    .description("run the webhook sandbox: scripted hooks, flagger-loadtester's command endpoint and gates")
    .option("--port <port>", "port (0 picks a free one)", "0")
    .option("--host <host>", "listen address (default 127.0.0.1)")
    .option("--mesh-control <url>", "the mesh sandbox's /control URL: hey load tests drive its traffic")
    .option(
      "--answer <spec>",
      "a scripted answer, repeatable, in order: /hooks/load=500:load test failed",
      (spec: string, previous: string[] | undefined) => [...(previous ?? []), spec],
    )
    .action(async (flags: WebhookSandboxFlags) => {
      const { runWebhookSandbox } = await import("./webhooks/run.ts");
      await runWebhookSandbox({ flags, print: io.stdout, stopSignal: io.stopSignal() });
    });

  program
    .command("slack-demo")
    .description(
      "a /canary rollout end to end against the Slack and Kubernetes sandboxes, printed as it goes",
    )
    .action(async () => {
      const { runSlackDemo } = await import("./slack-demo.ts");
      await runSlackDemo({ print: (line) => io.stdout(`${line}\n`), env: io.env });
    });

  try {
    await program.parseAsync(argv, { from: "user" });
  } catch (error) {
    exitCode = reportError(error, io);
  }
  return exitCode;
}

function reportError(error: unknown, io: SandboxCliIo): number {
  if (error instanceof CommanderError) {
    if (error.exitCode === 0) return 0;
    if (error.code === "commander.help") return 1;
    io.stderr(`${error.message.replace(/^error: /, "")}\n`);
    return 1;
  }
  if (isSandboxError(error)) {
    io.stderr(`${error.message}\n`);
    return error.exitCode;
  }
  io.stderr(`internal error: ${errorText(error)}\n`);
  return 2;
}

/** The `canarybot-sandbox` executable: real streams, SIGINT/SIGTERM, the process's exit code. */
export async function main(): Promise<void> {
  // Signals are taken over only by the commands that wait for them; elsewhere Ctrl-C keeps its usual meaning.
  let signalled = false;
  let stop: Promise<void> | undefined;
  process.exitCode = await runSandboxCli(process.argv.slice(2), {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    env: process.env,
    stopSignal: () =>
      (stop ??= Promise.race([once(process, "SIGINT"), once(process, "SIGTERM")]).then(() => {
        signalled = true;
      })),
  });
  // Stopped: what the emulators had open is closed; an idle socket of a client must not keep the process alive.
  if (signalled) process.exit();
}
