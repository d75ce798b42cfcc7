import {
  asArray,
  asString,
  byAge,
  isObject,
  kubeObject,
  stringRecord,
  type HttpRoute,
  type MeshRoutes,
  type RouteDestination,
  type StringMatch,
  type VirtualServiceRef,
} from "./traffic-routing.ts";

/**
 * Gateway API mesh (GAMMA) routing, the part the simulator needs: an HTTPRoute whose `parentRefs` name a Service
 * routes the traffic to that Service. Its rules become the simulator's routes, one per match, ordered by Gateway
 * API's precedence (exact path, then the longest prefix, then method, then the most header matches; ties keep
 * rule order); each backendRef is a destination whose "subset" is the backend Service, with that Service's
 * selector as its pod labels. Pure: the live objects come in as arguments.
 *
 * Supported: path (Exact, PathPrefix as a string prefix, RegularExpression), headers (Exact, RegularExpression),
 * method. A match using queryParams never matches, so an unsupported rule is visible instead of catching traffic.
 */

type Precedence = { exact: number; prefix: number; method: number; headers: number };

/** The Service parents an HTTPRoute attaches to in `namespace`. */
function serviceParents(spec: Record<string, unknown>, namespace: string): string[] {
  return asArray(spec.parentRefs)
    .filter(isObject)
    .filter((ref) => (ref.group ?? "") === "" && ref.kind === "Service")
    .filter((ref) => (asString(ref.namespace) ?? namespace) === namespace)
    .map((ref) => asString(ref.name))
    .filter((name): name is string => name !== undefined);
}

function pathMatch(value: unknown): { uri: StringMatch; exact: boolean; prefix: number } {
  const path = isObject(value) ? value : {};
  const text = asString(path.value) ?? "/";
  switch (path.type) {
    case "Exact":
      return { uri: { exact: text }, exact: true, prefix: text.length };
    case "RegularExpression":
      return { uri: { regex: text }, exact: false, prefix: 0 };
    default:
      return { uri: { prefix: text }, exact: false, prefix: text.length };
  }
}

function headerMatch(value: unknown): [string, StringMatch] | undefined {
  if (!isObject(value)) return undefined;
  const name = asString(value.name);
  const text = asString(value.value);
  if (name === undefined || text === undefined) return undefined;
  return [name.toLowerCase(), value.type === "RegularExpression" ? { regex: text } : { exact: text }];
}

/** One rule's routes, one per match (a rule without matches matches every path). */
function ruleRoutes(
  rule: Record<string, unknown>,
  service: string,
): { route: HttpRoute; precedence: Precedence }[] {
  const destinations: RouteDestination[] = asArray(rule.backendRefs)
    .filter(isObject)
    .filter((ref) => (ref.group ?? "") === "" && (ref.kind ?? "Service") === "Service")
    .map((ref) => {
      const backend = asString(ref.name) ?? "";
      return {
        service,
        host: backend,
        subset: backend,
        weight: typeof ref.weight === "number" ? ref.weight : 1,
      };
    });
  const name = asString(rule.name);
  const matches = asArray(rule.matches).filter(isObject);
  return (matches.length > 0 ? matches : [{}]).map((match) => {
    const path = pathMatch(match.path);
    const headers = asArray(match.headers)
      .map(headerMatch)
      .filter((entry) => entry !== undefined);
    const method = asString(match.method);
    const route: HttpRoute = {
      matches: [
        {
          headers,
          withoutHeaders: [],
          uri: path.uri,
          ...(method === undefined ? {} : { method: { exact: method } }),
          ...(match.queryParams === undefined ? {} : { unsupported: "queryParams" }),
        },
      ],
      destinations,
      ...(name === undefined ? {} : { name }),
    };
    return {
      route,
      precedence: {
        exact: path.exact ? 1 : 0,
        prefix: path.prefix,
        method: method === undefined ? 0 : 1,
        headers: headers.length,
      },
    };
  });
}

function byPrecedence(a: Precedence, b: Precedence): number {
  return b.exact - a.exact || b.prefix - a.prefix || b.method - a.method || b.headers - a.headers;
}

/**
 * `routes` (from `meshRoutes`) with the HTTPRoutes attached to the services no VirtualService routes: their rules
 * as routes, and the backend Services' selectors as their subsets. The oldest HTTPRoute wins a service.
 */
export function withGatewayApiRoutes(
  routes: MeshRoutes,
  input: { httpRoutes: readonly unknown[]; kubeServices: readonly unknown[] },
): MeshRoutes {
  const { namespace } = routes;
  const selectors = new Map(
    input.kubeServices
      .filter(isObject)
      .map((service) => kubeObject(service))
      .filter((service) => service !== undefined)
      .map((service) => [service.metadata.name, stringRecord(service.spec.selector)] as const),
  );
  const httpRoutes = input.httpRoutes
    .map(kubeObject)
    .filter((route) => route !== undefined)
    .sort(byAge);
  const services = { ...routes.services };
  const subsets = { ...routes.subsets };
  for (const [service, current] of Object.entries(routes.services)) {
    if (current.virtualService !== undefined) continue;
    const route = httpRoutes.find((candidate) => serviceParents(candidate.spec, namespace).includes(service));
    if (route === undefined) continue;
    const ref: VirtualServiceRef = { name: route.metadata.name };
    if (route.metadata.resourceVersion !== undefined) ref.resourceVersion = route.metadata.resourceVersion;
    if (route.metadata.generation !== undefined) ref.generation = route.metadata.generation;
    const ranked = asArray(route.spec.rules)
      .filter(isObject)
      .flatMap((rule) => ruleRoutes(rule, service))
      .map((entry, order) => ({ ...entry, order }))
      .sort((a, b) => byPrecedence(a.precedence, b.precedence) || a.order - b.order);
    services[service] = { service, httpRoute: ref, http: ranked.map((entry) => entry.route) };
    const backends = new Set(ranked.flatMap((entry) => entry.route.destinations.map((d) => d.host)));
    subsets[service] = Object.fromEntries(
      [...backends].flatMap((backend) => {
        const selector = selectors.get(backend);
        return selector === undefined ? [] : [[backend, selector]];
      }),
    );
  }
  return { namespace, services, subsets };
}
