import { workloadObjects } from "../../sandbox/kube/scenarios.ts";

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
