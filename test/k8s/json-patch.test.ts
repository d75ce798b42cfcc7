import { describe, expect, it } from "vitest";
import { applyJsonPatch, pointer } from "../../src/k8s/json-patch.ts";
import { jsonEqual } from "../../src/k8s/json.ts";

describe("applyJsonPatch", () => {
  const doc = {
    metadata: { resourceVersion: "7", annotations: { "a/b": "x" } },
    spec: { http: [{ n: 0 }, { n: 1 }] },
  };

  it("applies test, add, replace and remove on a copy, leaving the input alone", () => {
    const result = applyJsonPatch(doc, [
      { op: "test", path: "/metadata/resourceVersion", value: "7" },
      { op: "replace", path: "/spec/http/1", value: { n: 10 } },
      { op: "add", path: "/spec/http/1", value: { n: 5 } },
      { op: "add", path: "/spec/http/-", value: { n: 99 } },
      { op: "remove", path: "/spec/http/0" },
      { op: "test", path: pointer("metadata", "annotations", "a/b"), value: "x" },
    ]);
    expect(result.spec.http).toEqual([{ n: 5 }, { n: 10 }, { n: 99 }]);
    expect(doc.spec.http).toEqual([{ n: 0 }, { n: 1 }]);
  });

  it("fails a test that does not hold, and paths that do not exist", () => {
    expect(() =>
      applyJsonPatch(doc, [{ op: "test", path: "/metadata/resourceVersion", value: "8" }]),
    ).toThrow("JSON patch: test failed at '/metadata/resourceVersion'");
    expect(() => applyJsonPatch(doc, [{ op: "remove", path: "/spec/http/2" }])).toThrow("out of range");
    expect(() => applyJsonPatch(doc, [{ op: "replace", path: "/spec/tcp", value: [] }])).toThrow(
      "no value at",
    );
  });

  it("escapes pointer tokens per RFC 6901", () => {
    expect(pointer("a/b", "c~d", 0)).toBe("/a~1b/c~0d/0");
  });
});

describe("jsonEqual", () => {
  it("ignores key order and undefined keys, not array order", () => {
    expect(jsonEqual({ a: 1, b: [1, 2] }, { b: [1, 2], a: 1 })).toBe(true);
    expect(jsonEqual({ a: 1, b: undefined }, { a: 1 })).toBe(true);
    expect(jsonEqual([1, 2], [2, 1])).toBe(false);
    expect(jsonEqual({ a: 1 }, { a: "1" })).toBe(false);
  });
});
