import { subscribe, unsubscribe } from "node:diagnostics_channel";
import type { Redis } from "ioredis";
import type { KubeSandbox } from "../../sandbox/kube/server.ts";

/** One command a client of this process sent to Redis (a pipeline's commands count one each). */
export type SentCommand = { command: string; args: readonly string[] };

/** ioredis reports every command it writes on this tracing channel (ioredis ≥ 5.10). */
const IOREDIS_COMMAND_START = "tracing:ioredis:command:start";

/** What `monitorRedisCommands` sends to know it has seen everything before; never counted. */
const MONITOR_MARKER = "round-trips-monitor-marker";

/**
 * Records the Redis commands every ioredis client of this process sends (BullMQ's included), but the markers of
 * `monitorRedisCommands`. ioredis redacts the arguments of most commands, so nothing else may talk to Redis from
 * this process while an operation is counted. Deterministic, unlike timings: what a round-trip test pins.
 */
export function recordRedisCommands(): { take(): SentCommand[]; stop(): void } {
  let sent: SentCommand[] = [];
  const listener = (message: unknown): void => {
    const { command, args } = message as { command: string; args: unknown[] };
    const strings = args.map(String);
    if (!strings.some((arg) => arg.includes(MONITOR_MARKER))) {
      sent.push({ command: command.toUpperCase(), args: strings });
    }
  };
  subscribe(IOREDIS_COMMAND_START, listener);
  return {
    take() {
      const taken = sent;
      sent = [];
      return taken;
    },
    stop: () => unsubscribe(IOREDIS_COMMAND_START, listener),
  };
}

/**
 * The commands Redis itself executes for keys under `prefix`, the ones inside Lua scripts included, from `MONITOR`
 * on a connection of its own (`monitorClient`, e.g. `redis.duplicate()`; it is closed by `stop`).
 */
export async function monitorRedisCommands(
  monitorClient: Redis,
  prefix: string,
): Promise<{ take(): Promise<string[]>; stop(): Promise<void> }> {
  const monitor = await monitorClient.monitor();
  // MONITOR lines arrive after the commands ran: a command naming `marker`, seen come back, marks "everything so far".
  const marker = `${prefix}${MONITOR_MARKER}`;
  let seen: string[] = [];
  let markerSeen: (() => void) | undefined;
  monitor.on("monitor", (_time: string, args: string[]) => {
    if (args.includes(marker)) markerSeen?.();
    else if (args.some((arg) => arg.includes(prefix))) seen.push(String(args[0]).toUpperCase());
  });
  const probe = monitorClient.duplicate();
  await probe.exists(marker); // connected before anything is counted
  return {
    async take() {
      const arrived = new Promise<void>((resolve) => (markerSeen = resolve));
      await probe.exists(marker);
      await arrived;
      const taken = seen;
      seen = [];
      return taken;
    },
    async stop() {
      probe.disconnect();
      monitor.disconnect();
      await Promise.resolve();
    },
  };
}

/** `GET 2, PATCH 1`-style counts of the Kubernetes requests the sandbox logged since the last call; clears the log. */
export function takeKubeRequests(kube: KubeSandbox): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const record of kube.requests.all()) counts[record.method] = (counts[record.method] ?? 0) + 1;
  kube.requests.clear();
  return counts;
}

/** `{HGET: 3, EVALSHA: 2}`-style counts of command names. */
export function countByName(commands: readonly (string | SentCommand)[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const entry of commands) {
    const name = typeof entry === "string" ? entry : entry.command;
    counts[name] = (counts[name] ?? 0) + 1;
  }
  return counts;
}
