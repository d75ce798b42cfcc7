import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";

/**
 * The upstream files the sandbox serves (Istio's and Gateway API's CRDs) and seeds (bookinfo), copied into the repository with
 * their origin and licence (fixtures/README.md), in the layout of the collection they came from.
 */
export const SANDBOX_FIXTURES_DIR = fileURLToPath(new URL("./fixtures/", import.meta.url));

/** A path inside fixtures/istio/, e.g. `samples/bookinfo-networking/destination-rule-all.yaml`. */
export function istioFixturePath(relativePath: string): string {
  return `${SANDBOX_FIXTURES_DIR}istio/${relativePath}`;
}

/** A path inside fixtures/gateway-api/, e.g. `httproute.crd.json`. */
export function gatewayApiFixturePath(relativePath: string): string {
  return `${SANDBOX_FIXTURES_DIR}gateway-api/${relativePath}`;
}

/** Every document of a (multi-document) YAML manifest file, empty documents skipped. */
export function readManifests(path: string): unknown[] {
  return parseAllDocuments(readFileSync(path, "utf8")).flatMap((document) => {
    if (document.errors.length > 0) {
      throw new Error(`${path}: ${document.errors.map((error) => error.message).join("; ")}`);
    }
    const value: unknown = document.toJS();
    return value === null || value === undefined ? [] : [value];
  });
}
