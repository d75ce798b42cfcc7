import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import type { JsonSchema } from "./crds.ts";
import { isJsonObject } from "../../src/json/json-value.ts";
import type { FieldError } from "./status.ts";

export type SchemaCheck = {
  /** The object as the server would store it: unknown fields and non-nullable nulls pruned. */
  readonly object: Record<string, unknown>;
  /** Paths of the pruned unknown fields (the server warns about them, or refuses them under fieldValidation=Strict). */
  readonly unknownFields: readonly string[];
  readonly errors: readonly FieldError[];
};

/**
 * Checks a custom resource the way the API server checks a CRD's structural openAPIV3Schema: prune, then validate.
 * Not evaluated: `x-kubernetes-validations` (CEL rules, which need a CEL interpreter) — Ajv ignores the unknown
 * keyword, so objects that only break a CEL rule (e.g. a malformed duration string) are accepted here. The other
 * `x-kubernetes-*` markers only steer pruning (`preserve-unknown-fields`, handled below) or are implied by `anyOf`.
 */
export function checkAgainstSchema(schema: JsonSchema, object: Record<string, unknown>): SchemaCheck {
  const pruned = structuredClone(object);
  const unknownFields: string[] = [];
  prune(
    pruned,
    { ...schema, properties: { ...asSchemaMap(schema.properties), ...ROOT_FIELDS } },
    "",
    unknownFields,
  );
  const validate = compiled(schema);
  const errors = validate(pruned) ? [] : toFieldErrors(validate.errors ?? [], pruned);
  return { object: pruned, unknownFields, errors };
}

// The server handles these itself; the CRD schema describes only spec and status.
const ROOT_FIELDS: Record<string, JsonSchema> = {
  apiVersion: { type: "string" },
  kind: { type: "string" },
  metadata: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
};

let ajv: Ajv | undefined;
const validators = new WeakMap<JsonSchema, ValidateFunction>();

function compiled(schema: JsonSchema): ValidateFunction {
  ajv ??= new Ajv({
    // strict:false lets the x-kubernetes-* keywords through unevaluated; Ajv understands OpenAPI's `nullable`.
    strict: false,
    allErrors: true,
    verbose: true,
    formats: {
      // Numeric formats are documentation to the API server: it checks only the type and the bounds.
      int32: true,
      int64: true,
      uint32: true,
      float: true,
      double: true,
      byte: /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/,
      "date-time": /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$/,
    },
  });
  let validate = validators.get(schema);
  if (validate === undefined) {
    validate = ajv.compile(schema);
    validators.set(schema, validate);
  }
  return validate;
}

function asSchemaMap(value: unknown): Record<string, JsonSchema> | undefined {
  return isJsonObject(value) ? (value as Record<string, JsonSchema>) : undefined;
}

function prune(value: unknown, schema: JsonSchema, path: string, unknownFields: string[]): void {
  if (Array.isArray(value)) {
    const items = schema.items;
    if (isJsonObject(items)) value.forEach((item, i) => prune(item, items, `${path}[${i}]`, unknownFields));
    return;
  }
  if (!isJsonObject(value)) return;
  const properties = asSchemaMap(schema.properties);
  const additional = schema.additionalProperties;
  const preserveUnknown = schema["x-kubernetes-preserve-unknown-fields"] === true;
  for (const [key, item] of Object.entries(value)) {
    const fieldPath = path === "" ? key : `${path}.${key}`;
    const fieldSchema = properties?.[key] ?? (isJsonObject(additional) ? additional : undefined);
    if (fieldSchema === undefined) {
      if (!preserveUnknown && additional !== true) {
        delete value[key];
        unknownFields.push(fieldPath);
      }
    } else if (item === null && fieldSchema.nullable !== true) {
      // Structural schemas drop nulls of non-nullable fields instead of rejecting them.
      delete value[key];
    } else {
      prune(item, fieldSchema, fieldPath, unknownFields);
    }
  }
}

function toFieldErrors(errors: readonly ErrorObject[], root: unknown): FieldError[] {
  return (
    errors
      // Inside anyOf/oneOf branches Ajv reports every failed alternative; the server reports the combinator once.
      .filter((error) => !/\/(?:anyOf|oneOf)\/\d+\//.test(error.schemaPath))
      .map((error) => toFieldError(error, fieldPath(error.instancePath, root)))
  );
}

function toFieldError(error: ErrorObject, field: string): FieldError {
  const params = error.params as Record<string, unknown>;
  const invalid = (text: string): FieldError => ({
    reason: "FieldValueInvalid",
    field,
    detail: `Invalid value: ${formatValue(error.data)}: ${field} in body ${text}`,
  });
  switch (error.keyword) {
    case "required": {
      const missing = `${field === "" ? "" : `${field}.`}${String(params.missingProperty)}`;
      return { reason: "FieldValueRequired", field: missing, detail: "Required value" };
    }
    case "type": {
      const actual = jsonType(error.data);
      return {
        reason: "FieldValueTypeInvalid",
        field,
        detail: `Invalid value: "${actual}": ${field} in body must be of type ${String(params.type)}: "${actual}"`,
      };
    }
    case "enum": {
      const allowed = (params.allowedValues as unknown[]).map((value) => JSON.stringify(value)).join(", ");
      return {
        reason: "FieldValueNotSupported",
        field,
        detail: `Unsupported value: ${formatValue(error.data)}: supported values: ${allowed}`,
      };
    }
    case "minimum":
      return invalid(`should be greater than or equal to ${String(params.limit)}`);
    case "maximum":
      return invalid(`should be less than or equal to ${String(params.limit)}`);
    case "exclusiveMinimum":
      return invalid(`should be greater than ${String(params.limit)}`);
    case "exclusiveMaximum":
      return invalid(`should be less than ${String(params.limit)}`);
    case "minLength":
      return invalid(`should be at least ${String(params.limit)} chars long`);
    case "maxLength":
      return invalid(`should be at most ${String(params.limit)} chars long`);
    case "minItems":
      return invalid(`should have at least ${String(params.limit)} items`);
    case "maxItems":
      return invalid(`should have at most ${String(params.limit)} items`);
    case "pattern":
      return invalid(`should match '${String(params.pattern)}'`);
    case "format":
      return invalid(`must be of type ${String(params.format)}`);
    case "oneOf":
      return invalid("must validate one and only one schema (oneOf)");
    case "anyOf":
      return invalid("must validate at least one schema (anyOf)");
    case "not":
      return invalid("must not validate the schema (not)");
    default:
      return invalid(error.message ?? `fails ${error.keyword}`);
  }
}

/** `/spec/http/0/route/0/weight` → `spec.http[0].route[0].weight`, telling array indices from map keys by the data. */
function fieldPath(instancePath: string, root: unknown): string {
  let path = "";
  let current: unknown = root;
  for (const token of instancePath.split("/").slice(1)) {
    const key = token.replaceAll("~1", "/").replaceAll("~0", "~");
    if (Array.isArray(current)) {
      path += `[${key}]`;
      current = current[Number(key)];
    } else {
      path += path === "" ? key : `.${key}`;
      current = isJsonObject(current) ? current[key] : undefined;
    }
  }
  return path;
}

function jsonType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value;
}

function formatValue(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "object" && value !== null) return `"${jsonType(value)}"`;
  return String(value);
}
