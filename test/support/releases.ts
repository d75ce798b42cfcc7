import { PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import { workloadObjects, type KubeSandbox } from "../../sandbox/kube/index.ts";
import { kubeClients } from "./kube-sandbox.ts";

/** `spec.http` of the reviews VirtualService as a person writes "all traffic to `subset`". */
export function allTrafficTo(subset: string): unknown[] {
  return [{ route: [{ destination: { host: "reviews", subset } }] }];
}

/** The reviews route exactly as stored, for byte-for-byte comparisons. */
export function reviewsHttp(kube: KubeSandbox): string {
  const spec = kube.get("VirtualService", "default", "reviews")?.spec as { http?: unknown } | undefined;
  return JSON.stringify(spec?.http);
}

/**
 * Make reviews v4 shippable, as a team does: the DestinationRule gets a v4 subset through the real client (a JSON
 * patch, like `kubectl patch --type json`), and a Deployment reviews-v4 whose pod the cluster reports ready (the
 * sandbox's controllers are the test: no client can write a Deployment's status).
 */
export async function addReviewsV4(kube: KubeSandbox): Promise<void> {
  const { custom } = kubeClients(kube);
  await custom.patchNamespacedCustomObject(
    {
      group: "networking.istio.io",
      version: "v1",
      namespace: "default",
      plural: "destinationrules",
      name: "reviews",
      body: [{ op: "add", path: "/spec/subsets/-", value: { name: "v4", labels: { version: "v4" } } }],
    },
    setHeaderOptions("Content-Type", PatchStrategy.JsonPatch),
  );
  kube.seed(workloadObjects({ app: "reviews", version: "v4" }));
}
