import type { Command } from "commander";
import { CanaryError, ErrorCode } from "../errors.ts";
import { formatDuration } from "../rollout/plan.ts";
import type { RolloutStore } from "../rollout/ports.ts";
import type { Rollout } from "../rollout/types.ts";
import { WaitExit, finishedExit, followUpdate, isWaitingForPerson } from "../commands/follow-rollout.ts";
import { parseDuration } from "../rollout/values.ts";

/** How often the store is read: a pipeline log a second late is fine, and a read is one small HGET. */
export const WAIT_POLL_MS = 500;

/** `start --wait` and `wait`'s flags as commander hands them over. */
export type WaitFlags = { wait?: boolean; waitTimeout?: string };

type Io = { stdout: (text: string) => void };

/** Opens the rollout store (Redis alone) for the call and closes it after. */
export type WithStore = <T>(fn: (store: RolloutStore) => Promise<T>) => Promise<T>;

export type FollowOptions = {
  /** After this long, stop as soon as the rollout waits for a person. Undefined: wait for people as long as it takes. */
  timeoutMs?: number;
  pollMs?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
};

/**
 * Follow a rollout by reading the store until it ends: a line for every phase change (and every change of the weight
 * the route carries), then 0 promoted, 3 rolled back or failed, 4 when `timeoutMs` has passed and the rollout waits
 * for a person (it goes on; nothing is changed). Polling, not a subscription: each read is a plain command that fails
 * within the one-shot client's timeouts, so an unreachable Redis ends the wait with one line instead of a silent
 * subscriber, and a restarted Redis or a missed message cannot make it miss the end.
 */
export async function followRollout(
  store: Pick<RolloutStore, "get">,
  id: string,
  io: Io,
  options: FollowOptions = {},
): Promise<WaitExit> {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((done) => setTimeout(done, ms)));
  const started = now();
  let shown: Rollout | undefined;
  for (;;) {
    const rollout = await store.get(id);
    if (!rollout) throw new CanaryError(ErrorCode.NotFound, `no rollout ${id} (canarybot status lists them)`);
    const line = followUpdate(shown, rollout);
    if (line !== undefined) io.stdout(`${line}\n`);
    shown = rollout;
    const exit = finishedExit(rollout);
    if (exit !== undefined) return exit;
    const timeoutMs = options.timeoutMs;
    if (timeoutMs !== undefined && now() - started >= timeoutMs && isWaitingForPerson(rollout)) {
      io.stdout(
        `${id} still ${rollout.phase} after --wait-timeout ${timeoutMs === 0 ? "0s" : formatDuration(timeoutMs)}: stopped waiting, ` +
          `the rollout goes on (canarybot wait ${id} follows it again)\n`,
      );
      return WaitExit.StillWaitingForPerson;
    }
    await sleep(options.pollMs ?? WAIT_POLL_MS);
  }
}

/** `--wait-timeout` in milliseconds; a wrong one (or one without `--wait`) is the user's mistake, said in one line. */
export function waitTimeoutMs(flags: WaitFlags, requireWait: boolean): number | undefined {
  if (flags.waitTimeout === undefined) return undefined;
  if (requireWait && !flags.wait) {
    throw new CanaryError(ErrorCode.InvalidInput, "--wait-timeout: only with --wait");
  }
  const parsed = parseDuration(flags.waitTimeout, "--wait-timeout");
  if (!parsed.ok) throw new CanaryError(ErrorCode.InvalidInput, parsed.error);
  return parsed.value;
}

export const WAIT_FLAG_HELP = {
  wait: "then follow the rollout: a line per phase change; exit 0 promoted, 3 rolled back or failed",
  waitTimeout:
    "with --wait: after this long (e.g. 30m), exit 4 as soon as the rollout waits for a person; it goes on",
} as const;

/** `canarybot wait <id>`: follow a running rollout from Redis alone, as `start --wait` does. */
export function registerWaitCommand(
  program: Command,
  withStore: WithStore,
  setExitCode: (code: number) => void,
  io: Io,
): void {
  program
    .command("wait")
    .description(
      "follow a rollout until it ends: exit 0 promoted, 3 rolled back or failed, 4 see --wait-timeout",
    )
    .argument("<id>", "rollout id, e.g. reviews-3")
    .option("--wait-timeout <duration>", WAIT_FLAG_HELP.waitTimeout.replace(/^with --wait: /, ""))
    .action(async (id: string, flags: WaitFlags) => {
      const timeoutMs = waitTimeoutMs(flags, false);
      const exit = await withStore((store) =>
        followRollout(store, id, io, timeoutMs === undefined ? {} : { timeoutMs }),
      );
      setExitCode(exit);
    });
}
