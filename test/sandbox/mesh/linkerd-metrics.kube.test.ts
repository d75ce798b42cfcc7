import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isSandboxError } from "../../../sandbox/errors.ts";
import { startKubeSandbox } from "../../../sandbox/kube/index.ts";
import type { KubeSandbox } from "../../../sandbox/kube/index.ts";
import { LINKERD_LATENCY_BUCKETS_MS, meshOptionsFromFlags } from "../../../sandbox/mesh/index.ts";
import type { MeshSandbox } from "../../../sandbox/mesh/index.ts";
import { bucketsOf, parseExposition, sumOf } from "./exposition.ts";
import type { Sample } from "./exposition.ts";
import { meshOn } from "../../support/kube-sandbox.ts";

// The mesh sandbox serving the Linkerd proxy's metrics, on routes read from the kube sandbox over HTTPS.

const NS = "default";
const INBOUND = { direction: "inbound", namespace: NS };

let kube: KubeSandbox;
let sandbox: MeshSandbox | undefined;

beforeEach(async () => {
  kube = await startKubeSandbox({ scenario: "bookinfo" });
  // reviews: 80 % v1, 20 % v2.
  kube.put({
    apiVersion: "networking.istio.io/v1",
    kind: "VirtualService",
    metadata: { name: "reviews", namespace: NS },
    spec: {
      hosts: ["reviews"],
      http: [
        {
          route: [
            { destination: { host: "reviews", subset: "v1" }, weight: 80 },
            { destination: { host: "reviews", subset: "v2" }, weight: 20 },
          ],
        },
      ],
    },
  });
});

afterEach(async () => {
  await sandbox?.close();
  await kube.close();
});

async function linkerdMesh(): Promise<Sample[]> {
  sandbox = await meshOn(kube, {
    namespace: NS,
    services: ["reviews"],
    autoAdvance: false,
    seed: 7,
    rps: 1_000,
    metrics: "linkerd",
    subsets: { v2: { errorRate: 0.1 } },
  });
  sandbox.advance(2_000);
  return parseExposition(await (await fetch(sandbox.metricsUrl)).text());
}

describe("mesh sandbox with Linkerd metrics", () => {
  it("serves response_total by Deployment as the server-side proxy reports it, success and failure apart", async () => {
    const samples = await linkerdMesh();
    expect(samples.some((s) => s.name.startsWith("istio_"))).toBe(false);

    const inbound = (deployment: string, classification?: string) =>
      sumOf(samples, "response_total", {
        ...INBOUND,
        deployment,
        ...(classification ? { classification } : {}),
      });
    expect(inbound("reviews-v1") + inbound("reviews-v2")).toBe(2_000);
    expect(inbound("reviews-v2") / 2_000).toBeCloseTo(0.2, 1);
    expect(inbound("reviews-v1", "failure")).toBe(0);
    expect(inbound("reviews-v2", "failure") / inbound("reviews-v2")).toBeCloseTo(0.1, 1);
    // A failure is a 5xx; the request counter carries no response labels.
    for (const s of samples.filter(
      (s) => s.name === "response_total" && s.labels.classification === "failure",
    )) {
      expect(s.labels.status_code).toMatch(/^5\d\d$/);
    }
    expect(sumOf(samples, "request_total", { ...INBOUND, deployment: "reviews-v2" })).toBe(
      inbound("reviews-v2"),
    );

    const v2 = samples.find((s) => s.name === "response_total" && s.labels.deployment === "reviews-v2");
    // The pod is the one the Kubernetes sandbox runs for reviews-v2.
    const pod = kube.list("Pod", NS).find((p) => p.metadata.name.startsWith("reviews-v2-"));
    expect(v2?.labels).toMatchObject({
      direction: "inbound",
      authority: "reviews.default.svc.cluster.local:9080",
      tls: "true",
      client_id: "bookinfo-productpage.default.serviceaccount.identity.linkerd.cluster.local",
      namespace: NS,
      deployment: "reviews-v2",
      pod: pod?.metadata.name,
      serviceaccount: "bookinfo-reviews",
      control_plane_ns: "linkerd",
      status_code: "200",
      classification: "success",
    });
  });

  it("reports the client's view as outbound, from productpage's pod, with the dst_ labels", async () => {
    const samples = await linkerdMesh();
    const outbound = samples.filter((s) => s.name === "response_total" && s.labels.direction === "outbound");
    expect(outbound.length).toBeGreaterThan(0);
    for (const s of outbound) {
      expect(s.labels.deployment).toBe("productpage-v1");
      expect(s.labels.dst_deployment).toMatch(/^reviews-v[12]$/);
    }
    expect(sumOf(samples, "response_total", { direction: "outbound" })).toBe(2_000);
  });

  it("observes latency in the proxy's buckets, in milliseconds, without the classification label", async () => {
    const samples = await linkerdMesh();
    const buckets = bucketsOf(samples, "response_latency_ms", { ...INBOUND, deployment: "reviews-v1" });
    expect([...buckets.keys()]).toEqual([...LINKERD_LATENCY_BUCKETS_MS.map(String), "+Inf"]);
    // Default latency: 20 ms median, 80 ms p99.
    expect((buckets.get("20") ?? 0) / (buckets.get("+Inf") ?? 1)).toBeCloseTo(0.5, 1);
    expect(
      samples
        .filter((s) => s.name === "response_latency_ms_bucket")
        .every((s) => !("classification" in s.labels)),
    ).toBe(true);
  });

  it("takes the flavour from the CLI's --metrics, refusing one it does not know", () => {
    expect(meshOptionsFromFlags({ metrics: "linkerd" }).metrics).toBe("linkerd");
    expect(meshOptionsFromFlags({}).metrics).toBeUndefined();
    let caught: unknown;
    try {
      meshOptionsFromFlags({ metrics: "consul" });
    } catch (error) {
      caught = error;
    }
    expect(isSandboxError(caught) && caught.exitCode === 1).toBe(true);
    expect((caught as Error).message).toBe("--metrics consul: expected istio or linkerd");
  });
});
