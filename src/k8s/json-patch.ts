import { CanaryError, ErrorCode } from "../errors.ts";
import { cloneJson, isJsonObject, jsonEqual } from "./json.ts";

/** RFC 6902 operations the router emits. */
export type JsonPatchOperation =
  | { op: "test"; path: string; value: unknown }
  | { op: "add"; path: string; value: unknown }
  | { op: "replace"; path: string; value: unknown }
  | { op: "remove"; path: string };

/** RFC 6901: `~` → `~0`, `/` → `~1`. */
export function pointer(...tokens: (string | number)[]): string {
  return tokens.map((token) => `/${String(token).replaceAll("~", "~0").replaceAll("/", "~1")}`).join("");
}

function parsePointer(path: string): string[] {
  if (path === "") return [];
  if (!path.startsWith("/")) throw patchError(`invalid JSON pointer '${path}'`);
  return path
    .slice(1)
    .split("/")
    .map((token) => token.replaceAll("~1", "/").replaceAll("~0", "~"));
}

function patchError(message: string): CanaryError {
  return new CanaryError(ErrorCode.InvalidInput, `JSON patch: ${message}`);
}

/**
 * Apply a JSON patch to a copy of `document` (atomically: the input is never modified). A failing `test`
 * throws. Used to preview a change (`--dry-run`) and by tests; the API server applies the real thing.
 */
export function applyJsonPatch<T>(document: T, operations: readonly JsonPatchOperation[]): T {
  let root: unknown = cloneJson(document);
  for (const operation of operations) {
    const tokens = parsePointer(operation.path);
    if (tokens.length === 0) {
      if (operation.op === "test") {
        if (!jsonEqual(root, operation.value)) throw patchError(`test failed at '${operation.path}'`);
      } else if (operation.op === "remove") {
        throw patchError("cannot remove the document root");
      } else {
        root = cloneJson(operation.value);
      }
      continue;
    }
    const parent = resolve(root, tokens.slice(0, -1), operation.path);
    const last = tokens[tokens.length - 1] ?? "";
    if (Array.isArray(parent)) {
      const index = last === "-" ? parent.length : Number(last);
      const bound = operation.op === "add" ? parent.length : parent.length - 1;
      if (!/^(0|[1-9][0-9]*|-)$/.test(last) || index > bound) {
        throw patchError(`index '${last}' out of range at '${operation.path}'`);
      }
      switch (operation.op) {
        case "test":
          if (!jsonEqual(parent[index], operation.value))
            throw patchError(`test failed at '${operation.path}'`);
          break;
        case "add":
          parent.splice(index, 0, cloneJson(operation.value));
          break;
        case "replace":
          parent[index] = cloneJson(operation.value);
          break;
        case "remove":
          parent.splice(index, 1);
          break;
      }
    } else if (isJsonObject(parent)) {
      const present = Object.hasOwn(parent, last);
      if (!present && operation.op !== "add") throw patchError(`no value at '${operation.path}'`);
      switch (operation.op) {
        case "test":
          if (!jsonEqual(parent[last], operation.value))
            throw patchError(`test failed at '${operation.path}'`);
          break;
        case "add":
        case "replace":
          parent[last] = cloneJson(operation.value);
          break;
        case "remove":
          delete parent[last];
          break;
      }
    } else {
      throw patchError(`no container at '${operation.path}'`);
    }
  }
  return root as T;
}

function resolve(root: unknown, tokens: string[], path: string): unknown {
  let node = root;
  for (const token of tokens) {
    if (Array.isArray(node)) node = node[Number(token)];
    else if (isJsonObject(node) && Object.hasOwn(node, token)) node = node[token];
    else throw patchError(`no value at '${path}'`);
    if (node === undefined) throw patchError(`no value at '${path}'`);
  }
  return node;
}
