import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, spawnOwned, waitUntilReady } from "./processes.ts";
import type { OwnedProcess } from "./processes.ts";

const READY_TIMEOUT_MS = 20_000;

export type PrometheusProcessOptions = {
  binary: string;
  /** `host:port` targets scraped at `/metrics` every `scrapeIntervalSeconds`. */
  targets: readonly string[];
  scrapeIntervalSeconds: number;
};

export type PrometheusProcess = {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** Stop the server (SIGTERM, then SIGKILL) and delete its files. Safe to call twice. */
  stop(): Promise<void>;
  /** Stop the process only (the URL then refuses connections); `start()` brings it back on the same port and data. */
  kill(): Promise<void>;
  start(): Promise<void>;
  /** The running process's id, if any. */
  pid(): number | undefined;
};

/** A scrape config for the given targets; labels kept as the mesh exposes them (Istio's own names). */
export function prometheusConfig(targets: readonly string[], intervalSeconds: number): string {
  const lines = [
    "global:",
    `  scrape_interval: ${intervalSeconds}s`,
    `  scrape_timeout: ${intervalSeconds}s`,
    `  evaluation_interval: ${intervalSeconds}s`,
    "scrape_configs:",
    "  - job_name: mesh",
    "    honor_labels: true",
    "    static_configs:",
    `      - targets: [${targets.map((t) => JSON.stringify(t)).join(", ")}]`,
  ];
  return `${lines.join("\n")}\n`;
}

/**
 * A Prometheus of our own: a temp dir with the generated config and its TSDB, a free port on 127.0.0.1. Resolves
 * when `/-/ready` answers.
 */
export async function startPrometheusProcess(options: PrometheusProcessOptions): Promise<PrometheusProcess> {
  const dir = await mkdtemp(join(tmpdir(), "canarybot-prometheus-"));
  const configFile = join(dir, "prometheus.yml");
  await writeFile(configFile, prometheusConfig(options.targets, options.scrapeIntervalSeconds));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let running: OwnedProcess | undefined;

  const kill = async (): Promise<void> => {
    const owned = running;
    running = undefined;
    await owned?.stop();
  };
  const start = async (): Promise<void> => {
    if (running !== undefined) return;
    const owned = spawnOwned(options.binary, [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--storage.tsdb.retention.time=1h",
      "--log.level=warn",
    ]);
    running = owned;
    try {
      await waitUntilReady(
        `Prometheus at ${url}`,
        owned,
        async () => (await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1_000) })).ok,
        READY_TIMEOUT_MS,
      );
    } catch (error) {
      await kill();
      throw error;
    }
  };
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await kill();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await start();
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, stop, kill, start, pid: () => running?.child.pid };
}
