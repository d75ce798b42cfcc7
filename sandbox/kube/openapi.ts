import { DEFAULT_VERSION_INFO } from "./discovery.ts";
import type { JsonSchema } from "./crds.ts";
import { groupVersion, type ApiResource } from "./resources.ts";

type Json = Record<string, unknown>;

const OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

/** `io.istio.networking.v1.VirtualService`, `io.k8s.api.apps.v1.Deployment`: the API server's definition names. */
export function definitionName(resource: ApiResource, version: string): string {
  if (resource.group === "") return `io.k8s.api.core.${version}.${resource.kind}`;
  if (!resource.custom) return `io.k8s.api.${resource.group.split(".")[0]}.${version}.${resource.kind}`;
  return `${resource.group.split(".").reverse().join(".")}.${version}.${resource.kind}`;
}

/** The GroupVersionKind extension kubectl matches operations and definitions by. */
function gvk(resource: ApiResource, version: string): Json {
  return { group: resource.group, version, kind: resource.kind };
}

function withRefs(schema: JsonSchema, prefix: string): JsonSchema {
  const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
  return {
    ...schema,
    properties: {
      ...properties,
      apiVersion: {
        type: "string",
        description: "APIVersion defines the versioned schema of this representation of an object.",
      },
      kind: {
        type: "string",
        description: "Kind is a string value representing the REST resource this object represents.",
      },
      metadata: { $ref: `${prefix}${OBJECT_META}` },
    },
  };
}

/**
 * A CRD schema as the API server publishes it in OpenAPI v2: what v2 cannot say is dropped (nullable, oneOf, anyOf,
 * CEL rules), an int-or-string has no type, and a subtree that keeps unknown fields becomes an open object, so a
 * client validating against it never calls those fields unknown.
 */
export function toV2Schema(node: JsonSchema): JsonSchema {
  const description = typeof node.description === "string" ? { description: node.description } : {};
  if (node["x-kubernetes-int-or-string"] === true) return description;
  if (node["x-kubernetes-preserve-unknown-fields"] === true) {
    return node.type === "object" ? { type: "object", ...description } : description;
  }
  const converted: JsonSchema = {};
  for (const [key, value] of Object.entries(node)) {
    if (["nullable", "oneOf", "anyOf", "not", "allOf", "x-kubernetes-validations"].includes(key)) continue;
    if (key === "properties" && typeof value === "object" && value !== null) {
      converted.properties = Object.fromEntries(
        Object.entries(value as Record<string, JsonSchema>).map(([name, child]) => [name, toV2Schema(child)]),
      );
    } else if (
      (key === "items" || key === "additionalProperties") &&
      typeof value === "object" &&
      value !== null
    ) {
      converted[key] = toV2Schema(value as JsonSchema);
    } else converted[key] = value;
  }
  return converted;
}

/**
 * The schema of a kind: the CRD's openAPIV3Schema (for v2 converted as the server does); built-in kinds, which
 * the sandbox only seeds, are open objects.
 */
function kindSchema(resource: ApiResource, version: string, prefix: string, v2 = false): JsonSchema {
  const extension = { "x-kubernetes-group-version-kind": [gvk(resource, version)] };
  const crd = resource.schemas.get(version);
  if (crd === undefined) return { type: "object", ...extension };
  return { ...withRefs(v2 ? toV2Schema(crd) : crd, prefix), ...extension };
}

const QUERY = (name: string, description: string, type = "string"): Json => ({
  name,
  in: "query",
  description,
  schema: { type },
});
const WRITE_PARAMETERS = [
  QUERY("dryRun", "When present, indicates that modifications should not be persisted."),
  QUERY(
    "fieldManager",
    "fieldManager is a name associated with the actor or entity that is making these changes.",
  ),
  QUERY(
    "fieldValidation",
    "fieldValidation instructs the server on how to handle objects in the request containing unknown or duplicate fields: Ignore, Warn (default) or Strict.",
  ),
];
const LIST_PARAMETERS = [
  QUERY("labelSelector", "A selector to restrict the list of returned objects by their labels."),
  QUERY(
    "fieldSelector",
    "A selector to restrict the list of returned objects by their fields (metadata.name, metadata.namespace).",
  ),
  QUERY(
    "resourceVersion",
    "resourceVersion sets a constraint on what resource versions a request may be served from.",
  ),
  QUERY("timeoutSeconds", "Timeout for the list/watch call.", "integer"),
  QUERY("watch", "Watch for changes to the described resources.", "boolean"),
];

