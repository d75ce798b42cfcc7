import type { z } from "zod";

/**
 * Why a sandbox command or request was refused. The emulators keep their own error type rather than the product's:
 * a stand-in for Kubernetes, Slack or the mesh must not share the code whose behaviour it is there to check.
 */
export class SandboxError extends Error {
  override readonly name = "SandboxError";

  /** 1: the flags or the input are wrong; 2: a system the sandbox needed (a cluster) did not answer. */
  readonly exitCode: 1 | 2;

  constructor(message: string, exitCode: 1 | 2 = 1, options?: ErrorOptions) {
    super(message, options);
    this.exitCode = exitCode;
  }
}

export function isSandboxError(error: unknown): error is SandboxError {
  return error instanceof SandboxError;
}

/** A caught value as one line of text. */
export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** zod's issues as `path: message; path: message`. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => `${issue.path.length > 0 ? issue.path.join(".") : "(root)"}: ${issue.message}`)
    .join("; ");
}
