import { isJsonObject, jsonEqual } from "./json-equal.ts";

/**
 * RFC 6902 JSON Patch, as the API server applies `application/json-patch+json` bodies. Messages follow the
 * wording of the patch library the server uses (evanphx/json-patch), which it passes on to the client.
 */
export class JsonPatchError extends Error {
  override readonly name = "JsonPatchError";
  /** True when the body is not a patch document at all (the server answers 400, otherwise 422). */
  readonly malformed: boolean;

  constructor(message: string, malformed = false) {
    super(message);
    this.malformed = malformed;
  }
}

type Container = Record<string, unknown> | unknown[];

export function applyJsonPatch(document: unknown, patch: unknown): unknown {
  if (!Array.isArray(patch) || !patch.every(isJsonObject)) {
    throw new JsonPatchError("json: cannot unmarshal into Go value of type jsonpatch.Patch", true);
  }
  let root = structuredClone(document);
  for (const operation of patch) {
    root = applyOperation(root, operation);
  }
  return root;
}

function applyOperation(root: unknown, operation: Record<string, unknown>): unknown {
  const op = operation.op;
  const path = pointer(operation.path, `${String(op)} operation`);
  switch (op) {
    case "add":
      return add(root, path, requiredValue(operation, op));
    case "remove":
      remove(root, path);
      return root;
    case "replace":
      get(root, path, `replace operation does not apply: doc is missing key: ${path.raw}: missing value`);
      return replace(root, path, requiredValue(operation, op));
    case "move": {
      const from = pointer(operation.from, "move operation");
      const value = get(
        root,
        from,
        `move operation does not apply: doc is missing from path: ${from.raw}: missing value`,
      );
      remove(root, from);
      return add(root, path, value);
    }
    case "copy": {
      const from = pointer(operation.from, "copy operation");
      const value = get(
        root,
        from,
        `copy operation does not apply: doc is missing from path: ${from.raw}: missing value`,
      );
      return add(root, path, structuredClone(value));
    }
    case "test": {
      const failed = `testing value ${path.raw} failed: test failed`;
      if (!jsonEqual(get(root, path, failed), requiredValue(operation, op))) throw new JsonPatchError(failed);
      return root;
    }
    default:
      throw new JsonPatchError(`Unexpected kind: ${String(op)}`);
  }
}

type Pointer = { raw: string; tokens: string[] };

function pointer(value: unknown, what: string): Pointer {
  if (typeof value !== "string" || (value !== "" && !value.startsWith("/"))) {
    throw new JsonPatchError(`${what} has an invalid path: ${JSON.stringify(value)}`);
  }
  const tokens =
    value === ""
      ? []
      : value
          .slice(1)
          .split("/")
          .map((token) => token.replaceAll("~1", "/").replaceAll("~0", "~"));
  return { raw: value, tokens };
}

function requiredValue(operation: Record<string, unknown>, op: string): unknown {
  if (!Object.hasOwn(operation, "value")) throw new JsonPatchError(`${op} operation is missing value`);
  return structuredClone(operation.value);
}

const MISSING = Symbol("missing");

function child(container: unknown, token: string): unknown {
  if (Array.isArray(container)) {
    const index = arrayIndex(token, container.length - 1);
    return index === undefined ? MISSING : container[index];
  }
  return isJsonObject(container) && Object.hasOwn(container, token) ? container[token] : MISSING;
}

function arrayIndex(token: string, max: number): number | undefined {
  if (!/^(0|[1-9][0-9]*)$/.test(token)) return undefined;
  const index = Number(token);
  return index <= max ? index : undefined;
}

function get(root: unknown, path: Pointer, missingMessage: string): unknown {
  let current: unknown = root;
  for (const token of path.tokens) {
    current = child(current, token);
    if (current === MISSING) throw new JsonPatchError(missingMessage);
  }
  return current;
}

function parent(root: unknown, path: Pointer, op: string): { container: Container; key: string } {
  const key = path.tokens.at(-1) ?? "";
  const container = get(root, { raw: path.raw, tokens: path.tokens.slice(0, -1) }, missingPath(op, path));
  if (!Array.isArray(container) && !isJsonObject(container)) throw new JsonPatchError(missingPath(op, path));
  return { container, key };
}

function missingPath(op: string, path: Pointer): string {
  return `${op} operation does not apply: doc is missing path: "${path.raw}": missing value`;
}

function add(root: unknown, path: Pointer, value: unknown): unknown {
  if (path.tokens.length === 0) return value;
  const { container, key } = parent(root, path, "add");
  if (!Array.isArray(container)) {
    container[key] = value;
    return root;
  }
  const index = key === "-" ? container.length : arrayIndex(key, container.length);
  if (index === undefined)
    throw new JsonPatchError(`Unable to access invalid index: ${key}: invalid index referenced`);
  container.splice(index, 0, value);
  return root;
}

function replace(root: unknown, path: Pointer, value: unknown): unknown {
  if (path.tokens.length === 0) return value;
  const { container, key } = parent(root, path, "replace");
  // get() has already checked that the target exists, so an array key is an in-range index.
  if (Array.isArray(container)) container[Number(key)] = value;
  else container[key] = value;
  return root;
}

function remove(root: unknown, path: Pointer): void {
  if (path.tokens.length === 0) throw new JsonPatchError(missingPath("remove", path));
  const { container, key } = parent(root, path, "remove");
  if (Array.isArray(container)) {
    const index = arrayIndex(key, container.length - 1);
    if (index === undefined)
      throw new JsonPatchError(`Unable to access invalid index: ${key}: invalid index referenced`);
    container.splice(index, 1);
    return;
  }
  if (!Object.hasOwn(container, key))
    throw new JsonPatchError(`Unable to remove nonexistent key: ${key}: missing value`);
  delete container[key];
}
