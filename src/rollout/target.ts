import type { ClusterRef, Target } from "./types.ts";

/**
 * One live rollout per VirtualService: the claim key names the cluster (its API server, so that two kubeconfigs'
 * names for one cluster share a claim and one name for two clusters does not), the namespace and the object.
 */
export function targetKey(
  target: Pick<Target, "context" | "namespace" | "virtualService">,
  cluster: ClusterRef | undefined,
): string {
  return `${cluster?.server ?? target.context ?? "~"}/${target.namespace}/${target.virtualService}`;
}
