import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startKubeSandbox } from "../../sandbox/kube/server.ts";
import { waitFor } from "../support/engine.ts";

const BIN = resolve(import.meta.dirname, "../../bin/canarybot.js");
/** The sandboxes' own command line. */
export const SANDBOX_BIN = resolve(import.meta.dirname, "../../sandbox/bin/canarybot-sandbox.js");

export type CanarybotProcess = {
  child: ChildProcess;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  /** Resolves with the exit code and how long after `terminate()` it came (ms). */
  exited: Promise<{ code: number | null; afterMs: number }>;
  terminate(): void;
  /** SIGKILL unless it has exited; resolves once it has. */
  kill(): Promise<void>;
};

/** `canarybot <args>` as a child process; resolves once its output contains `ready` (a log message). */
export async function spawnCanarybot(
  args: string[],
  env: Record<string, string>,
  ready: string,
  bin = BIN,
): Promise<CanarybotProcess> {
  const child = spawn(process.execPath, [bin, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  let terminatedAt = 0;
  const exited = new Promise<{ code: number | null; afterMs: number }>((done) =>
    child.once("exit", (code) => done({ code, afterMs: Date.now() - terminatedAt })),
  );
  let gone = false;
  void exited.then(() => (gone = true));
  await waitFor(
    `canarybot ${args.join(" ")} to log "${ready}"`,
    () => {
      if (gone) throw new Error(`canarybot ${args.join(" ")} exited early:\n${output}`);
      return output.includes(ready) ? true : undefined;
    },
    30_000,
  );
  return {
    child,
    output: () => output,
    exited,
    terminate() {
      terminatedAt = Date.now();
      child.kill("SIGTERM");
    },
    async kill() {
      if (!gone) child.kill("SIGKILL");
      await exited;
    },
  };
}

/** The port the health server said it listens on. */
export function healthPort(output: string): number {
  const line = output.split("\n").find((text) => text.includes("health server listening"));
  const port = line ? (JSON.parse(line) as { port?: number }).port : undefined;
  if (port === undefined) throw new Error(`no "health server listening" line in:\n${output}`);
  return port;
}

/** A port nobody listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((listening) => server.listen(0, "127.0.0.1", () => listening()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((closed) => server.close(() => closed()));
  return port;
}

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
  const worker = await spawnCanarybot(["worker", "--metrics-port", "0"], env, "worker ready");
  cleanups.push(() => worker.kill());
  return { redis, kube, closeKube, worker, env, port: healthPort(worker.output()) };
}
