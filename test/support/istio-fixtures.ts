import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";
import type { Target } from "../../src/rollout/types.ts";
import { istioFixturePath } from "./fixtures.ts";

/** Every document of an Istio fixture file (path relative to fixtures/istio/), empty documents skipped. */
export function istioDocuments(relativePath: string): Record<string, unknown>[] {
  const text = readFileSync(istioFixturePath(relativePath), "utf8");
  return parseAllDocuments(text)
    .map((document) => document.toJS() as unknown)
    .filter((value): value is Record<string, unknown> => typeof value === "object" && value !== null);
}

/**
 * One object of a fixture file (by kind and name), as the API server would return it: with a namespace
 * (kept if the fixture has one) and a resourceVersion.
 */
export type KubeFixture = {
  apiVersion: string;
  kind: string;
  metadata: Record<string, unknown> & { name: string; namespace: string; resourceVersion: string };
  spec: Record<string, unknown>;
};

export function istioObject(
  relativePath: string,
  kind: string,
  name: string,
  resourceVersion = "1",
): KubeFixture {
  const found = istioDocuments(relativePath).find((document) => {
    const metadata = document.metadata as { name?: string } | undefined;
    return document.kind === kind && metadata?.name === name;
  });
  if (!found) throw new Error(`${relativePath} has no ${kind} ${name}`);
  const metadata = found.metadata as Record<string, unknown>;
  return { ...found, metadata: { namespace: "default", ...metadata, resourceVersion } } as KubeFixture;
}

export const BOOKINFO = "samples/bookinfo-networking/";

/** The bookinfo reviews target: v1 is stable, v2 the canary. */
export function reviewsTarget(overrides: Partial<Target> = {}): Target {
  return {
    namespace: "default",
    service: "reviews",
    virtualService: "reviews",
    host: "reviews",
    stableSubset: "v1",
    canarySubset: "v2",
    ...overrides,
  };
}
