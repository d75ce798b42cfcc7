import { existsSync } from "node:fs";
import { startPrometheusProcess } from "../../sandbox/demo/prometheus-process.ts";

/** The Debian package's binary; `PROMETHEUS_BIN` overrides it. */
export const PROMETHEUS_BIN = process.env.PROMETHEUS_BIN ?? "/usr/bin/prometheus";

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
  const prometheus = await startPrometheusProcess({
    binary: PROMETHEUS_BIN,
    targets: options.targets ?? [],
    scrapeIntervalSeconds: options.scrapeIntervalSeconds ?? 1,
  });
  const restart = async (): Promise<void> => {
    await prometheus.kill();
    await prometheus.start();
  };
  return { ...prometheus, restart };
}

/** Wait until Prometheus has scraped often enough to answer rates of `counter` (a mesh's request counter). */
export async function waitForRates(
  prometheus: TestPrometheus,
  counter: string,
  timeoutMs = 30_000,
): Promise<void> {
  const query = encodeURIComponent(`sum(rate(${counter}[4s]))`);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = (await (await fetch(`${prometheus.url}/api/v1/query?query=${query}`)).json()) as {
      data?: { result?: unknown[] };
    };
    if ((answer.data?.result?.length ?? 0) > 0) return;
    if (Date.now() > deadline)
      throw new Error(`Prometheus had no rates of ${counter} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Wait until Prometheus has scraped often enough to answer rates of Istio's request counter. */
export function waitForIstioRates(prometheus: TestPrometheus, timeoutMs = 30_000): Promise<void> {
  return waitForRates(prometheus, "istio_requests_total", timeoutMs);
}
