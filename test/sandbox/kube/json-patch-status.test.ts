import { describe, expect, it } from "vitest";
import { applyJsonPatch, JsonPatchError } from "../../../src/json/json-patch.ts";
import { jsonPatchStatus } from "../../../sandbox/kube/json-patch-status.ts";

const statusOf = (document: unknown, patch: unknown) => {
  try {
    applyJsonPatch(document, patch);
  } catch (error) {
    if (!(error instanceof JsonPatchError)) throw error;
    const status = jsonPatchStatus(error);
    return { code: status.code, message: status.details?.causes?.[0]?.message ?? status.message };
  }
  throw new Error("the patch applied");
};

describe("jsonPatchStatus", () => {
  it.each([
    [{ baz: "qux" }, [{ op: "test", path: "/baz", value: "bar" }], "testing value /baz failed: test failed"],
    [
      { baz: "qux" },
      [{ op: "test", path: "/nope", value: "qux" }],
      "testing value /nope failed: test failed",
    ],
    [{ a: ["1"] }, [{ op: "test", path: "/a/0", value: 1 }], "testing value /a/0 failed: test failed"],
    [
      { foo: "bar" },
      [{ op: "add", path: "/baz/bat", value: "qux" }],
      'add operation does not apply: doc is missing path: "/baz/bat": missing value',
    ],
    [
      { a: 1 },
      [{ op: "replace", path: "/b", value: 2 }],
      "replace operation does not apply: doc is missing key: /b: missing value",
    ],
    [
      { a: 1 },
      [{ op: "remove", path: "/b" }],
      'remove operation does not apply: doc is missing path: "/b": missing value',
    ],
    [
      { a: 1 },
      [{ op: "move", from: "/x", path: "/b" }],
      "move operation does not apply: doc is missing from path: /x: missing value",
    ],
    [
      { a: [1] },
      [{ op: "add", path: "/a/5", value: 2 }],
      "Unable to access invalid index: 5: invalid index referenced",
    ],
    [{ a: 1 }, [{ op: "frobnicate", path: "/a" }], "Unexpected kind: frobnicate"],
    [{ a: 1 }, [{ op: "add", path: "/b" }], "add operation is missing value"],
    [{ a: 1 }, [{ op: "add", path: "b", value: 1 }], 'add operation has an invalid path: "b"'],
    [{ a: 1 }, [{ op: "copy", path: "/b" }], "copy operation has an invalid path: undefined"],
  ])("answers 422 to %j patched with %j, worded like the API server", (document, patch, message) => {
    expect(statusOf(document, patch)).toEqual({ code: 422, message });
  });

  it("answers 400 to a body that is not a list of operations", () => {
    const notAPatch = { code: 400, message: "json: cannot unmarshal into Go value of type jsonpatch.Patch" };
    expect(statusOf({}, { op: "add", path: "/a", value: 1 })).toEqual(notAPatch);
    expect(statusOf({}, ["add"])).toEqual(notAPatch);
  });
});
