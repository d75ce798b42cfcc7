import { execFile, spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "./processes.ts";
import { waitFor } from "./engine.ts";

const run = promisify(execFile);

/** The Debian binaries (packages redis-server, redis-sentinel, redis-tools), overridable for other systems. */
const BINARIES = {
  server: { path: process.env.REDIS_SERVER_BIN ?? "/usr/bin/redis-server", package: "redis-server" },
  sentinel: { path: process.env.REDIS_SENTINEL_BIN ?? "/usr/bin/redis-sentinel", package: "redis-sentinel" },
  cli: { path: process.env.REDIS_CLI_BIN ?? "/usr/bin/redis-cli", package: "redis-tools" },
} as const;

function binary(name: keyof typeof BINARIES): string {
  const { path, package: pkg } = BINARIES[name];
  if (!existsSync(path)) {
    throw new Error(`${path} not found: apt-get install -y ${pkg} (or set REDIS_${name.toUpperCase()}_BIN)`);
  }
  return path;
}

type Spawned = { child: ChildProcess; output(): string };

/** Start a Redis binary and wait until its log says `ready`; fails with its log when it exits first. */
async function spawnRedis(
  path: string,
  args: readonly string[],
  ready: string,
  label: string,
): Promise<Spawned> {
  const child = spawn(path, args, { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const append = (chunk: Buffer): void => void (output += chunk.toString());
  child.stdout?.on("data", append);
  child.stderr?.on("data", append);
  await waitFor(label, () => {
    if (child.exitCode !== null) throw new Error(`${label} exited ${child.exitCode}:\n${output}`);
    return output.includes(ready) ? true : undefined;
  });
  return { child, output: () => output };
}

async function stopAll(processes: readonly Spawned[]): Promise<void> {
  await Promise.all(
    processes.map(async ({ child }) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((done) => child.once("exit", () => done()));
      child.kill("SIGKILL");
      await exited;
    }),
  );
}

async function redisCli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run(binary("cli"), ["-h", "127.0.0.1", "-p", String(port), ...args]);
  return stdout;
}

const serverArgs = (port: number, dir: string): string[] => [
  ...["--port", String(port), "--bind", "127.0.0.1", "--dir", dir],
  ...["--save", "", "--appendonly", "no", "--dbfilename", `dump-${port}.rdb`],
];

export type SentinelSetup = {
  /** `redis+sentinel://127.0.0.1:<sentinel>/canarybot-test`. */
  url: string;
  primaryPort: number;
  replicaPort: number;
  /** Promote the replica (SENTINEL FAILOVER) and wait until the Sentinel names it the primary. */
  failover(): Promise<void>;
  cleanup(): Promise<void>;
};

/** A primary, a replica of it, and one Sentinel watching them (quorum 1), on free ports, in a temporary directory. */
export async function startRedisSentinel(): Promise<SentinelSetup> {
  const server = binary("server");
  const sentinel = binary("sentinel");
  binary("cli");
  const dir = await mkdtemp(join(tmpdir(), "canarybot-sentinel-"));
  const processes: Spawned[] = [];
  const cleanup = async (): Promise<void> => {
    await stopAll(processes);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const [primaryPort, replicaPort, sentinelPort] = [await freePort(), await freePort(), await freePort()];
    const ready = "Ready to accept connections";
    processes.push(
      await spawnRedis(server, serverArgs(primaryPort, dir), ready, `primary on ${primaryPort}`),
    );
    processes.push(
      await spawnRedis(
        server,
        [...serverArgs(replicaPort, dir), "--replicaof", "127.0.0.1", String(primaryPort)],
        ready,
        `replica on ${replicaPort}`,
      ),
    );
    await waitFor("the replica in sync", async () =>
      (await redisCli(replicaPort, "info", "replication")).includes("master_link_status:up")
        ? true
        : undefined,
    );
    const config = join(dir, "sentinel.conf");
    await writeFile(
      config,
      [
        `port ${sentinelPort}`,
        "bind 127.0.0.1",
        `dir ${dir}`,
        `sentinel monitor canarybot-test 127.0.0.1 ${primaryPort} 1`,
        "sentinel down-after-milliseconds canarybot-test 1000",
        "sentinel failover-timeout canarybot-test 5000",
        "",
      ].join("\n"),
    );
    const watcher = await spawnRedis(sentinel, [config], "+monitor master", `sentinel on ${sentinelPort}`);
    processes.push(watcher);
    await waitFor("the sentinel to find the replica", () =>
      watcher.output().includes(`+slave slave 127.0.0.1:${replicaPort}`) ? true : undefined,
    );
    const primaryNow = async (): Promise<number> =>
      Number(
        (await redisCli(sentinelPort, "sentinel", "get-master-addr-by-name", "canarybot-test")).split(
          "\n",
        )[1],
      );
    return {
      url: `redis+sentinel://127.0.0.1:${sentinelPort}/canarybot-test`,
      primaryPort,
      replicaPort,
      async failover() {
        await redisCli(sentinelPort, "sentinel", "failover", "canarybot-test");
        await waitFor("the sentinel to name the replica primary", async () =>
          (await primaryNow()) === replicaPort ? true : undefined,
        );
      },
      cleanup,
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

export type ClusterSetup = {
  /** `redis+cluster://127.0.0.1:<p1>,127.0.0.1:<p2>,127.0.0.1:<p3>`. */
  url: string;
  ports: number[];
  cleanup(): Promise<void>;
};

/** A Redis Cluster of `size` primaries and no replicas, on free ports (client and bus), in a temporary directory. */
export async function startRedisCluster(size = 3): Promise<ClusterSetup> {
  const server = binary("server");
  binary("cli");
  const dir = await mkdtemp(join(tmpdir(), "canarybot-cluster-"));
  const processes: Spawned[] = [];
  const cleanup = async (): Promise<void> => {
    await stopAll(processes);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const ports: number[] = [];
    for (let n = 0; n < size; n += 1) {
      const port = await freePort();
      const bus = await freePort();
      ports.push(port);
      processes.push(
        await spawnRedis(
          server,
          [
            ...serverArgs(port, dir),
            ...["--cluster-enabled", "yes", "--cluster-port", String(bus)],
            ...["--cluster-config-file", join(dir, `nodes-${port}.conf`)],
          ],
          "Ready to accept connections",
          `cluster node on ${port}`,
        ),
      );
    }
    const nodes = ports.map((port) => `127.0.0.1:${port}`);
    await run(binary("cli"), ["--cluster", "create", ...nodes, "--cluster-replicas", "0", "--cluster-yes"]);
    for (const port of ports) {
      await waitFor(`cluster node ${port} to see the cluster whole`, async () =>
        (await redisCli(port, "cluster", "info")).includes("cluster_state:ok") ? true : undefined,
      );
    }
    return { url: `redis+cluster://${nodes.join(",")}`, ports, cleanup };
  } catch (error) {
    await cleanup();
    throw error;
  }
}
