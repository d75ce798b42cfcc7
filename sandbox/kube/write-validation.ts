import type { KubeObject } from "./object-store.ts";
import type { ResourceTarget } from "./resources.ts";
import { checkAgainstSchema } from "./schema-validation.ts";
import { badRequest, invalid, KubeStatusError, type FieldError } from "./status.ts";
import type { FieldValidation } from "./request-decoding.ts";

/**
 * Checks a write as the server's create/update validation does: metadata errors (from the caller) and the CRD
 * schema of the requested version together in one 422; unknown fields pruned, then warned about or refused.
 */
export function validateWrite(
  target: ResourceTarget,
  object: KubeObject,
  mode: FieldValidation,
  extraErrors: readonly FieldError[],
): { object: KubeObject; warnings: string[] } {
  const schema = target.resource.schemas.get(target.version);
  const check = schema === undefined ? undefined : checkAgainstSchema(schema, object);
  const errors = [...extraErrors, ...(check?.errors ?? [])];
  if (errors.length > 0) throw new KubeStatusError(invalid(target.resource, object.metadata.name, errors));
  const unknownFields = (check?.unknownFields ?? []).map((field) => `unknown field "${field}"`);
  if (mode === "Strict" && unknownFields.length > 0) {
    throw new KubeStatusError(badRequest(`strict decoding error: ${unknownFields.join(", ")}`));
  }
  return {
    object: (check?.object as KubeObject | undefined) ?? object,
    warnings: mode === "Warn" ? unknownFields : [],
  };
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Create-time checks of metadata.name (an RFC 1123 subdomain), worded like the server. */
export function metadataErrors(object: KubeObject): FieldError[] {
  const { name } = object.metadata;
  if (name === "") {
    return [
      {
        reason: "FieldValueRequired",
        field: "metadata.name",
        detail: "Required value: name or generateName is required",
      },
    ];
  }
  if (name.length <= 253 && DNS_SUBDOMAIN.test(name)) return [];
  return [
    {
      reason: "FieldValueInvalid",
      field: "metadata.name",
      detail:
        `Invalid value: ${JSON.stringify(name)}: a lowercase RFC 1123 subdomain must consist of lower case ` +
        "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character " +
        "(e.g. 'example.com', regex used for validation is " +
        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
    },
  ];
}
