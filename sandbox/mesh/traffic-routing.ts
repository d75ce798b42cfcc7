import type { Random } from "./prng.ts";

/**
 * Istio HTTP routing, the part the simulator needs: which VirtualService applies to a service, which http route
 * a request takes (routes in order, first match wins; `match` entries are ORed, the conditions inside one entry
 * ANDed), which weighted destination it lands on, and which DestinationRule subset (pod labels) that is.
 * Pure: the live objects and the randomness come in as arguments.
 *
 * Supported match conditions: headers and withoutHeaders (exact / prefix / regex), method, uri, sourceLabels,
 * sourceNamespace, gateways (only `mesh` traffic is simulated). A match entry using anything else (port,
 * queryParams, authority, scheme, ...) never matches, so an unsupported rule is visible instead of silently
 * catching traffic. Route-level fault injection (abort, delay), directResponse and redirect are honoured.
 */

export type StringMatch = { exact?: string; prefix?: string; regex?: string };

/** What a simulated request looks like to the routing rules. Header names are lower case. */
export type RequestAttributes = {
  headers: Readonly<Record<string, string>>;
  method: string;
  path: string;
  sourceLabels: Readonly<Record<string, string>>;
  sourceNamespace: string;
};

type MatchBlock = {
  headers: [string, StringMatch][];
  withoutHeaders: [string, StringMatch][];
  method?: StringMatch;
  uri?: StringMatch;
  sourceLabels?: Record<string, string>;
  sourceNamespace?: string;
  gateways?: string[];
  /** Set when the entry uses a condition the simulator does not model: it never matches. */
  unsupported?: string;
};

export type RouteDestination = {
  /** Short service name of the destination host (`reviews` for `reviews.default.svc.cluster.local`). */
  service: string;
  host: string;
  subset?: string;
  weight: number;
};

export type HttpRoute = {
  name?: string;
  /** Empty: matches every request. */
  matches: MatchBlock[];
  destinations: RouteDestination[];
  abort?: { percent: number; httpStatus: number };
  delay?: { percent: number; ms: number };
  /** A route that answers by itself (directResponse / redirect) instead of forwarding. */
  localResponse?: number;
};

export type VirtualServiceRef = { name: string; resourceVersion?: string; generation?: number };

/** Routing for one service as the mesh sees it right now. */
export type ServiceRoutes = {
  service: string;
  /** The VirtualService in force, if any; without one (or an HTTPRoute), traffic spreads over all the service's pods. */
  virtualService?: VirtualServiceRef;
  /** The Gateway API HTTPRoute in force when no VirtualService is (see `gateway-api-routing.ts`). */
  httpRoute?: VirtualServiceRef;
  http: HttpRoute[];
};

export type MeshRoutes = {
  namespace: string;
  services: Record<string, ServiceRoutes>;
  /** DestinationRule subsets per destination service: subset name → pod labels. */
  subsets: Record<string, Record<string, Record<string, string>>>;
};

export type RouteOutcome =
  | {
      kind: "upstream";
      service: string;
      /** DestinationRule subset the request landed on; undefined when the service has no subsets at all. */
      subset?: string;
      /** Pod labels of that subset (`version: v2`). */
      labels: Record<string, string>;
      route?: string;
      /** Injected delay (fault.delay), milliseconds. */
      delayMs?: number;
    }
  | {
      /** Answered before reaching a workload: no route (NR), unknown subset (NC), fault abort (FI), direct response. */
      kind: "local";
      service: string;
      code: number;
      flags: string;
      route?: string;
    };

const SUPPORTED_MATCH_KEYS = new Set([
  "name",
  "headers",
  "withoutHeaders",
  "method",
  "uri",
  "ignoreUriCase",
  "sourceLabels",
  "sourceNamespace",
  "gateways",
]);

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

export function asString(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

export function stringRecord(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isObject(value)) return out;
  for (const [k, v] of Object.entries(value)) if (typeof v === "string") out[k] = v;
  return out;
}

function stringMatch(value: unknown): StringMatch | undefined {
  if (!isObject(value)) return undefined;
  const match: StringMatch = {};
  const exact = asString(value.exact);
  const prefix = asString(value.prefix);
  const regex = asString(value.regex);
  if (exact !== undefined) match.exact = exact;
  if (prefix !== undefined) match.prefix = prefix;
  if (regex !== undefined) match.regex = regex;
  return match;
}

