import {
  ApisApi,
  CoreApi,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  VersionApi,
  type V1Deployment,
  type V1Pod,
} from "@kubernetes/client-node";
import { afterEach, describe, expect, it } from "vitest";
import { readManifests } from "../../../sandbox/kube/fixtures.ts";
import { istioFixturePath } from "../../support/fixtures.ts";
import type { KubeObject } from "../../../sandbox/kube/object-store.ts";
import { workloadObjects } from "../../../sandbox/kube/scenarios.ts";
import { startKubeSandbox, type KubeSandbox, type KubeSandboxOptions } from "../../../sandbox/kube/server.ts";
import { apiFailure, kubeClients, rawRequest } from "../../support/kube-sandbox.ts";

const ISTIO = "networking.istio.io";
const VS = { group: ISTIO, version: "v1", namespace: "default", plural: "virtualservices" } as const;
const MERGE_PATCH = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

const running: KubeSandbox[] = [];

async function sandboxWith(options: KubeSandboxOptions = { scenario: "bookinfo" }) {
  const sandbox = await startKubeSandbox(options);
  running.push(sandbox);
  return { sandbox, ...kubeClients(sandbox) };
}

afterEach(async () => {
  await Promise.all(running.splice(0).map((sandbox) => sandbox.close()));
});

function virtualService(name: string, labels: Record<string, string> = {}, version = "v1"): KubeObject {
  return {
    apiVersion: `${ISTIO}/${version}`,
    kind: "VirtualService",
    metadata: { name, labels },
    spec: { hosts: [name], http: [{ route: [{ destination: { host: name, subset: "v1" } }] }] },
  };
}

