import type { Registry } from "prom-client";
import type { SourceWorkload } from "./istio-metrics.ts";
import { logNormalMs } from "./prng.ts";
import type { Random } from "./prng.ts";
import type { MeshRoutes, RequestAttributes, RouteOutcome } from "./traffic-routing.ts";
import { routeRequest } from "./traffic-routing.ts";
import { applyMeshControl, behaviourOf } from "./settings.ts";
import type { MeshSettings } from "./settings.ts";

/** Totals key for requests answered before reaching any pod (no route, unknown subset, fault abort, direct response). */
export const UNROUTED = "(unrouted)";
/** Totals key for requests to a service whose DestinationRule defines no subsets. */
export const NO_SUBSET = "(no subset)";

export type SubsetTotals = {
  requests: number;
  /** Requests by response code (`"200"`, `"500"`, ...). */
  responseCodes: Record<string, number>;
  /** Requests that carried at least one of the configured headers, and those that carried none. */
  withHeaders: number;
  withoutHeaders: number;
};

export type ServiceTotals = { requests: number; subsets: Record<string, SubsetTotals> };

export type MeshTotals = {
  requests: number;
  withHeaders: number;
  withoutHeaders: number;
  /** By destination service, then by subset (or `UNROUTED` / `NO_SUBSET`). */
  services: Record<string, ServiceTotals>;
};

export type Reporter = "source" | "destination";

/** One request as one proxy saw it: the client's (`source`) or the server's (`destination`). */
export type ProxyReport = {
  reporter: Reporter;
  outcome: RouteOutcome;
  code: number;
  /** Envoy response flags (`-`, `DI`, `NR`, ...). */
  flags: string;
  ms: number;
};

/** A mesh's metrics: how the simulator's requests are recorded and exposed (Istio's, Linkerd's). */
export type MeshMetrics = {
  registry: Registry;
  record(report: ProxyReport): void;
};

/** The Deployment a request reached: the service and its pod's version (`reviews-v2`, the Bookinfo convention). */
export function workloadOf(outcome: Extract<RouteOutcome, { kind: "upstream" }>): string {
  const version = outcome.labels.version ?? outcome.labels["app.kubernetes.io/version"];
  return version === undefined ? outcome.service : `${outcome.service}-${version}`;
}

export type Simulator = {
  settings(): MeshSettings;
  /** Applies a control request (validated; throws `invalid_input`) and returns the new settings. */
  control(input: unknown): MeshSettings;
  setRoutes(routes: MeshRoutes): void;
  routes(): MeshRoutes;
  /** Simulates `ms` milliseconds of traffic: `rps × ms / 1000` requests per service (fractions carry over). */
  advance(ms: number): number;
  totals(): MeshTotals;
};

/** Small fixed latency (ms) of an answer that never left the client proxy. */
const LOCAL_ANSWER_MS = { p50: 0.4, p99: 2 };
/** Share of a subset's errors answered 503 rather than 500. */
const SHARE_503 = 0.2;

function emptyTotals(): MeshTotals {
  return { requests: 0, withHeaders: 0, withoutHeaders: 0, services: {} };
}

function count(
  totals: MeshTotals,
  service: string,
  subset: string,
  code: number,
  withHeaders: boolean,
): void {
  totals.requests += 1;
  const s = (totals.services[service] ??= { requests: 0, subsets: {} });
  s.requests += 1;
  const t = (s.subsets[subset] ??= { requests: 0, responseCodes: {}, withHeaders: 0, withoutHeaders: 0 });
  t.requests += 1;
  t.responseCodes[String(code)] = (t.responseCodes[String(code)] ?? 0) + 1;
  if (withHeaders) {
    totals.withHeaders += 1;
    t.withHeaders += 1;
  } else {
    totals.withoutHeaders += 1;
    t.withoutHeaders += 1;
  }
}

/**
 * The traffic generator: for each simulated request it draws the configured headers, routes it like Istio
 * would, draws the subset's answer (error or not, latency) and records it on the mesh's metrics, as reported by
 * the destination proxy and by the source proxy (requests that never reach a pod only by the source).
 * Deterministic for a given seed, routes and call sequence; no clock, no I/O.
 */
export function createSimulator(input: {
  namespace: string;
  services: readonly string[];
  source: SourceWorkload;
  random: Random;
  metrics: MeshMetrics;
  settings: MeshSettings;
  routes: MeshRoutes;
}): Simulator {
  const { source, random, metrics } = input;
  let settings = input.settings;
  let routes = input.routes;
  const totals = emptyTotals();
  const carry = new Map<string, number>(input.services.map((s) => [s, 0]));
  const sourceLabels = { app: source.app, version: source.version };

  const record = (reporter: Reporter, outcome: RouteOutcome, code: number, flags: string, ms: number): void =>
    metrics.record({ reporter, outcome, code, flags, ms });

  function request(service: string): void {
    const headers: Record<string, string> = {};
    for (const h of settings.headers) if (random() < h.share) headers[h.name] = h.value;
    const withHeaders = Object.keys(headers).length > 0;
    const attributes: RequestAttributes = {
      headers,
      method: "GET",
      path: `/${service}`,
      sourceLabels,
      sourceNamespace: source.namespace,
    };
    const outcome = routeRequest(routes, service, attributes, random);

    if (outcome.kind === "local") {
      const ms = logNormalMs(random, LOCAL_ANSWER_MS.p50, LOCAL_ANSWER_MS.p99);
      record("source", outcome, outcome.code, outcome.flags, ms);
      count(totals, outcome.service, UNROUTED, outcome.code, withHeaders);
      return;
    }
    const behaviour = behaviourOf(settings, outcome.service, outcome.subset);
    const failed = random() < behaviour.errorRate;
    const code = failed ? (random() < SHARE_503 ? 503 : 500) : 200;
    const serverMs = logNormalMs(random, behaviour.latencyMs.p50, behaviour.latencyMs.p99);
    const flags = outcome.delayMs === undefined ? "-" : "DI";
    record("destination", outcome, code, "-", serverMs);
    record("source", outcome, code, flags, serverMs + (outcome.delayMs ?? 0));
    count(totals, outcome.service, outcome.subset ?? NO_SUBSET, code, withHeaders);
  }

  return {
    settings: () => structuredClone(settings),
    control(control) {
      settings = applyMeshControl(settings, control);
      return structuredClone(settings);
    },
    setRoutes(next) {
      routes = next;
    },
    routes: () => structuredClone(routes),
    advance(ms) {
      if (!(ms > 0)) return 0;
      let emitted = 0;
      for (const service of input.services) {
        const due = (carry.get(service) ?? 0) + (settings.rps * ms) / 1000;
        const n = Math.floor(due);
        carry.set(service, due - n);
        for (let i = 0; i < n; i++) request(service);
        emitted += n;
      }
      return emitted;
    },
    totals: () => structuredClone(totals),
  };
}
