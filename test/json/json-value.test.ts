import { describe, expect, it } from "vitest";
import { isJsonObject, jsonEqual } from "../../src/json/json-value.ts";

describe("jsonEqual", () => {
  it("ignores key order and undefined keys, not array order", () => {
    expect(jsonEqual({ a: 1, b: [1, 2] }, { b: [1, 2], a: 1 })).toBe(true);
    expect(jsonEqual({ a: 1, b: undefined }, { a: 1 })).toBe(true);
    expect(jsonEqual([1, 2], [2, 1])).toBe(false);
    expect(jsonEqual({ a: 1 }, { a: "1" })).toBe(false);
    expect(jsonEqual({ a: [] }, { a: {} })).toBe(false);
    expect(jsonEqual(null, {})).toBe(false);
  });
});

describe("isJsonObject", () => {
  it("accepts objects, not arrays or null", () => {
    expect([{}, { a: 1 }, [], null, "x"].map(isJsonObject)).toEqual([true, true, false, false, false]);
  });
});
