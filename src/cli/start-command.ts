import { BUILTIN_DEFAULTS } from "../rollout/start-request.ts";
import type { StartOptions } from "../rollout/start-request.ts";
import { describeRolloutStart, dryRunText } from "../commands/render-text.ts";
import { describeScheduledStart } from "../commands/render-scheduled.ts";
import { CanaryError, ErrorCode } from "../errors.ts";
import type { ActOptions, CliContext } from "./context.ts";
import { WAIT_FLAG_HELP, followRollout, waitTimeoutMs } from "./wait-command.ts";
import type { WaitFlags } from "./wait-command.ts";

/** `canarybot start`: a rollout now, later (`--at`), or only its plan (`--dry-run`); `--wait` follows it. */
export function registerStartCommand(cli: CliContext): void {
  const { program, io, env, runtime, readStore, actor } = cli;
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
          import("../config/file.ts"),
          import("../config/services.ts"),
          import("../runtime.ts"),
        ]);
        const configPath = configPathFrom(cli.global().config, io.env);
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
            const { parseStartTime } = await import("../schedule/local-time.ts");
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
          cli.setExitCode(await readStore((store) => followRollout(store, started, io, follow)));
        }
      },
    );
}
