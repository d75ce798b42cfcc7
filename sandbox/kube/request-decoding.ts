import { isJsonObject } from "../../src/json/json-value.ts";
import type { KubeObject } from "./object-store.ts";
import { groupVersion, type ResourceTarget } from "./resources.ts";
import { badRequest, KubeStatusError } from "./status.ts";

export type FieldValidation = "Ignore" | "Warn" | "Strict";

/** The fieldValidation query parameter: what to do about unknown fields (default Warn, as on current servers). */
export function fieldValidation(query: URLSearchParams): FieldValidation {
  const value = query.get("fieldValidation") ?? "Warn";
  if (value === "Ignore" || value === "Warn" || value === "Strict") return value;
  throw new KubeStatusError(
    badRequest(
      `fieldValidation: Unsupported value: ${JSON.stringify(value)}: supported values: "Ignore", "Strict", "Warn"`,
    ),
  );
}

/** dryRun=All: validate and answer, but store nothing. */
export function isDryRun(query: URLSearchParams): boolean {
  const values = query.getAll("dryRun");
  if (values.some((value) => value !== "All")) {
    throw new KubeStatusError(
      badRequest(`dryRun: Unsupported value: ${JSON.stringify(values)}: supported values: "All"`),
    );
  }
  return values.length > 0;
}

/** A JSON body, or 400 BadRequest with the parser's message (after `prefix`). */
export function parseJson(text: string, prefix = ""): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new KubeStatusError(badRequest(prefix + (error as Error).message));
  }
}

/** Decodes a POST/PUT body the way the server does: JSON, of the kind and group/version in the URL. */
export function decodeObject(body: string, target: ResourceTarget): KubeObject {
  const value = parseJson(body, "couldn't get version/kind; json parse error: ");
  const object = asKubeObject(value, target);
  const expected = groupVersion(target.resource.group, target.version);
  if (object.apiVersion !== expected) {
    throw new KubeStatusError(
      badRequest(
        `the API version in the data (${object.apiVersion}) does not match the expected API version (${expected})`,
      ),
    );
  }
  const { namespace } = object.metadata;
  if (namespace !== undefined && namespace !== "" && namespace !== target.namespace) {
    throw new KubeStatusError(
      badRequest("the namespace of the provided object does not match the namespace sent on the request"),
    );
  }
  return { ...object, metadata: { ...object.metadata, namespace: target.namespace } };
}

/** Checks a decoded body (or a patch result) is an object of the URL's kind, with metadata and a name. */
export function asKubeObject(value: unknown, target: ResourceTarget): KubeObject {
  if (!isJsonObject(value)) throw new KubeStatusError(badRequest("the request body is not a JSON object"));
  if (typeof value.kind !== "string" || value.kind === "") {
    throw new KubeStatusError(badRequest(`Object 'Kind' is missing in '${JSON.stringify(value)}'`));
  }
  if (value.kind !== target.resource.kind) {
    throw new KubeStatusError(
      badRequest(
        `the kind in the data (${value.kind}) does not match the expected kind (${target.resource.kind})`,
      ),
    );
  }
  const metadata = isJsonObject(value.metadata) ? value.metadata : {};
  return {
    ...value,
    apiVersion: typeof value.apiVersion === "string" ? value.apiVersion : "",
    kind: value.kind,
    metadata: {
      ...metadata,
      name: typeof metadata.name === "string" ? metadata.name : "",
    },
  };
}
