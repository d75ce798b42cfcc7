import { describe, expect, it } from "vitest";
import {
  applyJsonPatch,
  JsonPatchError,
  JsonPatchFailure,
  pointer,
  type JsonPatchOperation,
} from "../../src/json/json-patch.ts";

const failure = (document: unknown, patch: unknown) => {
  try {
    applyJsonPatch(document, patch);
  } catch (error) {
    if (!(error instanceof JsonPatchError)) throw error;
    return {
      failure: error.failure,
      location: error.location,
      message: error.message,
      op: error.operation?.op,
    };
  }
  throw new Error("the patch applied");
};

describe("applyJsonPatch", () => {
  const doc = {
    metadata: { resourceVersion: "7", annotations: { "a/b": "x" } },
    spec: { http: [{ n: 0 }, { n: 1 }], o: { x: 1, y: 2 } },
  };

  it("applies test, add, replace and remove to a copy, leaving the input alone", () => {
    const result = applyJsonPatch(doc, [
      { op: "test", path: "/metadata/resourceVersion", value: "7" },
      { op: "test", path: "/spec/o", value: { y: 2, x: 1 } },
      { op: "replace", path: "/spec/http/1", value: { n: 10 } },
      { op: "add", path: "/spec/http/1", value: { n: 5 } },
      { op: "add", path: "/spec/http/-", value: { n: 99 } },
      { op: "remove", path: "/spec/http/0" },
      { op: "test", path: pointer("metadata", "annotations", "a/b"), value: "x" },
    ]);
    expect(result.spec.http).toEqual([{ n: 5 }, { n: 10 }, { n: 99 }]);
    expect(doc.spec.http).toEqual([{ n: 0 }, { n: 1 }]);
  });

  it("applies all or nothing and shares nothing with the operations", () => {
    const document = { a: { b: [1, 2] } };
    const operations: JsonPatchOperation[] = [{ op: "add", path: "/c", value: { d: [1] } }];

    const result = applyJsonPatch<unknown>(document, operations) as { c: { d: number[] } };
    result.c.d.push(2);
    failure(document, [
      { op: "add", path: "/a/c", value: 1 },
      { op: "test", path: "/a/b/0", value: 9 },
    ]);

    expect(document).toEqual({ a: { b: [1, 2] } });
    expect(operations).toEqual([{ op: "add", path: "/c", value: { d: [1] } }]);
  });

  it("sends values as JSON: a key holding undefined is left out, a value that is undefined is missing", () => {
    expect(
      applyJsonPatch({ a: { b: 1 } }, [{ op: "test", path: "/a", value: { b: 1, c: undefined } }]),
    ).toEqual({
      a: { b: 1 },
    });
    expect(failure({ a: 1 }, [{ op: "replace", path: "/a", value: undefined }]).failure).toBe(
      JsonPatchFailure.InvalidOperation,
    );
  });

  it("fails a test that does not hold, or whose location does not exist, as a failed test", () => {
    expect(failure(doc, [{ op: "test", path: "/metadata/resourceVersion", value: "8" }])).toEqual({
      failure: JsonPatchFailure.TestFailed,
      location: "/metadata/resourceVersion",
      message: "test failed at '/metadata/resourceVersion'",
      op: "test",
    });
    for (const path of ["/metadata/uid", "/status/phase", "/spec/http/5", "/spec/http/x"]) {
      expect(failure(doc, [{ op: "test", path, value: "x" }])).toMatchObject({
        failure: JsonPatchFailure.TestFailed,
        location: path,
      });
    }
  });

  it.each([
    ["add under a missing parent", [{ op: "add", path: "/a/b/c", value: 1 }], "path_not_found", "/a/b/c"],
    ["add under a scalar", [{ op: "add", path: "/s/c", value: 1 }], "path_not_found", "/s/c"],
    ["replace a missing key", [{ op: "replace", path: "/b", value: 2 }], "path_not_found", "/b"],
    ["remove a missing key", [{ op: "remove", path: "/b" }], "path_not_found", "/b"],
    ["remove past the end", [{ op: "remove", path: "/list/1" }], "path_not_found", "/list/1"],
    ["move from a missing key", [{ op: "move", from: "/x", path: "/y" }], "path_not_found", "/x"],
    ["remove the root", [{ op: "remove", path: "" }], "path_not_found", ""],
    ["move into itself", [{ op: "move", from: "/a", path: "/a/b" }], "path_not_found", "/a/b"],
    ["add past the end", [{ op: "add", path: "/list/5", value: 2 }], "invalid_index", "/list/5"],
    ["add at a non-index", [{ op: "add", path: "/list/x", value: 2 }], "invalid_index", "/list/x"],
    ["an unknown op", [{ op: "frobnicate", path: "/a" }], "invalid_operation", "/a"],
    ["add without a value", [{ op: "add", path: "/b" }], "invalid_operation", "/b"],
    ["a path that is not a pointer", [{ op: "add", path: "b", value: 1 }], "invalid_operation", "b"],
    ["a from that is not a pointer", [{ op: "copy", from: "a", path: "/b" }], "invalid_operation", "/b"],
    ["a single operation", { op: "add", path: "/a", value: 1 }, "not_a_patch", ""],
    ["a list of strings", ["add"], "not_a_patch", ""],
    ["a list with null", [null], "not_a_patch", ""],
  ])("fails on %s", (_name, patch, expected, location) => {
    expect(failure({ a: { x: 1 }, s: "v", list: [1] }, patch)).toMatchObject({ failure: expected, location });
  });

  it("names the operation and where it failed", () => {
    expect(failure({ a: [1] }, [{ op: "add", path: "/a/5", value: 2 }]).message).toBe(
      "invalid array index at '/a/5'",
    );
    expect(failure({ a: 1 }, [{ op: "copy", from: "/x", path: "/y" }]).message).toBe("no value at '/x'");
    expect(failure({ a: 1 }, [{ op: "frobnicate", path: "/a" }]).message).toContain(
      '{"op":"frobnicate","path":"/a"}',
    );
  });
});

describe("pointer", () => {
  it("escapes tokens per RFC 6901", () => {
    expect(pointer("a/b", "c~d", 0)).toBe("/a~1b/c~0d/0");
    expect(applyJsonPatch({ "a/b": { "m~n": 1 } }, [{ op: "remove", path: pointer("a/b", "m~n") }])).toEqual({
      "a/b": {},
    });
  });
});
