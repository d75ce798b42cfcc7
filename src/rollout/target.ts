import type { ClusterRef, Target } from "./types.ts";

/**
 * One live rollout per route object: the claim key names the cluster (its API server, so that two kubeconfigs'
 * names for one cluster share a claim and one name for two clusters does not), the namespace and the object; an
 * HTTPRoute's name is marked, so that it never shares a claim with a VirtualService of the same name.
 */
export function targetKey(
  target: Pick<Target, "context" | "meshContext" | "namespace" | "virtualService" | "router">,
  cluster: ClusterRef | undefined,
): string {
  const object = target.router === "httproute" ? `httproute:${target.virtualService}` : target.virtualService;
  return `${cluster?.server ?? meshContextOf(target) ?? "~"}/${target.namespace}/${object}`;
}

/**
 * The kubeconfig context of the cluster whose route object a rollout moves: the mesh's when it has one of its
 * own, else the workloads'. A rollout belongs to that cluster (its claim and `cluster` name it).
 */
export function meshContextOf(target: Pick<Target, "context" | "meshContext">): string | undefined {
  return target.meshContext ?? target.context;
}
