import { ApiException } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { CanaryError, ErrorCode } from "../../src/errors.ts";
import { translateKubeError } from "../../src/k8s/kube-errors.ts";

const prefix = "VirtualService default/reviews: set weights failed";

function status(code: number, message: string, causes: { message: string }[] = []) {
  return new ApiException(
    code,
    "Unknown API Status Code!",
    JSON.stringify({ kind: "Status", code, message, details: { causes } }),
    {},
  );
}

describe("translateKubeError", () => {
  it.each([
    [404, ErrorCode.NotFound, false],
    [403, ErrorCode.Forbidden, false],
    [401, ErrorCode.Forbidden, false],
    [409, ErrorCode.Conflict, true],
    [422, ErrorCode.InvalidInput, false],
    [400, ErrorCode.InvalidInput, false],
    [429, ErrorCode.KubernetesUnavailable, true],
    [500, ErrorCode.KubernetesUnavailable, true],
    [503, ErrorCode.KubernetesUnavailable, true],
  ])("HTTP %i → %s (retryable: %s)", (code, expected, retryable) => {
    const error = translateKubeError(status(code, "the server said no"), prefix);
    expect(error).toMatchObject({ code: expected, retryable });
    expect(error.message).toBe(`${prefix}: the server said no`);
    expect(error.cause).toBeInstanceOf(ApiException);
  });

  it("keeps the server's message and first cause, not client-node's header dump", () => {
    const error = translateKubeError(
      status(422, 'VirtualService.networking.istio.io "reviews" is invalid', [
        { message: "spec.http[0].timeout: Invalid value" },
      ]),
      prefix,
    );
    expect(error.message).toBe(
      `${prefix}: VirtualService.networking.istio.io "reviews" is invalid: spec.http[0].timeout: Invalid value`,
    );
  });

  it("treats network failures and timeouts as retryable unavailability", () => {
    const refused = new TypeError("fetch failed", {
      cause: Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" }),
    });
    expect(translateKubeError(refused, prefix)).toMatchObject({
      code: ErrorCode.KubernetesUnavailable,
      retryable: true,
    });
    expect(translateKubeError(refused, prefix).message).toBe(
      `${prefix}: fetch failed: connect ECONNREFUSED 127.0.0.1:1`,
    );
    const timeout = new DOMException("The operation was aborted due to timeout", "TimeoutError");
    expect(translateKubeError(timeout, prefix)).toMatchObject({
      code: ErrorCode.KubernetesUnavailable,
      retryable: true,
    });
  });

  it("passes CanaryErrors through and calls anything else internal", () => {
    const drift = new CanaryError(ErrorCode.Drift, "changed");
    expect(translateKubeError(drift, prefix)).toBe(drift);
    expect(translateKubeError(new RangeError("bug"), prefix)).toMatchObject({
      code: ErrorCode.Internal,
      retryable: false,
    });
  });
});
