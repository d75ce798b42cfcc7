import { createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { ApiException, CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import type { KubeConfig } from "@kubernetes/client-node";
import type { MetricsMesh } from "../../src/rollout/types.ts";
import { errorText, isSandboxError, SandboxError } from "../errors.ts";
import { createIstioMeshMetrics, DEFAULT_SOURCE } from "./istio-metrics.ts";
import type { SourceWorkload } from "./istio-metrics.ts";
import { createLinkerdMeshMetrics } from "./linkerd-metrics.ts";
import { seededRandom } from "./prng.ts";
import { withGatewayApiRoutes } from "./gateway-api-routing.ts";
import { meshRoutes, routeRequest } from "./traffic-routing.ts";
import type { MeshRoutes, ServiceRoutes } from "./traffic-routing.ts";
import { initialMeshSettings } from "./settings.ts";
import type { HeaderTraffic, MeshControl, MeshSettings, SubsetBehaviourPatch } from "./settings.ts";
import { createSimulator } from "./simulator.ts";
import type { MeshTotals } from "./simulator.ts";
import { readCappedBody } from "../read-body.ts";

export type MeshSandboxOptions = {
  /** Where the VirtualServices and DestinationRules are read from (a real cluster or the kube sandbox). */
  kubeConfig: KubeConfig;
  namespace: string;
  /** Services that receive traffic (`["reviews"]`); each gets `rps` requests per second. */
  services: string[];
  rps?: number;
  /** Listening port; 0 (default) picks a free one. */
  port?: number;
  /** Listening address; default 127.0.0.1 (use 0.0.0.0 for a Prometheus in a container). */
  host?: string;
  /** Behaviour per subset key (`v2`, `reviews/v2`, `*`): error rate and latency. */
  subsets?: Record<string, SubsetBehaviourPatch>;
  /** Shares of requests that carry a header (`{ name: "qa", value: "canary-test", share: 0.05 }`). */
  headers?: HeaderTraffic[];
  /** PRNG seed: the same seed, routes and timing replay the same requests. Default 1. */
  seed?: number;
  /** How often the VirtualServices / DestinationRules are re-read, ms. Default 250. */
  pollMs?: number;
  /** How often traffic is generated, ms. Default 100. */
  tickMs?: number;
  /** Generate traffic on a timer (default). Off: traffic only flows through `advance(ms)`, for exact tests. */
  autoAdvance?: boolean;
  /** networking.istio.io API version read. Default v1. */
  istioVersion?: string;
  /** The calling workload on the metrics. Default bookinfo's productpage-v1 in `namespace`. */
  source?: Partial<SourceWorkload>;
  /** Whose metrics `/metrics` serves: Istio's standard metrics (default) or the Linkerd proxy's. */
  metrics?: MetricsMesh;
};

/** What the mesh sandbox saw when it last read the routing objects. */
export type MeshRoutesStatus = {
  /** ms since epoch of the last successful read. */
  readAt: number;
  /** Last read error (kept until a read succeeds); traffic keeps following the last good routes meanwhile. */
  lastError?: string;
  services: Record<string, ServiceRoutes>;
  subsets: MeshRoutes["subsets"];
};

export type MeshSandbox = {
  /**
   * Base URL: `/metrics` (also `/stats/prometheus`), `/control`, `/healthz`, and `/services/<service>/…`, which
   * routes that one request (its headers, method and path) by the live VirtualService and answers where it landed.
   */
  url: string;
  metricsUrl: string;
  controlUrl: string;
  /** Changes rate, subset behaviour or header shares at once (same body as `POST /control`); `invalid_input` if bad. */
  control(settings: MeshControl): MeshSettings;
  settings(): MeshSettings;
  /** Requests so far per service / subset / response code, and with / without the configured headers. */
  totals(): MeshTotals;
  routes(): MeshRoutesStatus;
  /** Re-reads the routing objects now (after any read in flight) and returns what traffic follows from then on. */
  refresh(): Promise<MeshRoutesStatus>;
  /** Simulates `ms` of traffic at once, on top of the timer; returns the number of requests. */
  advance(ms: number): number;
  /** The Prometheus text exposition served on `/metrics`. */
  metrics(): Promise<string>;
  close(): Promise<void>;
};

const ISTIO_GROUP = "networking.istio.io";
const GATEWAY_API_GROUP = "gateway.networking.k8s.io";
const MAX_BODY_BYTES = 1 << 20;
/** Longest stretch one timer tick makes up for (after a suspended laptop, say), ms. */
const MAX_CATCH_UP_MS = 5_000;

function describeReadError(error: unknown): string {
  if (error instanceof ApiException) {
    let body: unknown = error.body;
    if (typeof body === "string") {
      try {
        body = JSON.parse(body);
      } catch {
        // Not JSON: keep the text.
      }
    }
    const message =
      typeof body === "object" && body !== null && "message" in body && typeof body.message === "string"
        ? body.message
        : typeof body === "string" && body !== ""
          ? body
          : error.message;
    return `HTTP ${error.code}: ${message}`;
  }
  return errorText(error);
}

function itemsOf(list: unknown): unknown[] {
  if (typeof list === "object" && list !== null && "items" in list && Array.isArray(list.items))
    return list.items;
  return [];
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body, null, 2)}\n`;
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

/**
 * Starts the mesh traffic simulator: reads the live VirtualServices and DestinationRules of `namespace` (and keeps
 * re-reading them), generates requests to `services` routed as Istio would, and serves Istio's standard metrics
 * (or, with `metrics: "linkerd"`, the Linkerd proxy's).
 * Fails with `kubernetes_unavailable` when the first read fails.
 */
export async function startMeshSandbox(options: MeshSandboxOptions): Promise<MeshSandbox> {
  const { namespace, services } = options;
  if (services.length === 0) throw new SandboxError("mesh sandbox: no services to simulate");
  const pollMs = options.pollMs ?? 250;
  const tickMs = options.tickMs ?? 100;
  const version = options.istioVersion ?? "v1";
  const api = options.kubeConfig.makeApiClient(CustomObjectsApi);
  const core = options.kubeConfig.makeApiClient(CoreV1Api);
  const source: SourceWorkload = { ...DEFAULT_SOURCE, namespace, ...options.source };
  const metrics =
    options.metrics === "linkerd"
      ? createLinkerdMeshMetrics({ source, namespace })
      : createIstioMeshMetrics({ source, namespace });

  async function readRoutes(): Promise<MeshRoutes> {
    const list = async (plural: string): Promise<unknown> =>
      (await api.listNamespacedCustomObject({ group: ISTIO_GROUP, version, namespace, plural })) as unknown;
    // Both reads finish before either failure is reported: no request is left in flight behind an error.
    const [vs, dr, gateway] = await Promise.allSettled([
      list("virtualservices"),
      list("destinationrules"),
      readGatewayApi(),
    ]);
    if (vs.status === "rejected") throw vs.reason;
    if (dr.status === "rejected") throw dr.reason;
    if (gateway.status === "rejected") throw gateway.reason;
    const istio = meshRoutes({
      namespace,
      services,
      virtualServices: itemsOf(vs.value),
      destinationRules: itemsOf(dr.value),
    });
    return withGatewayApiRoutes(istio, gateway.value);
  }

  /** HTTPRoutes and Services; a cluster without Gateway API's CRDs has no HTTPRoutes rather than an error. */
  async function readGatewayApi(): Promise<{ httpRoutes: unknown[]; kubeServices: unknown[] }> {
    const [httpRoutes, kubeServices] = await Promise.all([
      api
        .listNamespacedCustomObject({
          group: GATEWAY_API_GROUP,
          version: "v1",
          namespace,
          plural: "httproutes",
        })
        .then(itemsOf, (error: unknown) => {
          if (error instanceof ApiException && error.code === 404) return [];
          throw error;
        }),
      core.listNamespacedService({ namespace }).then((list) => list.items as unknown[]),
    ]);
    return { httpRoutes, kubeServices };
  }

  let initial: MeshRoutes;
  try {
    initial = await readRoutes();
  } catch (error) {
    throw new SandboxError(
      `mesh sandbox: cannot read ${ISTIO_GROUP}/${version} VirtualServices in ${namespace}: ${describeReadError(error)}`,
      2,
      { cause: error },
    );
  }
  const simulator = createSimulator({
    namespace,
    services,
    source,
    random: seededRandom(options.seed ?? 1),
    metrics,
    settings: initialMeshSettings(options),
    routes: initial,
  });
  let status: { readAt: number; lastError?: string } = { readAt: Date.now() };

  const routesStatus = (): MeshRoutesStatus => {
    const r = simulator.routes();
    return { ...status, services: r.services, subsets: r.subsets };
  };

  // Reads run one at a time; `refresh` queues behind the one in flight so its answer is fresh.
  let reads: Promise<void> = Promise.resolve();
  const poll = (): Promise<void> => {
    reads = reads.then(async () => {
      try {
        simulator.setRoutes(await readRoutes());
        status = { readAt: Date.now() };
      } catch (error) {
        status = { ...status, lastError: describeReadError(error) };
      }
    });
    return reads;
  };

  let closed = false;
  let pollTimer: NodeJS.Timeout | undefined;
  const schedulePoll = (): void => {
    pollTimer = setTimeout(() => {
      void poll().then(() => {
        if (!closed) schedulePoll();
      });
    }, pollMs);
    pollTimer.unref();
  };
  schedulePoll();

  let lastTick = performance.now();
  const tickTimer =
    options.autoAdvance === false
      ? undefined
      : setInterval(() => {
          const now = performance.now();
          simulator.advance(Math.min(now - lastTick, MAX_CATCH_UP_MS));
          lastTick = now;
        }, tickMs);
  tickTimer?.unref();

  const control = (input: MeshControl): MeshSettings => simulator.control(input);

  // One request a person or a pipeline's test sends (`curl -H 'x-canary: 1' …/services/reviews/`), routed as the
  // simulated traffic is, after a fresh read of the routes: a header route written a moment ago is in force.
  const probeRandom = seededRandom((options.seed ?? 1) + 1);
  async function probeRoute(res: ServerResponse, service: string, rest: string, req: IncomingMessage) {
    if (!services.includes(service)) {
      sendJson(res, 404, { error: `no simulated service ${service}`, services });
      return;
    }
    await poll();
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(",") : value;
    }
    const outcome = routeRequest(
      simulator.routes(),
      service,
      { headers, method: req.method ?? "GET", path: rest, sourceLabels: {}, sourceNamespace: namespace },
      probeRandom,
    );
    if (outcome.kind === "local") {
      sendJson(res, outcome.code, { service, flags: outcome.flags, route: outcome.route });
      return;
    }
    sendJson(res, 200, { service, subset: outcome.subset, route: outcome.route });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? "/", "http://mesh").pathname;
    const method = req.method ?? "GET";
    if ((path === "/metrics" || path === "/stats/prometheus") && method === "GET") {
      const text = await metrics.registry.metrics();
      res.writeHead(200, { "content-type": metrics.registry.contentType });
      res.end(text);
      return;
    }
    if (path === "/healthz" && method === "GET") {
      sendJson(res, 200, {
        status: "ok",
        routes: { readAt: new Date(status.readAt).toISOString(), lastError: status.lastError },
      });
      return;
    }
    if (path === "/control" && method === "GET") {
      sendJson(res, 200, {
        settings: simulator.settings(),
        totals: simulator.totals(),
        routes: routesStatus(),
      });
      return;
    }
    if (path === "/control" && method === "POST") {
      let body: unknown;
      try {
        body = JSON.parse(
          await readCappedBody(req, MAX_BODY_BYTES, () => new SandboxError("control body larger than 1 MiB")),
        );
      } catch (error) {
        sendJson(res, 400, { error: isSandboxError(error) ? error.message : "control body is not JSON" });
        return;
      }
      try {
        sendJson(res, 200, { settings: control(body as MeshControl), totals: simulator.totals() });
      } catch (error) {
        if (!isSandboxError(error)) throw error;
        sendJson(res, 400, { error: error.message });
      }
      return;
    }
    const probe = /^\/services\/([^/]+)(\/.*)?$/.exec(path);
    if (probe?.[1] !== undefined) {
      await probeRoute(res, probe[1], probe[2] ?? "/", req);
      return;
    }
    if (["/metrics", "/stats/prometheus", "/healthz", "/control"].includes(path)) {
      sendJson(res, 405, { error: `${method} not allowed on ${path}` });
      return;
    }
    sendJson(res, 404, {
      error: `no such path ${path}`,
      paths: ["/metrics", "/stats/prometheus", "/control", "/healthz", "/services/<service>/"],
    });
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { error: errorText(error) });
      else res.destroy();
    });
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (error) {
    closed = true;
    clearTimeout(pollTimer);
    clearInterval(tickTimer);
    throw error;
  }
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  const url = `http://${host === "0.0.0.0" ? "127.0.0.1" : host}:${address.port}`;

  return {
    url,
    metricsUrl: `${url}/metrics`,
    controlUrl: `${url}/control`,
    control,
    settings: () => simulator.settings(),
    totals: () => simulator.totals(),
    routes: routesStatus,
    async refresh() {
      await poll();
      return routesStatus();
    },
    advance: (ms) => simulator.advance(ms),
    metrics: () => metrics.registry.metrics(),
    async close() {
      if (closed) return;
      closed = true;
      clearTimeout(pollTimer);
      clearInterval(tickTimer);
      await reads;
      await new Promise<void>((resolve, reject) => {
        server.close((error) => (error === undefined ? resolve() : reject(error)));
        server.closeAllConnections();
      });
    },
  };
}
