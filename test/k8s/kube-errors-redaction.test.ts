import { ApiException } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { translateKubeError } from "../../src/k8s/kube-errors.ts";

const TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2EifQ.c2lnbmF0dXJlLXNpZ25hdHVyZQ";

/** Issue 8 item 6: what the API server (or a proxy in front of it) says is redacted before anyone sees it. */
describe("translateKubeError on an answer that echoes credentials", () => {
  it("keeps the token out of the message, and the message to one capped line", () => {
    const body = JSON.stringify({
      kind: "Status",
      code: 401,
      message: `Unauthorized: request carried Authorization: Bearer ${TOKEN}\n${"detail ".repeat(100)}`,
    });
    const error = translateKubeError(
      new ApiException(401, "Unauthorized", body, {}),
      "VirtualService default/reviews",
    );
    expect(error.message).not.toContain(TOKEN);
    expect(error.message).toMatch(
      /^VirtualService default\/reviews: Unauthorized: request carried Authorization: \[redacted\]/,
    );
    expect(error.message).not.toContain("\n");
    expect(error.message.length).toBeLessThan(400);
  });

  it("keeps a password in a proxy's URL out of a transport failure", () => {
    const failure = new TypeError("fetch failed", {
      cause: new Error("getaddrinfo ENOTFOUND proxy (https://kube:hunter2-secret@proxy:3128)"),
    });
    const error = translateKubeError(failure, "VirtualService default/reviews");
    expect(error.message).not.toContain("hunter2-secret");
    expect(error.message).toContain("ENOTFOUND");
  });
});