/** True when `value` satisfies the match; a regex must match the whole value (RE2 full match, as Envoy does). */
export function matchesString(match: StringMatch, value: string | undefined, ignoreCase = false): boolean {
  if (value === undefined) return false;
  const v = ignoreCase ? value.toLowerCase() : value;
  if (match.exact !== undefined) return v === (ignoreCase ? match.exact.toLowerCase() : match.exact);
  if (match.prefix !== undefined) return v.startsWith(ignoreCase ? match.prefix.toLowerCase() : match.prefix);
  if (match.regex !== undefined) {
    try {
      return new RegExp(`^(?:${match.regex})$`, ignoreCase ? "i" : "").test(v);
    } catch {
      return false;
    }
  }
  // `{}` matches presence of the header.
  return true;
}

function headerMatches(value: unknown): [string, StringMatch][] {
  if (!isObject(value)) return [];
  return Object.entries(value).map(([name, m]) => [name.toLowerCase(), stringMatch(m) ?? {}]);
}

function matchBlock(value: unknown): MatchBlock {
  const m = isObject(value) ? value : {};
  const block: MatchBlock = {
    headers: headerMatches(m.headers),
    withoutHeaders: headerMatches(m.withoutHeaders),
  };
  const unsupported = Object.keys(m).filter((k) => !SUPPORTED_MATCH_KEYS.has(k));
  if (unsupported.length > 0) block.unsupported = unsupported.join(",");
  const method = stringMatch(m.method);
  if (method !== undefined) block.method = method;
  const uri = stringMatch(m.uri);
  if (uri !== undefined) block.uri = uri;
  if (m.sourceLabels !== undefined) block.sourceLabels = stringRecord(m.sourceLabels);
  const sourceNamespace = asString(m.sourceNamespace);
  if (sourceNamespace !== undefined) block.sourceNamespace = sourceNamespace;
  if (Array.isArray(m.gateways))
    block.gateways = m.gateways.filter((g): g is string => typeof g === "string");
  return block;
}

function matchesBlock(block: MatchBlock, request: RequestAttributes): boolean {
  if (block.unsupported !== undefined) return false;
  if (block.gateways !== undefined && !block.gateways.includes("mesh")) return false;
  for (const [name, m] of block.headers) if (!matchesString(m, request.headers[name])) return false;
  for (const [name, m] of block.withoutHeaders) if (matchesString(m, request.headers[name])) return false;
  if (block.method !== undefined && !matchesString(block.method, request.method)) return false;
  if (block.uri !== undefined && !matchesString(block.uri, request.path)) return false;
  if (block.sourceNamespace !== undefined && block.sourceNamespace !== request.sourceNamespace) return false;
  if (block.sourceLabels !== undefined) {
    for (const [k, v] of Object.entries(block.sourceLabels)) if (request.sourceLabels[k] !== v) return false;
  }
  return true;
}

/** The service a destination host names, relative to `namespace` (`reviews`, `reviews.default.svc.cluster.local`). */
export function serviceOfHost(host: string): string {
  return host.split(".")[0] ?? host;
}

export function serviceFqdn(service: string, namespace: string): string {
  return `${service}.${namespace}.svc.cluster.local`;
}

/** Whether a VirtualService / DestinationRule host names the service (short name, partial or full FQDN, wildcard). */
export function hostMatchesService(host: string, service: string, namespace: string): boolean {
  const fqdn = serviceFqdn(service, namespace);
  if (host === "*") return true;
  if (host.startsWith("*")) return fqdn.endsWith(host.slice(1));
  return [service, `${service}.${namespace}`, `${service}.${namespace}.svc`, fqdn].includes(host);
}

/** Go-style durations as Istio writes them: `5s`, `100ms`, `1.5s`, `1m`. */
export function durationMs(value: unknown): number | undefined {
  if (typeof value !== "string") return undefined;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(value.trim());
  if (m === null) return undefined;
  const scale = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as "ms" | "s" | "m" | "h"];
  return Number(m[1]) * scale;
}

