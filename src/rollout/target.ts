import type { Target } from "./types.ts";

/** One live rollout per VirtualService: the claim key names the cluster context, namespace and object. */
export function targetKey(target: Pick<Target, "context" | "namespace" | "virtualService">): string {
  return `${target.context ?? "~"}/${target.namespace}/${target.virtualService}`;
}
