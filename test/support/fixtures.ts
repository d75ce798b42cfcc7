import { existsSync, readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { SANDBOX_FIXTURES_DIR } from "../../sandbox/kube/fixtures.ts";

/**
 * Upstream files the tests read, copied into the repository with their origin and licence (the README beside
 * them), in the layout of the collection they came from: test-only files under test/fixtures/, the files the
 * Kubernetes sandbox serves under sandbox/kube/fixtures/. Both are read through here.
 */
const ROOTS = [fileURLToPath(new URL("../fixtures/", import.meta.url)), SANDBOX_FIXTURES_DIR];

/** A fixture file or folder, e.g. `prometheus/index.json` or `slack/requests`. */
export function fixturePath(relativePath: string): string {
  const found = ROOTS.map((root) => join(root, relativePath)).find((path) => existsSync(path));
  if (found === undefined) {
    throw new Error(`no fixture ${relativePath} in test/fixtures/ or sandbox/kube/fixtures/`);
  }
  return found;
}

/** A path inside the Istio fixtures, e.g. `samples/bookinfo-networking/virtual-service-reviews-90-10.yaml`. */
export function istioFixturePath(relativePath: string): string {
  return fixturePath(join("istio", relativePath));
}

/** Every file under a fixture folder, in either place, relative to that folder. */
export function fixtureFiles(folder: string): string[] {
  return ROOTS.map((root) => join(root, folder))
    .filter((path) => existsSync(path))
    .flatMap((path) =>
      readdirSync(path, { recursive: true, withFileTypes: true })
        .filter((entry) => entry.isFile())
        .map((entry) => relative(path, join(entry.parentPath, entry.name))),
    )
    .sort();
}
