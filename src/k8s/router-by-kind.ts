import type { KubeConfig } from "@kubernetes/client-node";
import type {
  PodHealthProbe,
  RouteExpectation,
  RouteReads,
  TargetInspection,
  TrafficRouter,
} from "../rollout/ports.ts";
import type { HeaderMatch, PodHealth, RouterKind, Target } from "../rollout/types.ts";
import { GatewayHttpRouteRouter } from "./gateway-http-route-router.ts";
import { IstioVirtualServiceRouter } from "./istio-virtual-service-router.ts";
import type { RouterOptions } from "./kube-operations.ts";

type ClosableRouter = TrafficRouter & PodHealthProbe & { close(): Promise<void> };

/**
 * The router each target names (`target.router`, Istio when absent), behind one `TrafficRouter`; each router
 * watches the pods of its own kind of subset.
 */
export class RouterByKind implements TrafficRouter, PodHealthProbe {
  readonly #routers: Record<RouterKind, ClosableRouter>;

  constructor(routers: Record<RouterKind, ClosableRouter>) {
    this.#routers = routers;
  }

  #for(target: Pick<Target, "router">): ClosableRouter {
    return this.#routers[target.router ?? "istio"];
  }

  inspect(target: Target, reads?: RouteReads): Promise<TargetInspection> {
    return this.#for(target).inspect(target, reads);
  }

  setWeights(
    target: Target,
    desired: { canaryWeight: number; headerMatch?: HeaderMatch; headerRouteActive: boolean },
    expected: RouteExpectation,
    reads?: RouteReads,
  ): Promise<void> {
    return this.#for(target).setWeights(target, desired, expected, reads);
  }

  restore(target: Target, baseline: unknown, reads?: RouteReads): Promise<void> {
    return this.#for(target).restore(target, baseline, reads);
  }

  prefetch(target: Target, reads: RouteReads): void {
    this.#for(target).prefetch(target, reads);
  }

  currentSubset(target: Omit<Target, "stableSubset" | "canarySubset">): Promise<string> {
    return this.#for(target).currentSubset(target);
  }

  describeChange(
    target: Target,
    desired: { canaryWeight: number; headerMatch?: HeaderMatch },
  ): Promise<string> {
    return this.#for(target).describeChange(target, desired);
  }

  observe(target: Target, subsetLabels: Record<string, string>): Promise<PodHealth> {
    return this.#for(target).observe(target, subsetLabels);
  }

  async close(): Promise<void> {
    await Promise.all(Object.values(this.#routers).map((router) => router.close()));
  }
}

/** Every router canarybot has, on one kubeconfig. */
export function kubernetesRouter(kubeConfig: KubeConfig, options: RouterOptions = {}): RouterByKind {
  return new RouterByKind({
    istio: new IstioVirtualServiceRouter(kubeConfig, options),
    httproute: new GatewayHttpRouteRouter(kubeConfig, options),
  });
}