function faultPercent(fault: Record<string, unknown>): number {
  if (isObject(fault.percentage) && typeof fault.percentage.value === "number") return fault.percentage.value;
  if (typeof fault.percent === "number") return fault.percent;
  return 100;
}

function httpRoute(value: unknown): HttpRoute {
  const r = isObject(value) ? value : {};
  const route: HttpRoute = {
    matches: asArray(r.match).map(matchBlock),
    destinations: [],
  };
  const name = asString(r.name);
  if (name !== undefined) route.name = name;

  const entries = asArray(r.route).filter(isObject);
  const weights = entries.map((e) => (typeof e.weight === "number" ? e.weight : undefined));
  const allUnset = weights.every((w) => w === undefined);
  entries.forEach((entry, i) => {
    const destination = isObject(entry.destination) ? entry.destination : {};
    const host = asString(destination.host) ?? "";
    const d: RouteDestination = {
      service: serviceOfHost(host),
      host,
      // Istio: a single destination takes everything; unset weights among several split evenly.
      weight: allUnset ? 1 : (weights[i] ?? 0),
    };
    const subset = asString(destination.subset);
    if (subset !== undefined) d.subset = subset;
    route.destinations.push(d);
  });

  if (isObject(r.fault)) {
    if (isObject(r.fault.abort)) {
      const status = r.fault.abort.httpStatus;
      route.abort = {
        percent: faultPercent(r.fault.abort),
        httpStatus: typeof status === "number" ? status : 503,
      };
    }
    if (isObject(r.fault.delay)) {
      const ms = durationMs(r.fault.delay.fixedDelay);
      if (ms !== undefined) route.delay = { percent: faultPercent(r.fault.delay), ms };
    }
  }
  if (isObject(r.directResponse) && typeof r.directResponse.status === "number") {
    route.localResponse = r.directResponse.status;
  } else if (isObject(r.redirect)) {
    route.localResponse = typeof r.redirect.redirectCode === "number" ? r.redirect.redirectCode : 301;
  }
  return route;
}

export type KubeObject = {
  metadata: { name: string; resourceVersion?: string; generation?: number; creationTimestamp?: string };
  spec: Record<string, unknown>;
};

export function kubeObject(value: unknown): KubeObject | undefined {
  if (!isObject(value) || !isObject(value.metadata) || !isObject(value.spec)) return undefined;
  const name = asString(value.metadata.name);
  if (name === undefined) return undefined;
  const metadata: KubeObject["metadata"] = { name };
  const rv = asString(value.metadata.resourceVersion);
  if (rv !== undefined) metadata.resourceVersion = rv;
  if (typeof value.metadata.generation === "number") metadata.generation = value.metadata.generation;
  const created = asString(value.metadata.creationTimestamp);
  if (created !== undefined) metadata.creationTimestamp = created;
  return { metadata, spec: value.spec };
}

function appliesToMesh(spec: Record<string, unknown>): boolean {
  const gateways = asArray(spec.gateways);
  return gateways.length === 0 || gateways.includes("mesh");
}

/** Oldest first, then by name: Istio's tie-break when several VirtualServices claim one host for sidecars. */
export function byAge(a: KubeObject, b: KubeObject): number {
  const ta = a.metadata.creationTimestamp ?? "";
  const tb = b.metadata.creationTimestamp ?? "";
  return ta === tb ? a.metadata.name.localeCompare(b.metadata.name) : ta < tb ? -1 : 1;
}

/**
 * Builds the routing table for `services` from the VirtualServices and DestinationRules listed in `namespace`.
 * Objects that are not shaped like Kubernetes objects are skipped.
 */
