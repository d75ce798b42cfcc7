import { randomInt } from "node:crypto";
import { applyJsonPatch, JsonPatchError } from "../../src/json/json-patch.ts";
import { isJsonObject } from "../../src/json/json-value.ts";
import { jsonPatchStatus } from "./json-patch-status.ts";
import { matchesLabels, parseLabelSelector } from "./label-selector.ts";
import { applyMergePatch } from "./merge-patch.ts";
import type { KubeObject, ObjectStore } from "./object-store.ts";
import { asKubeObject, decodeObject, fieldValidation, isDryRun, parseJson } from "./request-decoding.ts";
import { groupVersion, NAMESPACES, type ApiResource, type ResourceTarget } from "./resources.ts";
import {
  badRequest,
  conflict,
  deleted,
  invalid,
  KubeStatusError,
  methodNotAllowed,
  notFound,
  unsupportedMediaType,
} from "./status.ts";
import { includeObject, toTable, wantsTable } from "./table.ts";
import { metadataErrors, validateWrite } from "./write-validation.ts";

export type ApiRequest = {
  readonly method: string;
  readonly query: URLSearchParams;
  readonly contentType: string;
  readonly body: string;
  /** The Accept header: `as=Table` answers reads with a Table, as kubectl get asks. */
  readonly accept?: string;
};

export type ApiResponse = {
  readonly status: number;
  /** JSON, or bytes sent as they are with `contentType`. */
  readonly body: unknown;
  readonly contentType?: string;
  readonly warnings?: readonly string[];
};

/**
 * The patch type is the request's Content-Type. client-node 2 sends application/json-patch+json by default
 * (the first type its generated code lists); a caller picks merge patch per call with
 * `api.patchNamespacedCustomObject(params, setHeaderOptions("Content-Type", PatchStrategy.MergePatch))`.
 * Strategic merge patch is refused with 415, as the API server refuses it for custom resources.
 */
const PATCH_CONTENT_TYPES = ["application/json-patch+json", "application/merge-patch+json"] as const;

/** Answers one request on a resource path; failures are thrown as KubeStatusError. */
export function handleResourceRequest(
  store: ObjectStore,
  target: ResourceTarget,
  request: ApiRequest,
): ApiResponse {
  const { resource, namespace, name } = target;
  if (request.query.has("watch") && request.query.get("watch") !== "false") {
    throw new KubeStatusError(badRequest("the canarybot kube sandbox does not serve watches"));
  }
  const allowed =
    request.method === "GET" || resource.writable || (request.method === "DELETE" && resource.deletable);
  if (!allowed) throw new KubeStatusError(methodNotAllowed());
  // kubectl sends built-in kinds in protobuf (`kubectl create namespace`); the sandbox reads JSON bodies only.
  if (/protobuf/i.test(request.contentType)) {
    throw new KubeStatusError(unsupportedMediaType(["application/json", ...PATCH_CONTENT_TYPES]));
  }
  // As on the server, a write into a namespace that does not exist is 404 for the namespace.
  if (
    request.method !== "GET" &&
    namespace !== undefined &&
    store.get(NAMESPACES, "", namespace) === undefined
  ) {
    throw new KubeStatusError(notFound(NAMESPACES, namespace));
  }
  if (name === undefined) {
    if (request.method === "GET") return list(store, target, request);
    if (request.method === "POST" && (namespace !== undefined || !resource.namespaced)) {
      return create(store, target, request);
    }
    throw new KubeStatusError(methodNotAllowed());
  }
  switch (request.method) {
    case "GET": {
      const object = store.get(resource, namespace ?? "", name);
      if (object === undefined) throw new KubeStatusError(notFound(resource, name));
      const body = atVersion(object, target);
      return { status: 200, body: asTableIf(request, target, [body], store.revision) ?? body };
    }
    case "PUT":
      return replace(store, target, name, request);
    case "PATCH":
      return patch(store, target, name, request);
    case "DELETE":
      return remove(store, target, name, request);
    default:
      throw new KubeStatusError(methodNotAllowed());
  }
}

/**
 * A human's `kubectl edit` / `kubectl apply`: validated like any write, stored with its status, no precondition.
 * Used to seed scenarios and by tests to change objects behind the bot's back.
 */
export function putObject(store: ObjectStore, resource: ApiResource, object: KubeObject): KubeObject {
  const version = object.apiVersion.split("/").at(-1) ?? "";
  const target: ResourceTarget = {
    resource,
    version: resource.versions.includes(version) ? version : (resource.versions[0] ?? version),
    ...(resource.namespaced ? { namespace: object.metadata.namespace ?? "default" } : {}),
    name: object.metadata.name,
  };
  const metadata = { ...object.metadata, namespace: target.namespace };
  delete metadata.resourceVersion;
  if (target.namespace === undefined) delete metadata.namespace;
  const candidate: KubeObject = withServerDefaults({ ...object, metadata });
  const exists = store.get(resource, target.namespace ?? "", object.metadata.name) !== undefined;
  const { object: checked } = validateWrite(
    target,
    candidate,
    "Ignore",
    exists ? [] : metadataErrors(candidate),
  );
  return exists ? store.update(resource, checked) : store.create(resource, checked);
}

