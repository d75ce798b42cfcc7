import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { engineHarness, waitFor } from "../support/engine.ts";
import type { EngineHarness } from "../support/engine.ts";

type Rule = { apiGroups: string[]; resources: string[]; verbs: string[] };

const RBAC = resolve(import.meta.dirname, "../../deploy/kubernetes/rbac.yaml");

function clusterRoleRules(): Rule[] {
  const documents = parseAllDocuments(readFileSync(RBAC, "utf8")).map(
    (document) => document.toJS() as unknown,
  );
  const role = documents.find((document) => (document as { kind?: string }).kind === "ClusterRole") as
    { rules: Rule[] } | undefined;
  if (!role) throw new Error(`${RBAC} has no ClusterRole`);
  return role.rules;
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

type RbacRequest = { group: string; resource: string; verb: string };

/** Every request one rollout makes, from preflight through a header stage and a step to a rollback. */
async function rolloutRequests(h: EngineHarness, startArgs: string[]): Promise<RbacRequest[]> {
  await h.worker();
  const id = await h.start(
    ...startArgs,
    "--steps",
    "10,50,100",
    "--interval",
    "1h",
    "--header",
    "qa=canary-test",
    "--as",
    "alice",
  );
  expect((await h.cli("approve", id, "--as", "bob")).code).toBe(0);
  expect((await h.cli("rollback", id, "--as", "bob")).code).toBe(0);
  await waitFor("rolled back", async () =>
    (await h.cli("status", id)).stdout.includes("rolled-back") ? true : undefined,
  );
  return h.kube.requests
    .all()
    .map((request) => rbacRequest(request.method, request.path))
    .filter((request) => request !== undefined);
}

describe("deploy/kubernetes/rbac.yaml", () => {
  const harnesses: EngineHarness[] = [];
  const harness = async (...args: Parameters<typeof engineHarness>) => {
    const h = await engineHarness(...args);
    harnesses.push(h);
    return h;
  };
  afterEach(async () => {
    for (const h of harnesses.splice(0)) await h.cleanup();
  });

  it("allows every request a rollout makes on a VirtualService or an HTTPRoute, from preflight to rollback, and no write beyond patching those", async () => {
    const needed = [
      ...(await rolloutRequests(await harness("rbac"), ["reviews", "--canary", "v2"])),
      ...(await rolloutRequests(await harness("rbac-gateway-api", { scenario: "bookinfo-gateway-api" }), [
        "reviews",
        "--http-route",
        "reviews",
        "--canary",
        "reviews-v2",
      ])),
    ];

    const rules = clusterRoleRules();
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
    // Exactly: every permission granted is one a rollout used.
    const used = new Set(needed.map((request) => `${request.verb} ${request.group}/${request.resource}`));
    const granted = rules.flatMap((rule) =>
      rule.apiGroups.flatMap((group) =>
        rule.resources.flatMap((resource) => rule.verbs.map((verb) => `${verb} ${group}/${resource}`)),
      ),
    );
    expect(granted.filter((permission) => !used.has(permission))).toEqual([]);
    const writes = new Set(
      needed
        .filter((request) => !["get", "list"].includes(request.verb))
        .map((r) => `${r.verb} ${r.resource}`),
    );
    expect([...writes]).toEqual(["patch virtualservices", "patch httproutes"]);
  });
});
