import { isCanaryError, type CanaryError } from "../../src/errors.ts";

/** The CanaryError `fn` throws. A test using it fails when `fn` returns, and with the error when it is another. */
export function thrown(fn: () => unknown): CanaryError {
  try {
    fn();
  } catch (error) {
    if (isCanaryError(error)) return error;
    throw error;
  }
  throw new Error("expected a throw");
}

/** The CanaryError `promise` rejects with; fails like `thrown` when it resolves or rejects with another error. */
export async function rejection(promise: Promise<unknown>): Promise<CanaryError> {
  try {
    await promise;
  } catch (error) {
    if (isCanaryError(error)) return error;
    throw error;
  }
  throw new Error("expected a rejection");
}
