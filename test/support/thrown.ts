import type { CanaryError } from "../../src/errors.ts";

/** The CanaryError `fn` throws; fails the test when it returns. */
export function thrown(fn: () => unknown): CanaryError {
  try {
    fn();
  } catch (error) {
    return error as CanaryError;
  }
  throw new Error("expected a throw");
}
