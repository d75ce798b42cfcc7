import { describe, expect, it } from "vitest";
import { matchesLabels, parseLabelSelector } from "../../../sandbox/kube/label-selector.ts";

const labels = { app: "reviews", version: "v2", "app.kubernetes.io/part-of": "bookinfo" };
const matches = (selector: string) => matchesLabels(parseLabelSelector(selector), labels);

describe("label selectors", () => {
  it.each([
    ["", true],
    ["app=reviews", true],
    ["app==reviews,version=v2", true],
    ["app=reviews,version=v3", false],
    ["version!=v3", true],
    ["missing!=x", true],
    ["app.kubernetes.io/part-of=bookinfo", true],
    ["app", true],
    ["!app", false],
    ["!missing", true],
    [" app = reviews , version = v2 ", true],
    ["version in (v1,v2)", true],
    ["version in (v1, v3)", false],
    ["version notin (v1,v3),app=reviews", true],
    ["version notin (v2)", false],
    ["missing notin (x)", true],
    ["missing in (x)", false],
  ])("%j matches: %s", (selector, expected) => {
    expect(matches(selector)).toBe(expected);
  });

  it("refuses what it cannot parse instead of matching everything", () => {
    expect(() => parseLabelSelector("app in (reviews")).toThrow("unable to parse requirement");
    expect(() => parseLabelSelector("app within (x)")).toThrow("unable to parse requirement");
    expect(() => parseLabelSelector("!app=reviews")).toThrow("unable to parse requirement");
  });
});