/** Whether an object passes the request's labelSelector and fieldSelector; bad selectors are 400. */
export function selection(query: URLSearchParams): (object: KubeObject) => boolean {
  const labels = parseSelector(query.get("labelSelector") ?? "");
  const fields = parseFieldSelector(query.get("fieldSelector") ?? "");
  return (object) =>
    matchesLabels(labels, object.metadata.labels ?? {}) &&
    matchesLabels(fields, {
      "metadata.name": object.metadata.name,
      "metadata.namespace": object.metadata.namespace ?? "",
    });
}

/** The same objects as a Table when the request's Accept header asks for one. */
export function asTableIf(
  request: Pick<ApiRequest, "accept" | "query">,
  target: ResourceTarget,
  objects: readonly KubeObject[],
  resourceVersion: string,
): unknown {
  if (!wantsTable(request.accept)) return undefined;
  return toTable(target.resource, target.version, objects, {
    resourceVersion,
    include: includeObject(request.query),
  });
}

function list(store: ObjectStore, target: ResourceTarget, request: ApiRequest): ApiResponse {
  const selected = selection(request.query);
  const { resource } = target;
  const objects = store
    .list(resource, target.namespace)
    .filter(selected)
    .map((object) => atVersion(object, target));
  const table = asTableIf(request, target, objects, store.revision);
  if (table !== undefined) return { status: 200, body: table };
  // Built-in lists name kind and apiVersion once, on the list; custom resource lists on every item too.
  const items = objects.map((object) => (resource.custom ? object : withoutTypeMeta(object)));
  return {
    status: 200,
    body: {
      apiVersion: groupVersion(resource.group, target.version),
      kind: resource.listKind,
      metadata: { ...(resource.custom ? { continue: "" } : {}), resourceVersion: store.revision },
      items,
    },
  };
}

function create(store: ObjectStore, target: ResourceTarget, request: ApiRequest): ApiResponse {
  const object = decodeObject(request.body, target);
  if (object.metadata.name === "" && typeof object.metadata.generateName === "string") {
    object.metadata.name = object.metadata.generateName + randomSuffix();
  }
  // With a status subresource, create cannot set status.
  delete object.status;
  if (object.metadata.namespace === undefined) delete object.metadata.namespace;
  const { object: checked, warnings } = validateWrite(
    target,
    object,
    fieldValidation(request.query),
    metadataErrors(object),
  );
  const created = store.create(target.resource, withServerDefaults(checked), {
    dryRun: isDryRun(request.query),
  });
  return { status: 201, body: atVersion(created, target), warnings };
}

function replace(store: ObjectStore, target: ResourceTarget, name: string, request: ApiRequest): ApiResponse {
  const object = decodeObject(request.body, target);
  if (object.metadata.name !== name) {
    throw new KubeStatusError(
      badRequest(
        `the name of the object (${object.metadata.name}) does not match the name on the URL (${name})`,
      ),
    );
  }
  const existing = existingObject(store, target, name);
  // Custom resources do not allow unconditional updates: PUT must carry the resourceVersion it read.
  if ((object.metadata.resourceVersion ?? "") === "") {
    throw new KubeStatusError(
      invalid(target.resource, name, [
        {
          reason: "FieldValueInvalid",
          field: "metadata.resourceVersion",
          detail: "Invalid value: 0x0: must be specified for an update",
        },
      ]),
    );
  }
  return update(store, target, withStatusOf(object, existing), request.query);
}

function patch(store: ObjectStore, target: ResourceTarget, name: string, request: ApiRequest): ApiResponse {
  const contentType = request.contentType.split(";")[0]?.trim().toLowerCase() ?? "";
  if (!(PATCH_CONTENT_TYPES as readonly string[]).includes(contentType)) {
    throw new KubeStatusError(unsupportedMediaType(PATCH_CONTENT_TYPES));
  }
  const existing = atVersion(existingObject(store, target, name), target);
  const body = parseJson(request.body);
  let patched: unknown;
  if (contentType === "application/merge-patch+json") {
    if (!isJsonObject(body)) throw new KubeStatusError(badRequest("Invalid JSON Patch"));
    patched = applyMergePatch(existing, body);
  } else {
    try {
      patched = applyJsonPatch(existing, body);
    } catch (error) {
      if (!(error instanceof JsonPatchError)) throw error;
      throw new KubeStatusError(jsonPatchStatus(error));
    }
  }
  const object = asKubeObject(patched, target);
  if (object.metadata.name !== name || object.metadata.namespace !== target.namespace) {
    throw new KubeStatusError(badRequest("a patch may not change metadata.name or metadata.namespace"));
  }
  // A resourceVersion left in the patched object is a precondition, so setting one is compare-and-set; a patch
  // that leaves it alone carries the current one, and one that removes it makes the write unconditional.
  return update(store, target, withStatusOf(object, existing), request.query);
}

