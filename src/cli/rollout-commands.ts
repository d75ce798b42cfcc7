import {
  auditJson,
  auditTable,
  snapshotTable,
  statusJson,
  statusLine,
  statusTable,
  unfinishedRollback,
} from "../commands/render-text.ts";
import { describeFailedScheduledStart, describeScheduledStart } from "../commands/render-scheduled.ts";
import { humanEvent } from "../commands/human-event.ts";
import { CanaryError, ErrorCode } from "../errors.ts";
import type { HumanEvent } from "../rollout/types.ts";
import { formatUtcDateTime } from "../rollout/time-text.ts";
import { requireRollout } from "./context.ts";
import type { ActOptions, CliContext } from "./context.ts";
import { registerWaitCommand } from "./wait-command.ts";

/** The commands about rollouts once started: read them, follow them, act on them. */
export function registerRolloutCommands(cli: CliContext): void {
  const { program, io, runtime, readStore, actor, print } = cli;

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
    (code) => cli.setExitCode(code),
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
            import("../metrics/chart.ts"),
            import("node:fs/promises"),
          ]);
          await writeFile(options.chart, await renderChartOf(rollout));
        }
        print({ id: rollout.id, snapshot: latest, verdict: rollout.lastVerdict }, options.json, () =>
          snapshotTable(rollout),
        );
      });
    });
}