export function meshRoutes(input: {
  namespace: string;
  services: readonly string[];
  virtualServices: readonly unknown[];
  destinationRules: readonly unknown[];
}): MeshRoutes {
  const { namespace } = input;
  const virtualServices = input.virtualServices
    .map(kubeObject)
    .filter((o) => o !== undefined)
    .sort(byAge);
  const destinationRules = input.destinationRules
    .map(kubeObject)
    .filter((o) => o !== undefined)
    .sort(byAge);

  const subsets: MeshRoutes["subsets"] = {};
  for (const dr of destinationRules) {
    const host = asString(dr.spec.host);
    if (host === undefined) continue;
    const service = serviceOfHost(host);
    if (subsets[service] !== undefined || !hostMatchesService(host, service, namespace)) continue;
    const bySubset: Record<string, Record<string, string>> = {};
    for (const s of asArray(dr.spec.subsets).filter(isObject)) {
      const name = asString(s.name);
      if (name !== undefined) bySubset[name] = stringRecord(s.labels);
    }
    subsets[service] = bySubset;
  }

  const services: MeshRoutes["services"] = {};
  for (const service of input.services) {
    const vs = virtualServices.find(
      (o) =>
        appliesToMesh(o.spec) &&
        asArray(o.spec.hosts).some((h) => typeof h === "string" && hostMatchesService(h, service, namespace)),
    );
    if (vs === undefined) {
      services[service] = { service, http: [] };
      continue;
    }
    const ref: VirtualServiceRef = { name: vs.metadata.name };
    if (vs.metadata.resourceVersion !== undefined) ref.resourceVersion = vs.metadata.resourceVersion;
    if (vs.metadata.generation !== undefined) ref.generation = vs.metadata.generation;
    services[service] = { service, virtualService: ref, http: asArray(vs.spec.http).map(httpRoute) };
  }
  return { namespace, services, subsets };
}

function pickWeighted<T extends { weight: number }>(items: readonly T[], random: Random): T | undefined {
  const total = items.reduce((sum, i) => sum + Math.max(0, i.weight), 0);
  if (total <= 0) return undefined;
  let point = random() * total;
  for (const item of items) {
    point -= Math.max(0, item.weight);
    if (point < 0) return item;
  }
  return items.findLast((i) => i.weight > 0);
}

/** Any pod of the service: subsets weighted equally (one pod per version, as in bookinfo). */
function anySubset(
  service: string,
  subsets: Record<string, Record<string, string>> | undefined,
  random: Random,
): RouteOutcome {
  const names = Object.keys(subsets ?? {});
  if (names.length === 0) return { kind: "upstream", service, labels: {} };
  const subset = names[Math.min(names.length - 1, Math.floor(random() * names.length))] ?? "";
  return { kind: "upstream", service, subset, labels: subsets?.[subset] ?? {} };
}

/** Where one request to `service` goes. */
export function routeRequest(
  routes: MeshRoutes,
  service: string,
  request: RequestAttributes,
  random: Random,
): RouteOutcome {
  const serviceRoutes = routes.services[service];
  if (serviceRoutes?.virtualService === undefined && serviceRoutes?.httpRoute === undefined) {
    return anySubset(service, routes.subsets[service], random);
  }

  const route = serviceRoutes.http.find(
    (r) => r.matches.length === 0 || r.matches.some((m) => matchesBlock(m, request)),
  );
  if (route === undefined) return { kind: "local", service, code: 404, flags: "NR" };
  const named = route.name === undefined ? {} : { route: route.name };

  if (route.abort !== undefined && random() * 100 < route.abort.percent) {
    return { kind: "local", service, code: route.abort.httpStatus, flags: "FI", ...named };
  }
  const delayMs =
    route.delay !== undefined && random() * 100 < route.delay.percent ? route.delay.ms : undefined;
  if (route.localResponse !== undefined) {
    return { kind: "local", service, code: route.localResponse, flags: "-", ...named };
  }

  const destination = pickWeighted(route.destinations, random);
  if (destination === undefined) return { kind: "local", service, code: 503, flags: "NR", ...named };
  const delay = delayMs === undefined ? {} : { delayMs };
  if (destination.subset === undefined) {
    return {
      ...anySubset(destination.service, routes.subsets[destination.service], random),
      ...named,
      ...delay,
    };
  }
  const labels = routes.subsets[destination.service]?.[destination.subset];
  if (labels === undefined) {
    // The subset is not defined by any DestinationRule: Envoy has no such cluster.
    return { kind: "local", service: destination.service, code: 503, flags: "NC", ...named };
  }
  return {
    kind: "upstream",
    service: destination.service,
    subset: destination.subset,
    labels,
    ...named,
    ...delay,
  };
}
