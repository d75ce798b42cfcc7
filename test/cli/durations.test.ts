import { describe, expect, it } from "vitest";
import { runCli } from "../../src/cli/program.ts";

/** Issue 8 item 4: an interval nobody meant is refused before anything is touched, not a canary stuck at 5%. */
describe("canarybot start with an absurd interval", () => {
  it("refuses it in one line and exits 1, before reaching Redis or Kubernetes", async () => {
    let stdout = "";
    let stderr = "";
    const code = await runCli(
      ["start", "reviews", "--canary", "v2", "--interval", "99999999999999999999999s"],
      {
        stdout: (text) => (stdout += text),
        stderr: (text) => (stderr += text),
        // Nothing listens here: reaching Redis or Kubernetes would fail differently (exit 2).
        env: { REDIS_URL: "redis://127.0.0.1:1", KUBECONFIG: "/nonexistent" },
        stopSignal: () => new Promise(() => undefined),
      },
    );
    expect(stderr).toBe('interval: "99999999999999999999999s" is longer than 24h\n');
    expect(stdout).toBe("");
    expect(code).toBe(1);
  });
});
