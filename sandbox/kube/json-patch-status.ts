import { JsonPatchFailure, type JsonPatchError } from "../../src/json/json-patch.ts";
import { badRequest, patchNotApplied, type KubeStatus } from "./status.ts";

const OPERATIONS: readonly unknown[] = ["add", "remove", "replace", "move", "copy", "test"];

/**
 * The Status the API server answers a JSON patch that does not apply with: 400 when the body is not a patch
 * document, otherwise 422 with the message of the patch library the server uses (evanphx/json-patch).
 */
export function jsonPatchStatus(error: JsonPatchError): KubeStatus {
  if (error.failure === JsonPatchFailure.NotAPatch) {
    return badRequest("json: cannot unmarshal into Go value of type jsonpatch.Patch");
  }
  return patchNotApplied(jsonPatchMessage(error));
}

function jsonPatchMessage(error: JsonPatchError): string {
  const { op, path, from } = error.operation ?? {};
  const kind = String(op);
  const at = error.location;
  switch (error.failure) {
    case JsonPatchFailure.NotAPatch:
      return "json: cannot unmarshal into Go value of type jsonpatch.Patch";
    case JsonPatchFailure.InvalidOperation:
      if (!OPERATIONS.includes(op)) return `Unexpected kind: ${kind}`;
      if (!isPointer(path)) return `${kind} operation has an invalid path: ${JSON.stringify(path)}`;
      if ((op === "move" || op === "copy") && !isPointer(from)) {
        return `${kind} operation has an invalid path: ${JSON.stringify(from)}`;
      }
      return `${kind} operation is missing value`;
    case JsonPatchFailure.TestFailed:
      return `testing value ${at} failed: test failed`;
    case JsonPatchFailure.PathNotFound:
      if ((op === "move" || op === "copy") && at === from) {
        return `${kind} operation does not apply: doc is missing from path: ${at}: missing value`;
      }
      if (op === "replace") {
        return `replace operation does not apply: doc is missing key: ${at}: missing value`;
      }
      // A move or copy whose destination is missing fails in its add step.
      return `${op === "remove" ? "remove" : "add"} operation does not apply: doc is missing path: "${at}": missing value`;
    case JsonPatchFailure.InvalidIndex:
      return `Unable to access invalid index: ${at.slice(at.lastIndexOf("/") + 1)}: invalid index referenced`;
  }
}

function isPointer(value: unknown): boolean {
  return typeof value === "string" && (value === "" || value.startsWith("/"));
}
