import { describe, expect, it } from "vitest";
import { routeWeights, subsetsFor } from "../../../sandbox/demo/channel-view.ts";
import type { KubeObject } from "../../../sandbox/kube/object-store.ts";

const virtualService = (route: unknown[]): KubeObject => ({
  apiVersion: "networking.istio.io/v1",
  kind: "VirtualService",
  metadata: { name: "reviews", namespace: "default" },
  spec: { hosts: ["reviews"], http: [{ route }] },
});
const rule: KubeObject = {
  apiVersion: "networking.istio.io/v1",
  kind: "DestinationRule",
  metadata: { name: "reviews", namespace: "default" },
  spec: { host: "reviews", subsets: [{ name: "v1" }, { name: "v2" }, { name: "v3" }] },
};

describe("the traffic panel's weights", () => {
  it("lists every subset of the DestinationRule, an unrouted one at 0% and an unweighted one at 100%", () => {
    const vs = virtualService([{ destination: { host: "reviews", subset: "v2" } }]);
    expect(routeWeights(vs, subsetsFor(vs, [rule]))).toEqual([
      {
        name: "#1",
        destinations: [
          { subset: "v1", weight: 0 },
          { subset: "v2", weight: 100 },
          { subset: "v3", weight: 0 },
        ],
      },
    ]);
  });

  it("shows a split as the route has it, without a DestinationRule too", () => {
    const vs = virtualService([
      { destination: { host: "reviews", subset: "v1" }, weight: 90 },
      { destination: { host: "reviews", subset: "v2" }, weight: 10 },
    ]);
    expect(routeWeights(vs, subsetsFor(vs, []))[0]?.destinations).toEqual([
      { subset: "v1", weight: 90 },
      { subset: "v2", weight: 10 },
    ]);
  });
});