/** The paths of one kind at one version, with the operations the sandbox answers (OpenAPI 3 shape). */
function resourcePaths(resource: ApiResource, version: string): Json {
  const root = resource.group === "" ? `/api/${version}` : `/apis/${groupVersion(resource.group, version)}`;
  const scope = resource.namespaced
    ? `${root}/namespaces/{namespace}/${resource.plural}`
    : `${root}/${resource.plural}`;
  const ref = { $ref: `#/components/schemas/${definitionName(resource, version)}` };
  const body = (types: string[]) => ({
    required: true,
    content: Object.fromEntries(types.map((type) => [type, { schema: ref }])),
  });
  const answer = { "200": { description: "OK", content: { "application/json": { schema: ref } } } };
  const op = (action: string, extra: Json = {}): Json => ({
    operationId: `${action}${resource.kind}`,
    tags: [groupVersion(resource.group, version)],
    "x-kubernetes-action": action,
    "x-kubernetes-group-version-kind": gvk(resource, version),
    responses: answer,
    ...extra,
  });
  const pathParameters = (names: string[]): Json[] =>
    names.map((name) => ({
      name,
      in: "path",
      required: true,
      schema: { type: "string", uniqueItems: true },
    }));
  const writes = resource.writable;
  return {
    [scope]: {
      get: op("list", { parameters: LIST_PARAMETERS }),
      ...(writes
        ? { post: op("post", { parameters: WRITE_PARAMETERS, requestBody: body(["application/json"]) }) }
        : {}),
      parameters: pathParameters(resource.namespaced ? ["namespace"] : []),
    },
    [`${scope}/{name}`]: {
      get: op("get"),
      ...(writes
        ? {
            put: op("put", { parameters: WRITE_PARAMETERS, requestBody: body(["application/json"]) }),
            patch: op("patch", {
              parameters: WRITE_PARAMETERS,
              requestBody: body(["application/json-patch+json", "application/merge-patch+json"]),
            }),
            delete: op("delete", {
              parameters: [
                QUERY("dryRun", "When present, indicates that modifications should not be persisted."),
              ],
            }),
          }
        : {}),
      parameters: pathParameters(resource.namespaced ? ["name", "namespace"] : ["name"]),
    },
  };
}

/** `api/v1`, `apis/networking.istio.io/v1`: the group versions served, as /openapi/v3 lists them. */
function groupVersions(resources: readonly ApiResource[]): string[] {
  const names = resources.flatMap((resource) =>
    resource.versions.map((version) =>
      resource.group === "" ? `api/${version}` : `apis/${resource.group}/${version}`,
    ),
  );
  return [...new Set(names)];
}

function servedAt(
  resources: readonly ApiResource[],
  path: string,
): { resource: ApiResource; version: string }[] {
  return resources.flatMap((resource) =>
    resource.versions
      .filter(
        (version) =>
          (resource.group === "" ? `api/${version}` : `apis/${resource.group}/${version}`) === path,
      )
      .map((version) => ({ resource, version })),
  );
}

const OBJECT_META_SCHEMA: JsonSchema = {
  type: "object",
  description: "ObjectMeta is metadata that all persisted resources must have.",
  "x-kubernetes-preserve-unknown-fields": true,
};

function v3Document(served: { resource: ApiResource; version: string }[]): Json {
  const prefix = "#/components/schemas/";
  return {
    openapi: "3.0.0",
    info: { title: "Kubernetes", version: DEFAULT_VERSION_INFO.gitVersion },
    paths: Object.assign({}, ...served.map(({ resource, version }) => resourcePaths(resource, version))),
    components: {
      schemas: {
        [OBJECT_META]: OBJECT_META_SCHEMA,
        ...Object.fromEntries(
          served.map(({ resource, version }) => [
            definitionName(resource, version),
            kindSchema(resource, version, prefix),
          ]),
        ),
      },
    },
  };
}

/** OpenAPI 2 (what `kubectl` 1.20 validates against): the same kinds as definitions. */
export function v2Document(resources: readonly ApiResource[]): Json {
  const prefix = "#/definitions/";
  const served = resources.flatMap((resource) => resource.versions.map((version) => ({ resource, version })));
  return {
    swagger: "2.0",
    info: { title: "Kubernetes", version: DEFAULT_VERSION_INFO.gitVersion },
    paths: {},
    definitions: {
      [OBJECT_META]: OBJECT_META_SCHEMA,
      ...Object.fromEntries(
        served.map(({ resource, version }) => [
          definitionName(resource, version),
          kindSchema(resource, version, prefix, true),
        ]),
      ),
    },
  };
}

/**
 * `/openapi/v3` (the index of group versions), `/openapi/v3/apis/{group}/{version}` and `/api/v1`, and `/openapi/v2`,
 * built from the CRD schemas. kubectl reads v3 to learn that the server validates fields itself (the PATCH
 * operation's fieldValidation parameter) and `kubectl explain` reads the schemas. Undefined for any other path.
 */
export function openApiDocument(resources: readonly ApiResource[], url: URL): unknown {
  const path = url.pathname.replace(/\/+$/, "");
  if (path === "/openapi/v2") return v2Document(resources);
  if (path === "/openapi/v3") {
    return {
      paths: Object.fromEntries(
        groupVersions(resources).map((name) => [
          name,
          { serverRelativeURL: `/openapi/v3/${name}?hash=${DEFAULT_VERSION_INFO.gitCommit}` },
        ]),
      ),
    };
  }
  if (!path.startsWith("/openapi/v3/")) return undefined;
  const served = servedAt(resources, path.slice("/openapi/v3/".length));
  return served.length === 0 ? undefined : v3Document(served);
}
