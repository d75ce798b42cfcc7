import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The Debian package's binary; `PROMETHEUS_BIN` overrides it. */
export const PROMETHEUS_BIN = process.env.PROMETHEUS_BIN ?? "/usr/bin/prometheus";

const READY_TIMEOUT_MS = 20_000;

export type PrometheusOptions = {
  /** `host:port` targets scraped at `/metrics` every `scrapeIntervalSeconds`. */
  targets?: string[];
  /** Default 1 s, so tests see rates within a few seconds. */
  scrapeIntervalSeconds?: number;
};

export type TestPrometheus = {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** Stop the server (SIGTERM, then SIGKILL) and delete its files. Safe to call twice. */
  stop(): Promise<void>;
  /** Stop the process only (the URL then refuses connections); `start()` brings it back on the same port and data. */
  kill(): Promise<void>;
  start(): Promise<void>;
  /** `kill()` then `start()`. */
  restart(): Promise<void>;
};

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function configYaml(targets: string[], interval: number): string {
  const lines = [
    "global:",
    `  scrape_interval: ${interval}s`,
    `  scrape_timeout: ${interval}s`,
    `  evaluation_interval: ${interval}s`,
    "scrape_configs:",
    "  - job_name: mesh",
    "    honor_labels: true",
    "    static_configs:",
    `      - targets: [${targets.map((t) => JSON.stringify(t)).join(", ")}]`,
  ];
  return `${lines.join("\n")}\n`;
}

async function waitReady(url: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `Prometheus exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${output()}`,
      );
    }
    try {
      const response = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1_000) });
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`Prometheus at ${url} was not ready within ${READY_TIMEOUT_MS} ms:\n${output()}`);
}

/**
 * Starts a real Prometheus for a test: a temp dir with a config that scrapes `targets` every second, its own
 * TSDB, and a free port on 127.0.0.1. Resolves when `/-/ready` answers. Without the binary it throws with the
 * install command: the *.prometheus.test.ts files fail, they never skip.
 */
export async function startPrometheus(options: PrometheusOptions = {}): Promise<TestPrometheus> {
  if (!existsSync(PROMETHEUS_BIN)) {
    throw new Error(
      `Prometheus binary not found at ${PROMETHEUS_BIN}. Install it with ` +
        "`apt-get update && apt-get install -y prometheus` (Debian; do not start the service), " +
        "or set PROMETHEUS_BIN.",
    );
  }
  const dir = await mkdtemp(join(tmpdir(), "canarybot-prometheus-"));
  const configFile = join(dir, "prometheus.yml");
  await writeFile(configFile, configYaml(options.targets ?? [], options.scrapeIntervalSeconds ?? 1));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  let log = "";

  const kill = async (): Promise<void> => {
    const running = child;
    child = undefined;
    if (running === undefined || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => running.once("exit", () => resolve()));
    running.kill("SIGTERM");
    const timer = setTimeout(() => running.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
  };

  const start = async (): Promise<void> => {
    if (child !== undefined) return;
    log = "";
    const spawned = spawn(
      PROMETHEUS_BIN,
      [
        `--config.file=${configFile}`,
        `--storage.tsdb.path=${join(dir, "data")}`,
        `--web.listen-address=127.0.0.1:${port}`,
        "--storage.tsdb.retention.time=1h",
        "--log.level=warn",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    child = spawned;
    const keep = (chunk: Buffer): void => {
      log = (log + chunk.toString()).slice(-4_000);
    };
    spawned.stdout?.on("data", keep);
    spawned.stderr?.on("data", keep);
    try {
      await waitReady(url, spawned, () => log);
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
  const restart = async (): Promise<void> => {
    await kill();
    await start();
  };
  return { url, stop, kill, start, restart };
}

/** Wait until Prometheus has scraped often enough to answer rates of Istio's request counter. */
export async function waitForIstioRates(prometheus: TestPrometheus, timeoutMs = 30_000): Promise<void> {
  const query = encodeURIComponent("sum(rate(istio_requests_total[4s]))");
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = (await (await fetch(`${prometheus.url}/api/v1/query?query=${query}`)).json()) as {
      data?: { result?: unknown[] };
    };
    if ((answer.data?.result?.length ?? 0) > 0) return;
    if (Date.now() > deadline)
      throw new Error(`Prometheus had no rates of istio_requests_total within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
