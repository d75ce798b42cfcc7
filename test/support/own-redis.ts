import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startKubeSandbox } from "../../sandbox/kube/server.ts";
import { waitFor } from "./engine.ts";
import { freePort, healthPort, startCanarybot } from "./processes.ts";

const REDIS_SERVER = process.env.REDIS_SERVER_BIN ?? "/usr/bin/redis-server";

/**
 * A redis-server of this test's own, on a fixed port, that the test stops (SIGKILL) and starts. With `appendOnly`
 * every write is in its append-only file before it is answered, so a restart keeps everything; without, a restart
 * starts empty.
 */
export async function ownRedisServer(options: { appendOnly?: boolean } = {}): Promise<{
  url: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  cleanup(): Promise<void>;
}> {
  if (!existsSync(REDIS_SERVER)) {
    throw new Error(`${REDIS_SERVER} not found: apt-get install -y redis-server (or set REDIS_SERVER_BIN)`);
  }
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), "canarybot-own-redis-"));
  let child: ChildProcess | undefined;
  const stop = async (): Promise<void> => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise<void>((done) => running.once("exit", () => done()));
    running.kill("SIGKILL");
    await exited;
  };
  return {
    url: `redis://127.0.0.1:${port}`,
    async start() {
      let output = "";
      child = spawn(
        REDIS_SERVER,
        [
          ...["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--dir", dir],
          ...(options.appendOnly
            ? ["--appendonly", "yes", "--appendfsync", "always"]
            : ["--appendonly", "no"]),
        ],
        {
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
      child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
      const started = child;
      await waitFor(`redis-server on ${port}`, () => {
        if (started.exitCode !== null) throw new Error(`redis-server exited:\n${output}`);
        return output.includes("Ready to accept connections") ? true : undefined;
      });
    },
    stop,
    async cleanup() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * `canarybot worker --metrics-port 0` on a redis-server of the test's own (`appendOnly` as in `ownRedisServer`) and a
 * Kubernetes sandbox seeded with `scenario` and `seed`; everything it starts is added to `cleanups`.
 */
export async function workerOnOwnRedis(
  options: {
    appendOnly: boolean;
    scenario: "bookinfo" | "empty";
    seed?: unknown[];
    env?: Record<string, string>;
  },
  cleanups: (() => Promise<void>)[],
) {
  const redis = await ownRedisServer({ appendOnly: options.appendOnly });
  cleanups.push(() => redis.cleanup());
  await redis.start();
  const kube = await startKubeSandbox({ scenario: options.scenario });
  let kubeOpen = true;
  const closeKube = async (): Promise<void> => {
    if (!kubeOpen) return;
    kubeOpen = false;
    await kube.close();
  };
  cleanups.push(closeKube);
  if (options.seed) kube.seed(options.seed);
  const dir = await mkdtemp(join(tmpdir(), "canarybot-own-redis-worker-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  await kube.writeKubeconfig(join(dir, "kubeconfig"));
  const env = {
    PATH: process.env.PATH ?? "",
    HOME: dir,
    REDIS_URL: redis.url,
    KUBECONFIG: join(dir, "kubeconfig"),
    LOG_LEVEL: "info",
    ...options.env,
  };
  const worker = await startCanarybot(["worker", "--metrics-port", "0"], "worker ready", { env });
  cleanups.push(async () => {
    await worker.stop("SIGKILL");
  });
  return { redis, kube, closeKube, worker, env, port: healthPort(worker.output()) };
}
