import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "../rollout/ports.ts";
import type { OpsMetrics } from "./metrics.ts";
import type { ReadinessCheck } from "./readiness.ts";
import { errorMessage } from "../errors.ts";

export type HealthServerOptions = {
  port: number;
  host?: string;
  checks: readonly ReadinessCheck[];
  metrics: OpsMetrics;
  logger: Logger;
};

export type HealthServer = {
  readonly port: number;
  /** From now on `/readyz` answers 503 "shutting down", so the Service stops sending traffic here. */
  drain(): void;
  close(): Promise<void>;
};

/**
 * `/healthz` (the process is alive: it answers), `/readyz` (every check passes, run on each request so a probe
 * sees the state of now) and `/metrics` (Prometheus text format).
 */
export async function startHealthServer(options: HealthServerOptions): Promise<HealthServer> {
  const { checks, metrics, logger } = options;
  let draining = false;
  const server = createServer((request, response) => {
    const reply = (status: number, body: string, type = "text/plain; charset=utf-8"): void => {
      response.writeHead(status, { "content-type": type, "cache-control": "no-store" }).end(body);
    };
    const path = (request.url ?? "/").split("?")[0];
    if (request.method !== "GET" && request.method !== "HEAD") return reply(405, "GET only\n");
    if (path === "/healthz") return reply(200, "ok\n");
    if (path === "/readyz") {
      void readiness(checks, draining).then((ready) => {
        if (!ready.ok) logger.warn({ failing: ready.failing }, "not ready");
        reply(ready.ok ? 200 : 503, `${JSON.stringify(ready)}\n`, "application/json");
      });
      return;
    }
    if (path === "/metrics") {
      void metrics.registry.metrics().then(
        (text) => reply(200, text, metrics.registry.contentType),
        (error: unknown) => reply(500, `metrics failed: ${errorMessage(error)}\n`),
      );
      return;
    }
    reply(404, "not found: /healthz, /readyz, /metrics\n");
  });
  // Probes open a connection per request; none is worth keeping a shutdown waiting.
  server.keepAliveTimeout = 1_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host ?? "0.0.0.0", () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    drain() {
      draining = true;
    },
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await Promise.all(checks.map((check) => check.close()));
    },
  };
}

type Readiness = { ok: boolean; checks: Record<string, string>; failing: string[] };

async function readiness(checks: readonly ReadinessCheck[], draining: boolean): Promise<Readiness> {
  const results = await Promise.all(
    checks.map(async (check) => {
      try {
        await check.check();
        return [check.name, "ok"] as const;
      } catch (error) {
        return [check.name, errorMessage(error)] as const;
      }
    }),
  );
  const failing = results.filter(([, result]) => result !== "ok").map(([name]) => name);
  if (draining) failing.unshift("shutting-down");
  return { ok: failing.length === 0, checks: Object.fromEntries(results), failing };
}
