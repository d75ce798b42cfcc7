import type { ChildProcess } from "node:child_process";
import { Queue } from "bullmq";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "../../src/cli/program.ts";
import type { RolloutStatusJson } from "../../src/commands/render-text.ts";
import { loadEnvConfig } from "../../src/config/env.ts";
import { createLogger } from "../../src/logger.ts";
import { openRuntime, startWorker } from "../../src/runtime.ts";
import type { Runtime, RuntimeOptions } from "../../src/runtime.ts";
import { startKubeSandbox } from "../../sandbox/kube/server.ts";
import type { KubeSandbox, KubeSandboxOptions } from "../../sandbox/kube/server.ts";
import { bullConnection, DEFAULT_TICK_QUEUE } from "../../src/jobs/tick-job.ts";
import { startCanarybot } from "./processes.ts";
import { REDIS_URL, connectRedis, deleteKeysWithPrefix, uniqueName } from "./redis.ts";

export type CliResult = { code: number; stdout: string; stderr: string };

export type WorkerProcess = {
  child: ChildProcess;
  /** What the worker logged (JSON lines on stderr). */
  log(): string;
  stop(): Promise<void>;
  kill9(): Promise<void>;
};

/**
 * The rollout engine as it runs for real: the Kubernetes sandbox over HTTPS, a real Redis under a prefix of
 * this test's own, the CLI, and workers in this process or in child processes (`canarybot worker`).
 */
export type RuntimeChoices = {
  env?: Record<string, string>;
  decorate?: RuntimeOptions["decorate"];
};

export type EngineHarness = {
  kube: KubeSandbox;
  env: Record<string, string>;
  kubeconfigPath: string;
  cli(...args: string[]): Promise<CliResult>;
  /** `canarybot start …` that must succeed quietly; returns the new rollout's id. */
  start(...args: string[]): Promise<string>;
  /** `canarybot status <id> --json`, which must succeed. */
  status(id: string): Promise<RolloutStatusJson>;
  /** Resolves once `status` shows the rollout in `phase`. */
  untilPhase(id: string, phase: string, timeoutMs?: number): Promise<void>;
  /**
   * A worker in this process on `runtime` (a new one by default), with `env` over the harness's; closed by
   * cleanup before any runtime. Resolves once it is ready, with its close (which cleanup then skips).
   */
  worker(runtime?: Runtime, env?: Record<string, string>): Promise<() => Promise<void>>;
  /** A `canarybot worker` child process, killed by cleanup if still running. */
  spawnWorker(): Promise<WorkerProcess>;
  /** A runtime for direct service and store access, with `env` over the harness's (closed by cleanup). */
  runtime(options?: RuntimeChoices): Runtime;
  /** Something else the test opened: cleanup closes it first, the last one given first. */
  onCleanup(close: () => Promise<void>): void;
  /**
   * Resolves once no tick job of the rollout is waiting, delayed or running: every tick that was due has been
   * taken by a worker. "Nothing moved" is then a fact about the ticks, not about how long a test slept.
   */
  ticksSettled(rolloutId: string): Promise<void>;
  cleanup(): Promise<void>;
};

export async function engineHarness(
  label: string,
  kubeOptions: KubeSandboxOptions = {},
): Promise<EngineHarness> {
  // Fail early, with how to start Redis, rather than with a timeout deep inside a test.
  const probe = await connectRedis();
  const kube = await startKubeSandbox({ scenario: "bookinfo", ...kubeOptions });
  const dir = await mkdtemp(join(tmpdir(), "canarybot-engine-"));
  const kubeconfigPath = join(dir, "kubeconfig");
  await kube.writeKubeconfig(kubeconfigPath);
  const prefix = uniqueName(label);
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "",
    HOME: process.env.HOME ?? dir,
    REDIS_URL,
    CANARYBOT_PREFIX: prefix,
    KUBECONFIG: kubeconfigPath,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
    CANARYBOT_MIN_INTERVAL_MS: "100",
  };
  const closers: (() => Promise<void>)[] = [];
  const children: ChildProcess[] = [];

  const runtime = (choices: RuntimeChoices = {}): Runtime => {
    const processEnv = { ...env, ...choices.env };
    const opened = openRuntime({
      env: loadEnvConfig(processEnv),
      processEnv,
      logger: createLogger(env.LOG_LEVEL ?? "silent"),
      ...(choices.decorate ? { decorate: choices.decorate } : {}),
    });
    closers.push(() => opened.close());
    return opened;
  };

  const cli = async (...args: string[]): Promise<CliResult> => {
    let stdout = "";
    let stderr = "";
    const code = await runCli(args, {
      stdout: (text) => (stdout += text),
      stderr: (text) => (stderr += text),
      env,
      stopSignal: () => new Promise(() => undefined),
    });
    return { code, stdout, stderr };
  };

  const status = async (id: string): Promise<RolloutStatusJson> => {
    const shown = await cli("status", id, "--json");
    if (shown.code !== 0) throw new Error(`canarybot status ${id} exited ${shown.code}: ${shown.stderr}`);
    return JSON.parse(shown.stdout) as RolloutStatusJson;
  };

  return {
    kube,
    env,
    kubeconfigPath,
    cli,
    async start(...args) {
      const started = await cli("start", ...args);
      const id = /^(\S+) started/.exec(started.stdout)?.[1];
      if (started.code !== 0 || started.stderr !== "" || !id) {
        throw new Error(
          `canarybot start ${args.join(" ")} exited ${started.code}: ${started.stderr}${started.stdout}`,
        );
      }
      return id;
    },
    status,
    async untilPhase(id, phase, timeoutMs) {
      await waitFor(
        `${id} ${phase}`,
        async () => ((await status(id)).phase === phase ? true : undefined),
        timeoutMs,
      );
    },
    async worker(on = runtime(), workerEnv = {}) {
      const worker = startWorker(
        on,
        loadEnvConfig({ ...env, ...workerEnv }),
        createLogger(env.LOG_LEVEL ?? "silent"),
      );
      await worker.waitUntilReady();
      let closed = false;
      const close = async () => {
        if (closed) return;
        closed = true;
        await worker.close();
      };
      closers.unshift(close);
      return close;
    },
    async spawnWorker() {
      const worker = await startCanarybot(["worker"], /worker ready/, { env: { ...env, LOG_LEVEL: "info" } });
      children.push(worker.child);
      return {
        child: worker.child,
        log: () => worker.output(),
        async stop() {
          await worker.stop("SIGTERM");
        },
        async kill9() {
          await worker.stop("SIGKILL");
        },
      };
    },
    runtime,
    onCleanup(close) {
      closers.unshift(close);
    },
    async ticksSettled(rolloutId) {
      const queue = new Queue(DEFAULT_TICK_QUEUE, { connection: bullConnection(REDIS_URL, "queue"), prefix });
      try {
        const pending = `rollout.${rolloutId}.tick.`;
        await waitFor(`the tick jobs of ${rolloutId} to settle`, async () => {
          const jobs = await queue.getJobs([
            "waiting",
            "delayed",
            "active",
            "prioritized",
            "waiting-children",
          ]);
          return jobs.some((job) => job.id?.startsWith(pending)) ? undefined : true;
        });
      } finally {
        await queue.close();
      }
    },
    async cleanup() {
      for (const child of children)
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      for (const close of closers) await close();
      await kube.close();
      await deleteKeysWithPrefix(probe, `${prefix}:`);
      probe.disconnect();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Poll until `check` returns a value (not undefined), or fail after `timeoutMs` naming what was awaited. */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolveSleep) => setTimeout(resolveSleep, 25));
  }
}
