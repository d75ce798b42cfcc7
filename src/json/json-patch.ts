import jsonpatch, { type Operation } from "fast-json-patch";
import { isJsonObject, type JsonObject } from "./json-value.ts";

/** An RFC 6902 operation. Values are JSON: a key holding `undefined` is dropped, as on its way to a server. */
export type JsonPatchOperation =
  | { op: "add" | "replace" | "test"; path: string; value: unknown }
  | { op: "remove"; path: string }
  | { op: "move" | "copy"; from: string; path: string };

/** Why a patch did not apply, for callers to translate (the Kubernetes sandbox into a 400 or 422 Status). */
export const JsonPatchFailure = {
  /** The patch is not a list of operation objects. */
  NotAPatch: "not_a_patch",
  /** An unknown `op`, a `path` or `from` that is not a JSON pointer, or a missing `value`. */
  InvalidOperation: "invalid_operation",
  /** A `test` whose value differs, or whose location does not exist (RFC 6902 §4.6). */
  TestFailed: "test_failed",
  /** The `path` (or `from`) names no value, or for `add` no container. */
  PathNotFound: "path_not_found",
  /** An array index that is not a number, or lies past the end of the array. */
  InvalidIndex: "invalid_index",
} as const;
export type JsonPatchFailure = (typeof JsonPatchFailure)[keyof typeof JsonPatchFailure];

export class JsonPatchError extends Error {
  override readonly name = "JsonPatchError";
  readonly failure: JsonPatchFailure;
  /** The operation that did not apply, as given; undefined when the patch as a whole is malformed. */
  readonly operation: JsonObject | undefined;
  /** The JSON pointer at fault: the operation's `path`, or its `from` when that names no value. */
  readonly location: string;

  constructor(
    failure: JsonPatchFailure,
    message: string,
    details: { operation?: JsonObject; location?: string; cause?: unknown } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.failure = failure;
    this.operation = details.operation;
    this.location =
      details.location ?? (typeof details.operation?.path === "string" ? details.operation.path : "");
  }
}

type LibraryError = InstanceType<typeof jsonpatch.JsonPatchError>;

const LIBRARY_FAILURES: Record<LibraryError["name"], JsonPatchFailure> = {
  SEQUENCE_NOT_AN_ARRAY: JsonPatchFailure.NotAPatch,
  OPERATION_NOT_AN_OBJECT: JsonPatchFailure.NotAPatch,
  OPERATION_OP_INVALID: JsonPatchFailure.InvalidOperation,
  OPERATION_PATH_INVALID: JsonPatchFailure.InvalidOperation,
  OPERATION_FROM_REQUIRED: JsonPatchFailure.InvalidOperation,
  OPERATION_VALUE_REQUIRED: JsonPatchFailure.InvalidOperation,
  OPERATION_VALUE_CANNOT_CONTAIN_UNDEFINED: JsonPatchFailure.InvalidOperation,
  TEST_OPERATION_FAILED: JsonPatchFailure.TestFailed,
  OPERATION_PATH_CANNOT_ADD: JsonPatchFailure.PathNotFound,
  OPERATION_PATH_UNRESOLVABLE: JsonPatchFailure.PathNotFound,
  OPERATION_FROM_UNRESOLVABLE: JsonPatchFailure.PathNotFound,
  OPERATION_PATH_ILLEGAL_ARRAY_INDEX: JsonPatchFailure.InvalidIndex,
  OPERATION_VALUE_OUT_OF_BOUNDS: JsonPatchFailure.InvalidIndex,
};

/** RFC 6901: `~` → `~0`, `/` → `~1`. */
export function pointer(...tokens: (string | number)[]): string {
  return tokens.map((token) => `/${jsonpatch.escapePathComponent(String(token))}`).join("");
}

/**
 * Apply an RFC 6902 patch (with fast-json-patch) to a JSON copy of `document`, all or nothing: neither argument
 * is modified. `patch` is a list of JsonPatchOperation, checked here, so a parsed request body can be passed as
 * it is. Throws JsonPatchError.
 */
export function applyJsonPatch<T>(document: T, patch: unknown): T {
  if (!Array.isArray(patch) || !patch.every(isJsonObject)) {
    throw new JsonPatchError(JsonPatchFailure.NotAPatch, "a JSON patch is a list of operation objects");
  }
  // Copied as JSON, as a server receives them, so that the result shares nothing with the operations.
  const operations = jsonpatch.deepClone(patch) as Operation[];
  try {
    return jsonpatch.applyPatch(document, operations, validateOperation, false).newDocument;
  } catch (error) {
    if (!(error instanceof jsonpatch.JsonPatchError)) throw error;
    const index = operations.indexOf(error.operation as Operation);
    throw translate(error, patch[index] ?? (isJsonObject(error.operation) ? error.operation : undefined));
  }
}

/** The library's checks, and three more: `from` is a pointer, the root stays, nothing moves into itself. */
function validateOperation(
  operation: Operation,
  index: number,
  document: unknown,
  existingPath: string,
): void {
  jsonpatch.validator(operation, index, document, existingPath);
  const fail = (failure: JsonPatchFailure, message: string) =>
    new JsonPatchError(failure, message, { operation: { ...operation } });
  if ((operation.op === "move" || operation.op === "copy") && !/^(\/|$)/.test(operation.from)) {
    const detail = `Operation \`from\` property must start with "/": ${JSON.stringify(operation)}`;
    throw fail(JsonPatchFailure.InvalidOperation, detail);
  }
  if (operation.op === "remove" && operation.path === "") {
    throw fail(JsonPatchFailure.PathNotFound, "cannot remove the document root");
  }
  if (operation.op === "move" && operation.path.startsWith(`${operation.from}/`)) {
    throw fail(
      JsonPatchFailure.PathNotFound,
      `cannot move '${operation.from}' into itself, at '${operation.path}'`,
    );
  }
}

function translate(cause: LibraryError, operation: JsonObject | undefined): JsonPatchError {
  const libraryFailure = LIBRARY_FAILURES[cause.name];
  const path = String(operation?.path);
  // A test of a location that does not exist fails as a test (RFC 6902 §4.6), not as a missing path.
  const failure =
    operation?.op === "test" && libraryFailure !== JsonPatchFailure.InvalidOperation
      ? JsonPatchFailure.TestFailed
      : libraryFailure;
  const location = cause.name === "OPERATION_FROM_UNRESOLVABLE" ? String(operation?.from) : path;
  return new JsonPatchError(failure, failureMessage(failure, cause, operation, location), {
    operation,
    location,
    cause,
  });
}

function failureMessage(
  failure: JsonPatchFailure,
  cause: LibraryError,
  operation: JsonObject | undefined,
  location: string,
): string {
  switch (failure) {
    case JsonPatchFailure.NotAPatch:
      return "a JSON patch is a list of operation objects";
    case JsonPatchFailure.InvalidOperation:
      return `${cause.message.split("\n", 1)[0] ?? cause.name}: ${JSON.stringify(operation)}`;
    case JsonPatchFailure.TestFailed:
      return `test failed at '${location}'`;
    case JsonPatchFailure.PathNotFound:
      return `no value at '${location}'`;
    case JsonPatchFailure.InvalidIndex:
      return `invalid array index at '${location}'`;
  }
}
