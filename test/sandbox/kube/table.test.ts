import { describe, expect, it } from "vitest";
import { humanDuration, toTable, wantsTable } from "../../../sandbox/kube/table.ts";
import { servedResources } from "../../../sandbox/kube/resources.ts";
import type { KubeObject } from "../../../sandbox/kube/object-store.ts";

const [virtualServices] = servedResources(["v1"]).filter((resource) => resource.kind === "VirtualService");
const NOW = new Date("2026-01-01T12:00:00Z");
const reviews: KubeObject = {
  apiVersion: "networking.istio.io/v1",
  kind: "VirtualService",
  metadata: { name: "reviews", namespace: "default", creationTimestamp: "2026-01-01T11:55:30Z" },
  spec: { hosts: ["reviews"], gateways: ["mesh"] },
};

describe("kubectl get's Table", () => {
  it.each([
    [-5_000, "<invalid>"],
    [0, "0s"],
    [119_000, "119s"],
    [270_000, "4m30s"],
    [600_000, "10m"],
    [3 * 3_600_000 + 5 * 60_000, "3h5m"],
    [30 * 3_600_000, "30h"],
    [3 * 86_400_000 + 4 * 3_600_000, "3d4h"],
    [400 * 86_400_000, "400d"],
    [3 * 365 * 86_400_000 + 10 * 86_400_000, "3y10d"],
  ])("ages %d ms as %s, as apimachinery's HumanDuration does", (ms, text) => {
    expect(humanDuration(ms)).toBe(text);
  });

  it("is what kubectl asks for in Accept", () => {
    expect(wantsTable("application/json;as=Table;v=v1;g=meta.k8s.io,application/json")).toBe(true);
    expect(wantsTable("application/json")).toBe(false);
  });

  it("has the CRD's printer columns with their cells, and the object's metadata", () => {
    const table = toTable(virtualServices!, "v1", [reviews], {
      resourceVersion: "7",
      include: "Metadata",
      now: NOW,
    });
    expect(table).toMatchObject({
      kind: "Table",
      apiVersion: "meta.k8s.io/v1",
      metadata: { resourceVersion: "7" },
      rows: [
        {
          cells: ["reviews", '["mesh"]', '["reviews"]', "4m30s"],
          object: { kind: "PartialObjectMetadata", metadata: { name: "reviews" } },
        },
      ],
    });
    expect((table.columnDefinitions as { name: string }[]).map((column) => column.name)).toEqual([
      "Name",
      "Gateways",
      "Hosts",
      "Age",
    ]);
  });
});
