import { workloadObjects } from "../../sandbox/kube/scenarios.ts";
import type { StartRequest } from "../../src/rollout/types.ts";
import type { Runtime } from "../../src/runtime.ts";
import { waitFor } from "./engine.ts";

/** A service with a VirtualService all on v1, a DestinationRule with v1/v2, and a ready Deployment per subset. */
export function meshService(name: string): unknown[] {
  return [
    {
      apiVersion: "networking.istio.io/v1",
      kind: "VirtualService",
      metadata: { name, namespace: "default" },
      spec: { hosts: [name], http: [{ route: [{ destination: { host: name, subset: "v1" } }] }] },
    },
    {
      apiVersion: "networking.istio.io/v1",
      kind: "DestinationRule",
      metadata: { name, namespace: "default" },
      spec: {
        host: name,
        subsets: [
          { name: "v1", labels: { version: "v1" } },
          { name: "v2", labels: { version: "v2" } },
        ],
      },
    },
    ...workloadObjects({ app: name, version: "v1" }),
    ...workloadObjects({ app: name, version: "v2" }),
  ];
}

/** A start of one `meshService` from v1 to v2 on `steps` every `intervalMs`, with no gates. */
export function meshStartRequest(
  service: string,
  steps: number[],
  intervalMs: number,
  by: Pick<StartRequest, "by" | "report"> = { by: "cli:alice" },
): StartRequest {
  return {
    target: { namespace: "default", service, virtualService: service, host: service, canarySubset: "v2" },
    plan: { steps, intervalMs, approvalGates: [], twoPersonRule: false },
    ...by,
  };
}

/**
 * Starts a rollout of each service on `steps` and resolves with their ids once every one has written at least
 * `weight` to its route, so that a fault injected next lands in the middle of every run.
 */
export async function startedPast(
  runtime: Runtime,
  services: string[],
  steps: number[],
  intervalMs: number,
  weight: number,
): Promise<string[]> {
  const ids: string[] = [];
  for (const service of services)
    ids.push((await runtime.service.start(meshStartRequest(service, steps, intervalMs))).id);
  await waitFor(`every rollout at ${weight}%`, async () => {
    const rollouts = await Promise.all(ids.map((id) => runtime.store.get(id)));
    return rollouts.every((rollout) => (rollout?.appliedWeight ?? 0) >= weight) ? true : undefined;
  });
  return ids;
}
