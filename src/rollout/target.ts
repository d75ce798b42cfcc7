import type { ClusterRef, Target } from "./types.ts";

/**
 * One live rollout per VirtualService: the claim key names the cluster (its API server, so that two kubeconfigs'
 * names for one cluster share a claim and one name for two clusters does not), the namespace and the object.
 */
export function targetKey(
  target: Pick<Target, "context" | "meshContext" | "namespace" | "virtualService">,
  cluster: ClusterRef | undefined,
): string {
  return `${cluster?.server ?? meshContextOf(target) ?? "~"}/${target.namespace}/${target.virtualService}`;
}

/**
 * The kubeconfig context of the cluster whose VirtualService a rollout moves: the mesh's when it has one of its
 * own, else the workloads'. A rollout belongs to that cluster (its claim and `cluster` name it).
 */
export function meshContextOf(target: Pick<Target, "context" | "meshContext">): string | undefined {
  return target.meshContext ?? target.context;
}