describe("TLS and authentication", () => {
  it("lets the real client connect with the kubeconfig's CA and no insecure flag", async () => {
    const { sandbox, config, custom } = await sandboxWith();

    expect(sandbox.kubeconfig).toContain("certificate-authority-data:");
    expect(sandbox.kubeconfig).not.toContain("insecure-skip-tls-verify");
    expect(config.getCurrentCluster()).toMatchObject({ server: sandbox.url, skipTLSVerify: false });
    expect(sandbox.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const vs = (await custom.getNamespacedCustomObject({ ...VS, name: "reviews" })) as KubeObject;
    expect(vs.metadata.name).toBe("reviews");
  });

  it("is refused by a client that does not trust its CA, so TLS really is verified", async () => {
    const { sandbox } = await sandboxWith();
    const untrusting = new KubeConfig();
    untrusting.loadFromOptions({
      clusters: [{ name: "c", server: sandbox.url, skipTLSVerify: false }],
      users: [{ name: "u", token: sandbox.token }],
      contexts: [{ name: "x", cluster: "c", user: "u" }],
      currentContext: "x",
    });

    const error: unknown = await untrusting
      .makeApiClient(VersionApi)
      .getCode()
      .catch((rejection: unknown) => rejection);
    expect(String((error as Error).cause)).toMatch(/certificate/i);
  });

  it("answers 401 with an Unauthorized Status without the right bearer token", async () => {
    const { sandbox } = await sandboxWith();
    const wrongToken = new KubeConfig();
    wrongToken.loadFromString(sandbox.kubeconfig.replace(sandbox.token, "not-the-token"));

    const failure = await wrongToken
      .makeApiClient(VersionApi)
      .getCode()
      .catch((error: unknown) => error);
    expect(failure).toMatchObject({ code: 401 });
    const raw = await rawRequest(sandbox, "GET", "/api/v1/namespaces/default/pods", { token: null });
    expect(raw.status).toBe(401);
    expect(raw.json).toEqual({
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: "Unauthorized",
      reason: "Unauthorized",
      code: 401,
    });
  });
});

describe("discovery", () => {
  it("serves /api, /api/v1, /apis, the Istio group and its versions, apps/v1 and /version", async () => {
    const { sandbox, config, core, apps } = await sandboxWith();

    expect((await config.makeApiClient(CoreApi).getAPIVersions()).versions).toEqual(["v1"]);
    expect((await core.getAPIResources()).resources.map((r) => r.name)).toEqual([
      "namespaces",
      "pods",
      "services",
    ]);
    expect((await apps.getAPIResources()).resources).toMatchObject([
      { name: "deployments", kind: "Deployment", namespaced: true, verbs: ["get", "list", "delete"] },
    ]);
    const groups = (await config.makeApiClient(ApisApi).getAPIVersions()).groups;
    expect(groups.find((group) => group.name === ISTIO)).toEqual({
      name: ISTIO,
      versions: [
        { groupVersion: `${ISTIO}/v1`, version: "v1" },
        { groupVersion: `${ISTIO}/v1beta1`, version: "v1beta1" },
        { groupVersion: `${ISTIO}/v1alpha3`, version: "v1alpha3" },
      ],
      preferredVersion: { groupVersion: `${ISTIO}/v1`, version: "v1" },
    });
    expect(groups.map((group) => group.name)).toContain("apps");
    expect(groups.find((group) => group.name === "gateway.networking.k8s.io")).toMatchObject({
      versions: [{ version: "v1" }, { version: "v1beta1" }],
      preferredVersion: { version: "v1" },
    });
    expect((await config.makeApiClient(VersionApi).getCode()).major).toBe("1");

    const group = await rawRequest(sandbox, "GET", `/apis/${ISTIO}`);
    expect(group.json).toMatchObject({ kind: "APIGroup", name: ISTIO, preferredVersion: { version: "v1" } });
    const resources = await rawRequest(sandbox, "GET", `/apis/${ISTIO}/v1beta1`);
    expect(resources.json).toMatchObject({
      kind: "APIResourceList",
      groupVersion: `${ISTIO}/v1beta1`,
      resources: [
        {
          name: "virtualservices",
          singularName: "virtualservice",
          kind: "VirtualService",
          namespaced: true,
          shortNames: ["vs"],
        },
        {
          name: "destinationrules",
          singularName: "destinationrule",
          kind: "DestinationRule",
          namespaced: true,
        },
      ],
    });
    const listed = (resources.json as { resources: { verbs: string[] }[] }).resources[0]?.verbs;
    expect(listed).toEqual(expect.arrayContaining(["create", "get", "list", "patch", "update", "delete"]));
  });

  it("serves only the configured Istio versions: v1 answers 404 when the cluster has v1beta1 and v1alpha3", async () => {
    const { sandbox, config, custom } = await sandboxWith({
      scenario: "bookinfo",
      istioVersions: ["v1alpha3", "v1beta1"],
    });

    const istio = (await config.makeApiClient(ApisApi).getAPIVersions()).groups.find(
      (group) => group.name === ISTIO,
    );
    expect(istio?.versions.map((version) => version.version)).toEqual(["v1beta1", "v1alpha3"]);
    expect(istio?.preferredVersion).toEqual({ groupVersion: `${ISTIO}/v1beta1`, version: "v1beta1" });
    const { code, status } = await apiFailure(custom.getNamespacedCustomObject({ ...VS, name: "reviews" }));
    expect(code).toBe(404);
    expect(status).toMatchObject({
      reason: "NotFound",
      message: "the server could not find the requested resource",
    });
    expect((await rawRequest(sandbox, "GET", `/apis/${ISTIO}/v1`)).status).toBe(404);
    const reviews = (await custom.getNamespacedCustomObject({
      ...VS,
      version: "v1beta1",
      name: "reviews",
    })) as KubeObject;
    expect(reviews.apiVersion).toBe(`${ISTIO}/v1beta1`);
  });

  it("does everything at v1alpha3 when that is the only version served", async () => {
    const { custom } = await sandboxWith({ scenario: "bookinfo", istioVersions: ["v1alpha3"] });
    const at = { ...VS, version: "v1alpha3" };

    const reviews = (await custom.getNamespacedCustomObject({ ...at, name: "reviews" })) as KubeObject;
    const patched = (await custom.patchNamespacedCustomObject({
      ...at,
      name: "reviews",
      body: [{ op: "add", path: "/metadata/labels", value: { team: "books" } }],
    })) as KubeObject;
    await custom.createNamespacedCustomObject({ ...at, body: virtualService("shop", {}, "v1alpha3") });

    expect(reviews.apiVersion).toBe(`${ISTIO}/v1alpha3`);
    expect(patched).toMatchObject({
      apiVersion: `${ISTIO}/v1alpha3`,
      metadata: { labels: { team: "books" } },
    });
    expect(
      (await apiFailure(custom.getNamespacedCustomObject({ ...VS, version: "v1beta1", name: "shop" }))).code,
    ).toBe(404);
  });
});

describe("VirtualService and DestinationRule CRUD", () => {
  it("creates with server-set metadata and refuses a second create with 409 AlreadyExists", async () => {
    const { sandbox, custom } = await sandboxWith({ scenario: "empty" });

    const created = (await custom.createNamespacedCustomObject({
      ...VS,
      body: virtualService("shop"),
    })) as KubeObject;
    expect(created.metadata).toMatchObject({ name: "shop", namespace: "default", generation: 1 });
    expect(created.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.metadata.creationTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(Number(created.metadata.resourceVersion)).toBeGreaterThan(0);
    expect(sandbox.get("VirtualService", "default", "shop")).toEqual(created);

    const { code, status } = await apiFailure(
      custom.createNamespacedCustomObject({ ...VS, body: virtualService("shop") }),
    );
    expect(code).toBe(409);
    expect(status).toEqual({
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: `virtualservices.${ISTIO} "shop" already exists`,
      reason: "AlreadyExists",
      details: { name: "shop", group: ISTIO, kind: "virtualservices" },
      code: 409,
    });
  });

  it("drops status on create and keeps the stored status on update, as with a status subresource", async () => {
    const { sandbox, custom } = await sandboxWith({ scenario: "empty" });
    const withStatus = { ...virtualService("shop"), status: { observedGeneration: 1 } };

    const created = (await custom.createNamespacedCustomObject({ ...VS, body: withStatus })) as KubeObject;
    sandbox.put({ ...created, status: { observedGeneration: 7 } });
    const current = sandbox.get("VirtualService", "default", "shop") as KubeObject;
    const replaced = (await custom.replaceNamespacedCustomObject({
      ...VS,
      name: "shop",
      body: { ...current, status: { observedGeneration: 99 } },
    })) as KubeObject;

    expect(created.status).toBeUndefined();
    expect(replaced.status).toEqual({ observedGeneration: 7 });
    // Nothing but status differed, so nothing was written.
    expect(replaced.metadata.resourceVersion).toBe(current.metadata.resourceVersion);
  });

  it("validates and answers dryRun=All writes without storing them", async () => {
    const { sandbox, custom } = await sandboxWith();
    const before = sandbox.get("VirtualService", "default", "reviews");

    const created = (await custom.createNamespacedCustomObject({
      ...VS,
      dryRun: "All",
      body: { ...virtualService("x"), metadata: { generateName: "shop-" } },
    })) as KubeObject;
    const patched = (await custom.patchNamespacedCustomObject({
      ...VS,
      name: "reviews",
      dryRun: "All",
      body: [{ op: "add", path: "/spec/http/0/route/0/weight", value: 100 }],
    })) as KubeObject;
    const invalid = await apiFailure(
      custom.patchNamespacedCustomObject({
        ...VS,
        name: "reviews",
        dryRun: "All",
        body: [{ op: "add", path: "/spec/http/0/route/0/weight", value: "100" }],
      }),
    );

    expect(created.metadata.name).toMatch(/^shop-[a-z0-9]{5}$/);
    expect(sandbox.list("VirtualService")).toHaveLength(4);
    expect(patched.spec).toMatchObject({ http: [{ route: [{ weight: 100 }] }] });
    expect(invalid.code).toBe(422);
    expect(sandbox.get("VirtualService", "default", "reviews")).toEqual(before);
  });

  it("answers 404 NotFound for a missing object", async () => {
    const { custom } = await sandboxWith();

    const { code, status } = await apiFailure(custom.getNamespacedCustomObject({ ...VS, name: "nope" }));
    expect(code).toBe(404);
    expect(status).toMatchObject({
      reason: "NotFound",
      message: `virtualservices.${ISTIO} "nope" not found`,
      details: { name: "nope", group: ISTIO, kind: "virtualservices" },
    });
  });

  it("lists a namespace and all namespaces, filtered by labelSelector", async () => {
    const { sandbox, custom } = await sandboxWith({ scenario: "empty" });
    sandbox.seed([
      {
        ...virtualService("a", { team: "books" }),
        metadata: { name: "a", namespace: "shop", labels: { team: "books" } },
      },
      virtualService("b", { team: "books", tier: "front" }),
      virtualService("c", { team: "music" }),
    ]);

    type List = {
      kind: string;
      apiVersion: string;
      metadata: { resourceVersion: string };
      items: KubeObject[];
    };
    const names = (list: unknown) => (list as List).items.map((item) => item.metadata.name);
    const everywhere = (await custom.listClusterCustomObject({
      group: ISTIO,
      version: "v1beta1",
      plural: "virtualservices",
    })) as List;
    expect(everywhere).toMatchObject({ kind: "VirtualServiceList", apiVersion: `${ISTIO}/v1beta1` });
    expect(everywhere.items.map((item) => item.apiVersion)).toEqual(Array(3).fill(`${ISTIO}/v1beta1`));
    expect(names(everywhere)).toEqual(["b", "c", "a"]);
    expect(names(await custom.listNamespacedCustomObject({ ...VS }))).toEqual(["b", "c"]);
    expect(names(await custom.listNamespacedCustomObject({ ...VS, labelSelector: "team=books" }))).toEqual([
      "b",
    ]);
    expect(
      names(
        await custom.listClusterCustomObject({
          group: ISTIO,
          version: "v1",
          plural: "virtualservices",
          labelSelector: "team==books,tier!=front",
        }),
      ),
    ).toEqual(["a"]);
    expect(
      names(
        await custom.listNamespacedCustomObject({
          ...VS,
          labelSelector: "team in (books,music),tier notin (front)",
        }),
      ),
    ).toEqual(["c"]);
    const refused = await apiFailure(
      custom.listNamespacedCustomObject({ ...VS, labelSelector: "team in (books" }),
    );
    expect(refused.code).toBe(400);
  });

  it("keeps one object for all versions, rewriting apiVersion to the one asked for", async () => {
    const { sandbox, custom } = await sandboxWith({ scenario: "empty" });

    await custom.createNamespacedCustomObject({
      ...VS,
      version: "v1beta1",
      body: virtualService("shop", {}, "v1beta1"),
    });
    const atV1 = (await custom.getNamespacedCustomObject({ ...VS, name: "shop" })) as KubeObject;
    const patchedAtV1 = (await custom.patchNamespacedCustomObject({
      ...VS,
      name: "shop",
      body: [{ op: "add", path: "/spec/http/0/route/0/weight", value: 100 }],
    })) as KubeObject;
    const backAtV1beta1 = (await custom.getNamespacedCustomObject({
      ...VS,
      version: "v1beta1",
      name: "shop",
    })) as KubeObject;

    expect(atV1.apiVersion).toBe(`${ISTIO}/v1`);
    expect(patchedAtV1.apiVersion).toBe(`${ISTIO}/v1`);
    expect(backAtV1beta1).toMatchObject({
      apiVersion: `${ISTIO}/v1beta1`,
      spec: { http: [{ route: [{ weight: 100 }] }] },
    });
    expect(backAtV1beta1.metadata).toEqual(patchedAtV1.metadata);
    expect(sandbox.get("VirtualService", "default", "shop")?.apiVersion).toBe(`${ISTIO}/v1`);
  });

  it("replaces with the current resourceVersion, bumping generation only for spec changes", async () => {
    const { custom } = await sandboxWith();
    const before = (await custom.getNamespacedCustomObject({ ...VS, name: "reviews" })) as KubeObject;

    const relabelled = (await custom.replaceNamespacedCustomObject({
      ...VS,
      name: "reviews",
      body: { ...before, metadata: { ...before.metadata, labels: { owner: "books" } } },
    })) as KubeObject;
    const respecced = (await custom.replaceNamespacedCustomObject({
      ...VS,
      name: "reviews",
      body: {
        ...relabelled,
        spec: { hosts: ["reviews"], http: [{ route: [{ destination: { host: "reviews", subset: "v2" } }] }] },
      },
    })) as KubeObject;

    expect(Number(relabelled.metadata.resourceVersion)).toBeGreaterThan(
      Number(before.metadata.resourceVersion),
    );
    expect(relabelled.metadata.generation).toBe(1);
    expect(Number(respecced.metadata.resourceVersion)).toBeGreaterThan(
      Number(relabelled.metadata.resourceVersion),
    );
    expect(respecced.metadata.generation).toBe(2);
    expect(respecced.metadata.uid).toBe(before.metadata.uid);
  });

  it("refuses a PUT with a stale resourceVersion: 409 Conflict worded like the server", async () => {
    const { sandbox, custom } = await sandboxWith();
    const read = (await custom.getNamespacedCustomObject({ ...VS, name: "reviews" })) as KubeObject;
    // Someone runs `kubectl edit` in between.
    sandbox.put({ ...read, metadata: { ...read.metadata, annotations: { edited: "by hand" } } });

    const { code, status } = await apiFailure(
      custom.replaceNamespacedCustomObject({ ...VS, name: "reviews", body: read }),
    );
    expect(code).toBe(409);
    expect(status).toEqual({
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message:
        `Operation cannot be fulfilled on virtualservices.${ISTIO} "reviews": the object has been modified; ` +
        "please apply your changes to the latest version and try again",
      reason: "Conflict",
      details: { name: "reviews", group: ISTIO, kind: "virtualservices" },
      code: 409,
    });
    expect(sandbox.get("VirtualService", "default", "reviews")?.metadata.annotations).toEqual({
      edited: "by hand",
    });
  });

  it("refuses a PUT without resourceVersion with 422, as custom resources allow no unconditional update", async () => {
    const { custom } = await sandboxWith();
    const body = virtualService("reviews");

    const { code, status } = await apiFailure(
      custom.replaceNamespacedCustomObject({ ...VS, name: "reviews", body }),
    );
    expect(code).toBe(422);
    expect(status.message).toBe(
      `VirtualService.${ISTIO} "reviews" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update`,
    );
  });

  it("deletes with a Success Status, honouring a resourceVersion precondition", async () => {
    const { sandbox, custom } = await sandboxWith();
    const reviews = sandbox.get("DestinationRule", "default", "reviews");
    const dr = {
      group: ISTIO,
      version: "v1",
      namespace: "default",
      plural: "destinationrules",
      name: "reviews",
    };

    const stale = await apiFailure(
      custom.deleteNamespacedCustomObject({ ...dr, body: { preconditions: { resourceVersion: "1" } } }),
    );
    const done = (await custom.deleteNamespacedCustomObject(dr)) as unknown;

    expect(stale.code).toBe(409);
    expect(stale.status.message).toContain("Precondition failed: ResourceVersion in precondition: 1");
    expect(done).toEqual({
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Success",
      details: { name: "reviews", group: ISTIO, kind: "destinationrules", uid: reviews?.metadata.uid },
      code: 200,
    });
    expect(sandbox.get("DestinationRule", "default", "reviews")).toBeUndefined();
    expect((await apiFailure(custom.getNamespacedCustomObject({ ...dr }))).code).toBe(404);
  });
});

describe("PATCH from the real client", () => {
  it("applies json-patch (client-node's default) with passing test ops", async () => {
    const { sandbox, custom } = await sandboxWith();
    const before = sandbox.get("VirtualService", "default", "reviews");

    const patched = (await custom.patchNamespacedCustomObject({
      ...VS,
      name: "reviews",
      body: [
        { op: "test", path: "/spec/http/0/route/0/destination/subset", value: "v1" },
        { op: "add", path: "/spec/http/0/route/0/weight", value: 90 },
        {
          op: "add",
          path: "/spec/http/0/route/-",
          value: { destination: { host: "reviews", subset: "v2" }, weight: 10 },
        },
      ],
    })) as KubeObject;

    expect(patched.spec).toEqual({
      hosts: ["reviews"],
      http: [
        {
          route: [
            { destination: { host: "reviews", subset: "v1" }, weight: 90 },
            { destination: { host: "reviews", subset: "v2" }, weight: 10 },
          ],
        },
      ],
    });
    expect(patched.metadata.generation).toBe(2);
    expect(Number(patched.metadata.resourceVersion)).toBeGreaterThan(
      Number(before?.metadata.resourceVersion),
    );
    expect(sandbox.requests.all().at(-1)).toMatchObject({
      method: "PATCH",
      contentType: "application/json-patch+json",
      status: 200,
    });
  });

  it("answers 422 to a json-patch whose test op fails, and writes nothing", async () => {
    const { sandbox, custom } = await sandboxWith();
    const before = sandbox.get("VirtualService", "default", "reviews");

    const { code, status } = await apiFailure(
      custom.patchNamespacedCustomObject({
        ...VS,
        name: "reviews",
        body: [
          { op: "test", path: "/spec/http/0/route/0/destination/subset", value: "v2" },
          { op: "replace", path: "/spec/http/0/route/0/destination/subset", value: "v3" },
        ],
      }),
    );

    expect(code).toBe(422);
    expect(status).toMatchObject({
      reason: "Invalid",
      message: "the server rejected our request due to an error in our request",
      details: {
        causes: [{ message: "testing value /spec/http/0/route/0/destination/subset failed: test failed" }],
      },
    });
    expect(sandbox.get("VirtualService", "default", "reviews")).toEqual(before);
  });

  it("treats a resourceVersion set by a patch as a precondition: stale → 409, current → applied", async () => {
    const { sandbox, custom } = await sandboxWith();
    const current = sandbox.get("VirtualService", "default", "reviews")?.metadata.resourceVersion;
    const setWeight = (resourceVersion: string | undefined) =>
      custom.patchNamespacedCustomObject({
        ...VS,
        name: "reviews",
        body: [
          { op: "replace", path: "/metadata/resourceVersion", value: resourceVersion },
          { op: "add", path: "/spec/http/0/route/0/weight", value: 100 },
        ],
      });

    const stale = await apiFailure(setWeight("1"));
    expect(stale.code).toBe(409);
    expect(stale.status.reason).toBe("Conflict");
    await expect(setWeight(current)).resolves.toMatchObject({
      spec: { http: [{ route: [{ weight: 100 }] }] },
    });
  });

  it("applies merge-patch when the caller picks it with setHeaderOptions, with the same precondition", async () => {
    const { sandbox, custom } = await sandboxWith();

    const merged = (await custom.patchNamespacedCustomObject(
      {
        ...VS,
        name: "reviews",
        body: { metadata: { labels: { owner: "books", drop: "me" } }, spec: { gateways: ["mesh"] } },
      },
      MERGE_PATCH,
    )) as KubeObject;
    const removed = (await custom.patchNamespacedCustomObject(
      { ...VS, name: "reviews", body: { metadata: { labels: { drop: null } } } },
      MERGE_PATCH,
    )) as KubeObject;
    const stale = await apiFailure(
      custom.patchNamespacedCustomObject(
        { ...VS, name: "reviews", body: { metadata: { resourceVersion: "1" }, spec: { gateways: [] } } },
        MERGE_PATCH,
      ),
    );

    expect(merged.spec).toEqual({
      hosts: ["reviews"],
      gateways: ["mesh"],
      http: [{ route: [{ destination: { host: "reviews", subset: "v1" } }] }],
    });
    expect(removed.metadata.labels).toEqual({ owner: "books" });
    expect(stale.code).toBe(409);
    expect(sandbox.requests.all().map((request) => request.contentType)).toEqual(
      Array(3).fill("application/merge-patch+json"),
    );
  });

  it("refuses strategic merge patch on a custom resource with 415, as the server does", async () => {
    const { custom } = await sandboxWith();

    const { code, status } = await apiFailure(
      custom.patchNamespacedCustomObject(
        { ...VS, name: "reviews", body: { spec: { gateways: ["mesh"] } } },
        setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch),
      ),
    );
    expect(code).toBe(415);
    expect(status).toMatchObject({
      reason: "UnsupportedMediaType",
      message:
        "the body of the request was in an unknown format - accepted media types include: " +
        "application/json-patch+json, application/merge-patch+json",
    });
  });
});

describe("schema validation on writes", () => {
  it("refuses a weight given as a string with 422 Invalid naming the field, and writes nothing", async () => {
    const { sandbox, custom } = await sandboxWith();
    const before = sandbox.get("VirtualService", "default", "reviews");

    const { code, status } = await apiFailure(
      custom.patchNamespacedCustomObject({
        ...VS,
        name: "reviews",
        body: [{ op: "add", path: "/spec/http/0/route/0/weight", value: "10" }],
      }),
    );

    expect(code).toBe(422);
    expect(status).toEqual({
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message:
        `VirtualService.${ISTIO} "reviews" is invalid: spec.http[0].route[0].weight: Invalid value: "string": ` +
        'spec.http[0].route[0].weight in body must be of type integer: "string"',
      reason: "Invalid",
      details: {
        name: "reviews",
        group: ISTIO,
        kind: "VirtualService",
        causes: [
          {
            reason: "FieldValueTypeInvalid",
            message:
              'Invalid value: "string": spec.http[0].route[0].weight in body must be of type integer: "string"',
            field: "spec.http[0].route[0].weight",
          },
        ],
      },
      code: 422,
    });
    expect(sandbox.get("VirtualService", "default", "reviews")).toEqual(before);
  });

  it("lists every violation of a created DestinationRule and checks the metadata name", async () => {
    const { custom } = await sandboxWith({ scenario: "empty" });
    const body = {
      apiVersion: `${ISTIO}/v1`,
      kind: "DestinationRule",
      metadata: { name: "Reviews" },
      spec: { subsets: [{ labels: { version: "v1" } }] },
    };

    const { code, status } = await apiFailure(
      custom.createNamespacedCustomObject({
        group: ISTIO,
        version: "v1",
        namespace: "default",
        plural: "destinationrules",
        body,
      }),
    );

    expect(code).toBe(422);
    expect(status.details?.causes?.map((cause) => [cause.reason, cause.field])).toEqual([
      ["FieldValueInvalid", "metadata.name"],
      ["FieldValueRequired", "spec.host"],
      ["FieldValueRequired", "spec.subsets[0].name"],
    ]);
  });

  it("prunes unknown fields with a Warning header, and refuses them under fieldValidation=Strict", async () => {
    const { sandbox } = await sandboxWith({ scenario: "empty" });
    const body = {
      ...virtualService("shop"),
      spec: { ...(virtualService("shop").spec as object), colour: "blue" },
    };
    const path = `/apis/${ISTIO}/v1/namespaces/default/virtualservices`;

    const strict = await rawRequest(sandbox, "POST", `${path}?fieldValidation=Strict`, { body });
    const warned = await rawRequest(sandbox, "POST", path, { body });

    expect(strict.status).toBe(400);
    expect(strict.json).toMatchObject({
      reason: "BadRequest",
      message: 'strict decoding error: unknown field "spec.colour"',
    });
    expect(warned.status).toBe(201);
    expect(warned.headers.warning).toBe('299 - "unknown field \\"spec.colour\\""');
    expect(sandbox.get("VirtualService", "default", "shop")?.spec).toEqual(virtualService("shop").spec);
  });
});

describe("deployments and pods", () => {
  it("reads the bookinfo deployments and pods by label", async () => {
    const { apps, core } = await sandboxWith();

    const reviews = await apps.listNamespacedDeployment({
      namespace: "default",
      labelSelector: "app=reviews",
    });
    const v2Pods = await core.listNamespacedPod({
      namespace: "default",
      labelSelector: "app=reviews,version=v2",
    });
    const one = await apps.readNamespacedDeployment({ namespace: "default", name: "reviews-v3" });
    const all = await apps.listNamespacedDeployment({ namespace: "default" });

    expect(
      reviews.items.map((d: V1Deployment) => [d.metadata?.name, d.spec?.replicas, d.status?.readyReplicas]),
    ).toEqual([
      ["reviews-v1", 1, 1],
      ["reviews-v2", 1, 1],
      ["reviews-v3", 1, 1],
    ]);
    expect(one.spec?.template.metadata?.labels).toEqual({ app: "reviews", version: "v3" });
    expect(all.items.map((d) => d.metadata?.name)).toEqual([
      "details-v1",
      "productpage-v1",
      "ratings-v1",
      "reviews-v1",
      "reviews-v2",
      "reviews-v3",
    ]);
    expect(v2Pods.items).toHaveLength(1);
    const pod = v2Pods.items[0] as V1Pod;
    expect(pod.metadata?.name).toMatch(/^reviews-v2-[a-z0-9]{10}-[a-z0-9]{5}$/);
    expect(pod.status?.phase).toBe("Running");
    expect(pod.status?.conditions?.find((condition) => condition.type === "Ready")?.status).toBe("True");
  });

  it("serves seeded workloads as they are, e.g. a canary with no ready replicas", async () => {
    const { apps, core } = await sandboxWith({
      scenario: "empty",
      objects: workloadObjects({
        app: "reviews",
        version: "v4",
        namespace: "shop",
        replicas: 2,
        readyReplicas: 0,
      }),
    });

    const deployment = await apps.readNamespacedDeployment({ namespace: "shop", name: "reviews-v4" });
    const pods = await core.listNamespacedPod({ namespace: "shop", labelSelector: "version=v4" });

    expect(deployment.status).toMatchObject({ replicas: 2, unavailableReplicas: 2 });
    expect(deployment.status?.readyReplicas).toBeUndefined();
    expect(pods.items.map((pod) => pod.status?.conditions?.find((c) => c.type === "Ready")?.status)).toEqual([
      "False",
      "False",
    ]);
  });

  it("is read-only over the API: writes answer 405 MethodNotAllowed", async () => {
    const { apps } = await sandboxWith();

    const { code, status } = await apiFailure(
      apps.patchNamespacedDeployment({
        namespace: "default",
        name: "reviews-v1",
        body: [{ op: "replace", path: "/spec/replicas", value: 3 }],
      }),
    );
    expect(code).toBe(405);
    expect(status).toMatchObject({ reason: "MethodNotAllowed" });
  });
});

describe("fault injection", () => {
  it("answers the next 3 matching PATCHes with 409 Conflict, then lets the 4th through", async () => {
    const { sandbox, custom } = await sandboxWith();
    sandbox.faults.add({ method: "PATCH", resource: "virtualservices", conflicts: 3 });
    const patch = () =>
      custom.patchNamespacedCustomObject({
        ...VS,
        name: "reviews",
        body: [{ op: "add", path: "/metadata/labels", value: { a: "b" } }],
      });

    const codes = [];
    for (let attempt = 0; attempt < 3; attempt += 1) codes.push((await apiFailure(patch())).code);
    await expect(patch()).resolves.toMatchObject({ metadata: { labels: { a: "b" } } });
    // Other methods and resources were never affected.
    await custom.getNamespacedCustomObject({ ...VS, name: "reviews" });

    expect(codes).toEqual([409, 409, 409]);
    expect(
      sandbox.requests.all().map((request) => [request.method, request.status, request.faulted]),
    ).toEqual([
      ["PATCH", 409, true],
      ["PATCH", 409, true],
      ["PATCH", 409, true],
      ["PATCH", 200, false],
      ["GET", 200, false],
    ]);
    expect(sandbox.faults.list()).toEqual([]);
  });

  it("answers 503 ServiceUnavailable for the next N requests when asked", async () => {
    const { sandbox, apps } = await sandboxWith();
    sandbox.faults.add({ resource: "deployments", errors: 2, status: 503 });
    const read = () => apps.readNamespacedDeployment({ namespace: "default", name: "reviews-v1" });

    const first = await apiFailure(read());
    const second = await apiFailure(read());

    expect([first.code, second.code]).toEqual([503, 503]);
    expect(first.status).toMatchObject({ reason: "ServiceUnavailable", code: 503 });
    await expect(read()).resolves.toMatchObject({ metadata: { name: "reviews-v1" } });
  });

  it("delays matching requests", async () => {
    const { sandbox, custom } = await sandboxWith();
    const id = sandbox.faults.add({ method: "GET", resource: "virtualservices", delayMs: 150 });

    const started = performance.now();
    await custom.getNamespacedCustomObject({ ...VS, name: "reviews" });
    const delayed = performance.now() - started;
    sandbox.faults.remove(id);

    expect(delayed).toBeGreaterThanOrEqual(145);
  });

  it("takes faults over HTTP at /_sandbox/faults, outside the API and its authentication", async () => {
    const { sandbox, apps } = await sandboxWith();

    const added = await rawRequest(sandbox, "POST", "/_sandbox/faults", {
      token: null,
      body: { method: "GET", resource: "deployments", name: "reviews-v2", errors: 1 },
    });
    const listed = await rawRequest(sandbox, "GET", "/_sandbox/faults", { token: null });
    const failed = await apiFailure(
      apps.readNamespacedDeployment({ namespace: "default", name: "reviews-v2" }),
    );
    const refused = await rawRequest(sandbox, "POST", "/_sandbox/faults", {
      token: null,
      body: { errors: 1, status: 418 },
    });
    await rawRequest(sandbox, "POST", "/_sandbox/faults", { token: null, body: { conflicts: 5 } });
    const cleared = await rawRequest(sandbox, "DELETE", "/_sandbox/faults", { token: null });

    expect(added.status).toBe(201);
    expect(listed.json).toEqual([
      {
        method: "GET",
        resource: "deployments",
        name: "reviews-v2",
        errors: 1,
        id: (added.json as { id: number }).id,
        remaining: 1,
      },
    ]);
    expect(failed.code).toBe(500);
    expect(failed.status).toMatchObject({ reason: "InternalError" });
    expect(refused.status).toBe(400);
    expect(cleared.status).toBe(200);
    expect(sandbox.faults.list()).toEqual([]);
    await expect(
      apps.readNamespacedDeployment({ namespace: "default", name: "reviews-v2" }),
    ).resolves.toBeDefined();
  });
});

describe("scenarios", () => {
  it("seeds bookinfo: reviews 100% to v1, subsets v1-v3, the other services' routes", async () => {
    const { sandbox } = await sandboxWith();

    expect(sandbox.get("VirtualService", "default", "reviews")?.spec).toEqual({
      hosts: ["reviews"],
      http: [{ route: [{ destination: { host: "reviews", subset: "v1" } }] }],
    });
    expect(sandbox.get("DestinationRule", "default", "reviews")?.spec).toMatchObject({
      host: "reviews",
      subsets: [
        { name: "v1", labels: { version: "v1" } },
        { name: "v2", labels: { version: "v2" } },
        { name: "v3", labels: { version: "v3" } },
      ],
    });
    expect(sandbox.list("VirtualService").map((vs) => vs.metadata.name)).toEqual([
      "details",
      "productpage",
      "ratings",
      "reviews",
    ]);
    expect(sandbox.list("DestinationRule")).toHaveLength(4);
    expect(sandbox.list("Pod", "default")).toHaveLength(6);
  });

  it("seeds objects of the caller's choosing after the scenario, e.g. a multi-route VirtualService", async () => {
    const jasonRoute = readManifests(
      istioFixturePath("samples/bookinfo-networking/virtual-service-reviews-jason-v2-v3.yaml"),
    );
    const { custom } = await sandboxWith({ scenario: "bookinfo", objects: jasonRoute });

    const reviews = (await custom.getNamespacedCustomObject({ ...VS, name: "reviews" })) as KubeObject;
    expect(reviews.spec).toMatchObject({
      http: [{ match: [{ headers: { "end-user": { exact: "jason" } } }] }, {}],
    });
  });

  it("refuses to seed a kind it does not serve, or an invalid object", async () => {
    const gateway = readManifests(istioFixturePath("samples/bookinfo-networking/bookinfo-gateway.yaml"));

    await expect(startKubeSandbox({ objects: gateway })).rejects.toThrow("does not serve kind Gateway");
    await expect(
      startKubeSandbox({
        objects: [{ ...virtualService("x"), spec: { http: [{ route: [{ weight: "10" }] }] } }],
      }),
    ).rejects.toThrow("is invalid");
  });
});
