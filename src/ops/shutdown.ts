/** SIGTERM to exit: Kubernetes waits `terminationGracePeriodSeconds` (we promise 10 s) before SIGKILL. */
export const SHUTDOWN_DEADLINE_MS = 9_000;

export type StopSignal = {
  /** Resolves on the first SIGINT or SIGTERM (listening starts on the first call). */
  wait(): Promise<void>;
  /** Whether a signal has arrived. */
  received(): boolean;
};

/**
 * The process's stop signal for long-running commands. Once it arrives, the command has until the deadline to
 * close in order; past it the process exits anyway with 2, because a tick still running then is stuck on an
 * outside system, and its job is retried by another worker once its lock lapses (never half-applied: every
 * tick first brings the route to the saved state).
 */
export function processStopSignal(onOverdue: (message: string) => void): StopSignal {
  let signalled = false;
  let stop: Promise<void> | undefined;
  return {
    wait: () =>
      (stop ??= new Promise<void>((resolve) => {
        const onSignal = (): void => {
          signalled = true;
          setTimeout(() => {
            onOverdue(`shutdown did not finish within ${SHUTDOWN_DEADLINE_MS / 1000} s; exiting`);
            process.exit(2);
          }, SHUTDOWN_DEADLINE_MS).unref();
          resolve();
        };
        process.once("SIGINT", onSignal);
        process.once("SIGTERM", onSignal);
      })),
    received: () => signalled,
  };
}
