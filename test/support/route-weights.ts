import type { KubeSandbox } from "../../sandbox/kube/server.ts";

type Destination = { destination?: { subset?: string }; weight?: number };
type HttpRoute = { name?: string; route?: Destination[] };

/**
 * "v1=90,v2=10": the weights of the HTTP route that sends to `stable`, as a person would read them; once promoted
 * ("v2=100") the route no longer sends to `stable`, so with `canary` given the route that sends to it is read
 * (canarybot's header route aside).
 */
export function routeWeights(virtualService: unknown, stable: string, canary?: string): string | undefined {
  const http = (virtualService as { spec?: { http?: HttpRoute[] } } | undefined)?.spec?.http ?? [];
  const sendsTo = (subset: string | undefined) => (candidate: HttpRoute) =>
    !candidate.name?.startsWith("canarybot-header-") &&
    (candidate.route ?? []).some((destination) => destination.destination?.subset === subset);
  const route = http.find(sendsTo(stable)) ?? (canary === undefined ? undefined : http.find(sendsTo(canary)));
  if (!route) return undefined;
  const destinations = route.route ?? [];
  return destinations
    .map((destination) => {
      const weight = destination.weight ?? (destinations.length === 1 ? 100 : 0);
      return `${destination.destination?.subset ?? "?"}=${weight}`;
    })
    .join(",");
}

/**
 * Every state a VirtualService's managed route goes through, read from the sandbox's store every few ms. A step
 * lasts far longer than the poll, so none is missed; consecutive equal readings collapse into one.
 */
export function recordWeights(
  kube: KubeSandbox,
  namespace: string,
  name: string,
  stable: string,
  canary?: string,
) {
  const sequence: string[] = [];
  const read = (): void => {
    const weights = routeWeights(kube.get("VirtualService", namespace, name), stable, canary) ?? "none";
    if (sequence[sequence.length - 1] !== weights) sequence.push(weights);
  };
  read();
  const timer = setInterval(read, 5);
  return {
    sequence,
    stop(): string[] {
      clearInterval(timer);
      read();
      return sequence;
    },
  };
}
