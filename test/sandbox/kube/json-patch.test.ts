import { describe, expect, it } from "vitest";
import { applyJsonPatch, JsonPatchError } from "../../../src/sandbox/kube/json-patch.ts";

const failure = (document: unknown, patch: unknown) => {
  try {
    applyJsonPatch(document, patch);
  } catch (error) {
    if (error instanceof JsonPatchError) return { message: error.message, malformed: error.malformed };
    throw error;
  }
  throw new Error("the patch applied");
};

describe("applyJsonPatch (RFC 6902, appendix A)", () => {
  it.each([
    [
      "adds an object member",
      { foo: "bar" },
      [{ op: "add", path: "/baz", value: "qux" }],
      { foo: "bar", baz: "qux" },
    ],
    [
      "inserts into an array",
      { foo: ["bar", "baz"] },
      [{ op: "add", path: "/foo/1", value: "qux" }],
      { foo: ["bar", "qux", "baz"] },
    ],
    ["appends with -", { foo: [1] }, [{ op: "add", path: "/foo/-", value: 2 }], { foo: [1, 2] }],
    ["removes a member", { baz: "qux", foo: "bar" }, [{ op: "remove", path: "/baz" }], { foo: "bar" }],
    [
      "removes an array element",
      { foo: ["bar", "qux", "baz"] },
      [{ op: "remove", path: "/foo/1" }],
      { foo: ["bar", "baz"] },
    ],
    [
      "replaces a value",
      { baz: "qux", foo: "bar" },
      [{ op: "replace", path: "/baz", value: "boo" }],
      { baz: "boo", foo: "bar" },
    ],
    [
      "replaces an array element in place",
      { a: [1, 2, 3] },
      [{ op: "replace", path: "/a/1", value: 9 }],
      { a: [1, 9, 3] },
    ],
    [
      "moves a value",
      { foo: { bar: "baz", waldo: "fred" }, qux: { corge: "grault" } },
      [{ op: "move", from: "/foo/waldo", path: "/qux/thud" }],
      { foo: { bar: "baz" }, qux: { corge: "grault", thud: "fred" } },
    ],
    [
      "moves an array element",
      { foo: ["all", "grass", "cows", "eat"] },
      [{ op: "move", from: "/foo/1", path: "/foo/3" }],
      { foo: ["all", "cows", "eat", "grass"] },
    ],
    [
      "copies a value",
      { a: { b: 1 } },
      [{ op: "copy", from: "/a", path: "/c" }],
      { a: { b: 1 }, c: { b: 1 } },
    ],
    [
      "passes a test regardless of key order",
      { baz: "qux", foo: ["a", 2, "c"], o: { x: 1, y: 2 } },
      [{ op: "test", path: "/o", value: { y: 2, x: 1 } }],
      { baz: "qux", foo: ["a", 2, "c"], o: { x: 1, y: 2 } },
    ],
    [
      "adds a nested object",
      { foo: "bar" },
      [{ op: "add", path: "/child", value: { grandchild: {} } }],
      { foo: "bar", child: { grandchild: {} } },
    ],
    [
      "unescapes ~1 and ~0",
      { "a/b": 1, "m~n": 2 },
      [
        { op: "replace", path: "/a~1b", value: 3 },
        { op: "remove", path: "/m~0n" },
      ],
      { "a/b": 3 },
    ],
    ["replaces the whole document", { a: 1 }, [{ op: "replace", path: "", value: { b: 2 } }], { b: 2 }],
  ])("%s", (_name, document, patch, expected) => {
    expect(applyJsonPatch(document, patch)).toEqual(expected);
  });

  it("fails a test op on a different value or a missing path, with the patch library's message", () => {
    expect(failure({ baz: "qux" }, [{ op: "test", path: "/baz", value: "bar" }])).toEqual({
      message: "testing value /baz failed: test failed",
      malformed: false,
    });
    expect(failure({ baz: "qux" }, [{ op: "test", path: "/nope", value: "qux" }]).message).toBe(
      "testing value /nope failed: test failed",
    );
    expect(failure({ a: ["1"] }, [{ op: "test", path: "/a/0", value: 1 }]).message).toContain("test failed");
  });

  it("fails on a missing target, a bad index or an unknown op", () => {
    expect(failure({ foo: "bar" }, [{ op: "add", path: "/baz/bat", value: "qux" }]).message).toBe(
      'add operation does not apply: doc is missing path: "/baz/bat": missing value',
    );
    expect(failure({ a: 1 }, [{ op: "replace", path: "/b", value: 2 }]).message).toContain(
      "doc is missing key: /b",
    );
    expect(failure({ a: 1 }, [{ op: "remove", path: "/b" }]).message).toContain("nonexistent key");
    expect(failure({ a: [1] }, [{ op: "add", path: "/a/5", value: 2 }]).message).toContain("invalid index");
    expect(failure({ a: 1 }, [{ op: "frobnicate", path: "/a" }]).message).toBe("Unexpected kind: frobnicate");
    expect(failure({ a: 1 }, [{ op: "add", path: "/b" }]).message).toContain("missing value");
  });

  it("marks a body that is not a list of operations as malformed", () => {
    expect(failure({}, { op: "add", path: "/a", value: 1 }).malformed).toBe(true);
    expect(failure({}, ["add"]).malformed).toBe(true);
  });

  it("applies all or nothing and never mutates its input", () => {
    const document = { a: { b: [1, 2] } };
    const snapshot = structuredClone(document);

    applyJsonPatch(document, [{ op: "add", path: "/a/b/-", value: 3 }]);
    failure(document, [
      { op: "add", path: "/a/c", value: 1 },
      { op: "test", path: "/a/b/0", value: 9 },
    ]);

    expect(document).toEqual(snapshot);
  });
});