function update(
  store: ObjectStore,
  target: ResourceTarget,
  object: KubeObject,
  query: URLSearchParams,
): ApiResponse {
  const { resource } = target;
  const current = store.get(resource, target.namespace ?? "", object.metadata.name);
  const expected = object.metadata.resourceVersion ?? "";
  if (current !== undefined && expected !== "" && expected !== current.metadata.resourceVersion) {
    throw new KubeStatusError(conflict(resource, object.metadata.name));
  }
  const { object: checked, warnings } = validateWrite(target, object, fieldValidation(query), []);
  const updated = store.update(resource, checked, { dryRun: isDryRun(query) });
  return { status: 200, body: atVersion(updated, target), warnings };
}

function remove(store: ObjectStore, target: ResourceTarget, name: string, request: ApiRequest): ApiResponse {
  const existing = existingObject(store, target, name);
  const options = request.body.trim() === "" ? {} : parseJson(request.body);
  const preconditions =
    isJsonObject(options) && isJsonObject(options.preconditions) ? options.preconditions : {};
  for (const [field, label] of [
    ["resourceVersion", "ResourceVersion"],
    ["uid", "UID"],
  ] as const) {
    const wanted = preconditions[field];
    const actual = existing.metadata[field];
    if (typeof wanted === "string" && wanted !== actual) {
      const why = `Precondition failed: ${label} in precondition: ${wanted}, ${label} in object meta: ${String(actual)}`;
      throw new KubeStatusError(conflict(target.resource, name, why));
    }
  }
  if (!isDryRun(request.query)) store.delete(target.resource, target.namespace ?? "", name);
  return { status: 200, body: deleted(target.resource, name, existing.metadata.uid ?? "") };
}

// With a status subresource the main endpoint keeps the stored status, whatever the body says.
function withStatusOf(object: KubeObject, existing: KubeObject): KubeObject {
  const result = { ...object, status: existing.status };
  if (existing.status === undefined) delete result.status;
  return result;
}

function existingObject(store: ObjectStore, target: ResourceTarget, name: string): KubeObject {
  const object = store.get(target.resource, target.namespace ?? "", name);
  if (object === undefined) throw new KubeStatusError(notFound(target.resource, name));
  return object;
}

function parseSelector(selector: string) {
  try {
    return parseLabelSelector(selector);
  } catch (error) {
    throw new KubeStatusError(badRequest((error as Error).message));
  }
}

const SELECTABLE_FIELDS = ["metadata.name", "metadata.namespace"];

/** fieldSelector: `metadata.name` and `metadata.namespace` with =, == or != (what every kind supports). */
function parseFieldSelector(selector: string) {
  const requirements = parseSelector(selector);
  for (const requirement of requirements) {
    if (!SELECTABLE_FIELDS.includes(requirement.key) || !["=", "!="].includes(requirement.op)) {
      throw new KubeStatusError(
        badRequest(
          `field label not supported: ${requirement.key} (the sandbox selects on ${SELECTABLE_FIELDS.join(", ")})`,
        ),
      );
    }
  }
  return requirements;
}

/** What the server fills in: a namespace is Active and labelled with its own name. */
function withServerDefaults(object: KubeObject): KubeObject {
  if (object.kind !== NAMESPACES.kind) return object;
  const labels = { ...object.metadata.labels, "kubernetes.io/metadata.name": object.metadata.name };
  return {
    ...object,
    metadata: { ...object.metadata, labels },
    spec: { finalizers: ["kubernetes"] },
    status: { phase: "Active" },
  };
}

/** One storage, every served version: conversion between Istio's versions is only the apiVersion (strategy None). */
function atVersion(object: KubeObject, target: ResourceTarget): KubeObject {
  return { ...object, apiVersion: groupVersion(target.resource.group, target.version) };
}

function withoutTypeMeta(object: KubeObject): Partial<KubeObject> {
  const rest: Partial<KubeObject> = { ...object };
  delete rest.apiVersion;
  delete rest.kind;
  return rest;
}

function randomSuffix(): string {
  // The alphabet the API server's name generator uses (no vowels, no look-alike digits).
  const alphabet = "bcdfghjklmnpqrstvwxz2456789";
  return Array.from({ length: 5 }, () => alphabet[randomInt(alphabet.length)]).join("");
}
