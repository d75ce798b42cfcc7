import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";

// The upstream fixtures live in shared/ beside the project root, on every developer's machine and in CI.
const ISTIO_FIXTURES_DIR = fileURLToPath(new URL("../../../../shared/fixtures/istio/", import.meta.url));

/** A path inside shared/fixtures/istio/, e.g. `samples/bookinfo-networking/destination-rule-all.yaml`. */
export function istioFixturePath(relativePath: string): string {
  return ISTIO_FIXTURES_DIR + relativePath;
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
