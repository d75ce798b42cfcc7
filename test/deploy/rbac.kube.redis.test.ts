import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import type { KubeSandbox } from "../../sandbox/kube/server.ts";
import { engineHarness, waitFor } from "../support/engine.ts";
import type { EngineHarness } from "../support/engine.ts";
import { MESH_ONLY, meshAndWorkloads } from "../support/two-clusters.ts";
import type { TwoClusters } from "../support/two-clusters.ts";

type Rule = { apiGroups: string[]; resources: string[]; verbs: string[] };

const DEPLOY = resolve(import.meta.dirname, "../../deploy/kubernetes");

/** The rules of the one ClusterRole in `deploy/kubernetes/<file>`. */
function clusterRoleRules(file: "rbac-mesh.yaml" | "rbac-workloads.yaml"): Rule[] {
  const path = join(DEPLOY, file);
  const documents = parseAllDocuments(readFileSync(path, "utf8")).map(
    (document) => document.toJS() as unknown,
  );
  const roles = documents.filter((document) => (document as { kind?: string }).kind === "ClusterRole") as {
    rules: Rule[];
  }[];
  const [role, ...more] = roles;
  if (!role || more.length > 0) throw new Error(`${path} must hold exactly one ClusterRole`);
  return role.rules;
}

/** The RBAC requests a sandbox was asked for. */
function neededOf(kube: KubeSandbox) {
  return kube.requests
    .all()
    .map((request) => rbacRequest(request.method, request.path))
    .filter((request) => request !== undefined);
}

/**
 * Every request is allowed by `rules`, and every permission `rules` grant was used: exactly what the code calls.
 * `unused` names permissions granted for another kind of rollout than the one that made `needed`.
 */
function expectExactly(
  rules: Rule[],
  needed: { group: string; resource: string; verb: string }[],
  unused: string[] = [],
): void {
  expect(needed.length).toBeGreaterThan(0);
  for (const request of needed) {
    const allowed = rules.some(
      (rule) =>
        rule.apiGroups.includes(request.group) &&
        rule.resources.includes(request.resource) &&
        rule.verbs.includes(request.verb),
    );
    expect(allowed, `${request.verb} ${request.group}/${request.resource}`).toBe(true);
  }
  const used = new Set(needed.map((request) => `${request.verb} ${request.group}/${request.resource}`));
  const granted = rules.flatMap((rule) =>
    rule.apiGroups.flatMap((group) =>
      rule.resources.flatMap((resource) => rule.verbs.map((verb) => `${verb} ${group}/${resource}`)),
    ),
  );
  expect(granted.filter((permission) => !used.has(permission))).toEqual(unused);
}

const VIRTUAL_SERVICE_START = ["reviews", "--canary", "v2"];
const HTTP_ROUTE_START = ["reviews", "--http-route", "reviews", "--canary", "reviews-v2"];

/** Preflight, the header stage's ticks (each looks at the pods), an approval, a gate, and a rollback. */
async function everyKindOfRequest(h: EngineHarness, start = VIRTUAL_SERVICE_START): Promise<void> {
  await h.worker();
  const id = await h.start(
    ...start,
    "--steps",
    "10,50,100",
    "--approve-at",
    "50",
    "--interval",
    "200ms",
    "--header",
    "qa=canary-test",
    "--as",
    "alice",
  );
  const runtime = h.runtime();
  await waitFor("a tick to look at the canary's pods", async () =>
    (await runtime.store.get(id))?.pods ? true : undefined,
  );
  expect((await h.cli("approve", id, "--as", "bob")).code).toBe(0);
  expect((await h.cli("rollback", id, "--as", "bob")).code).toBe(0);
  await waitFor("rolled back", async () =>
    (await h.cli("status", id)).stdout.includes("rolled-back") ? true : undefined,
  );
}

/** "GET /apis/networking.istio.io/v1/namespaces/default/virtualservices/reviews" → the RBAC request it needs. */
function rbacRequest(
  method: string,
  path: string,
): { group: string; resource: string; verb: string } | undefined {
  const match = /^\/(?:api\/v1|apis\/([^/]+)\/[^/]+)\/(?:namespaces\/[^/]+\/)?([^/?]+)(?:\/([^/?]+))?/.exec(
    path,
  );
  if (!match?.[2]) return undefined; // discovery, which every authenticated client may read
  const named = match[3] !== undefined;
  const verbs: Record<string, string> = {
    GET: named ? "get" : "list",
    PATCH: "patch",
    PUT: "update",
    POST: "create",
    DELETE: "delete",
  };
  return { group: match[1] ?? "", resource: match[2], verb: verbs[method] ?? method };
}

describe("deploy/kubernetes/rbac-mesh.yaml and rbac-workloads.yaml", () => {
  let h: EngineHarness | undefined;
  let gatewayApi: EngineHarness | undefined;
  let clusters: TwoClusters | undefined;
  let dir: string | undefined;
  beforeEach(() => {
    [h, gatewayApi, clusters, dir] = [undefined, undefined, undefined, undefined];
  });
  afterEach(async () => {
    await h?.cleanup();
    await gatewayApi?.cleanup();
    await clusters?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("allow, in one cluster, every request a VirtualService or an HTTPRoute rollout makes, from preflight to rollback, and no write beyond patching those", async () => {
    const one = (h = await engineHarness("rbac"));
    await everyKindOfRequest(one);
    const routes = (gatewayApi = await engineHarness("rbac-gateway-api", {
      scenario: "bookinfo-gateway-api",
    }));
    await everyKindOfRequest(routes, HTTP_ROUTE_START);
    const needed = [...neededOf(one.kube), ...neededOf(routes.kube)];
    expectExactly(
      [...clusterRoleRules("rbac-mesh.yaml"), ...clusterRoleRules("rbac-workloads.yaml")],
      needed,
    );
    const writes = new Set(
      needed
        .filter((request) => !["get", "list"].includes(request.verb))
        .map((r) => `${r.verb} ${r.resource}`),
    );
    expect([...writes]).toEqual(["patch virtualservices", "patch httproutes"]);
  });

  it("split across a mesh cluster and a workload cluster, each grant exactly what is asked of its cluster", async () => {
    const two = (h = await engineHarness("rbac-two", MESH_ONLY));
    dir = await mkdtemp(join(tmpdir(), "canarybot-rbac-"));
    const { mesh, workloads } = (clusters = await meshAndWorkloads(two, dir));
    await everyKindOfRequest(two);
    // The HTTPRoute rules are for `router: httproute`; the one-cluster case above shows them used.
    expectExactly(clusterRoleRules("rbac-mesh.yaml"), neededOf(mesh), [
      "get gateway.networking.k8s.io/httproutes",
      "patch gateway.networking.k8s.io/httproutes",
    ]);
    expectExactly(clusterRoleRules("rbac-workloads.yaml"), neededOf(workloads));
  });
});
