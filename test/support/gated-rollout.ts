import { expect } from "vitest";
import type { EngineHarness } from "./engine.ts";
import { waitFor } from "./engine.ts";
import { recordWeights } from "./route-weights.ts";

/**
 * A short rollout of reviews v1 → v2 through the harness's worker and CLI: 10%, then an approval gate at 50%
 * (`beforeApproval` runs while it waits there), approved by another person, promoted. Checks that the route went
 * through exactly the plan's weights and the audit names who started and who approved. Returns the rollout id.
 */
export async function runGatedRollout(
  h: EngineHarness,
  beforeApproval?: () => Promise<void>,
): Promise<string> {
  const phaseOf = async (id: string): Promise<string | undefined> => (await h.runtime().store.get(id))?.phase;
  await h.worker();
  const recorder = recordWeights(h.kube, "default", "reviews", "v1", "v2");
  const id = await h.start(
    "reviews",
    ...[
      "--canary",
      "v2",
      "--steps",
      "10,50,100",
      "--interval",
      "200ms",
      "--approve-at",
      "50",
      "--as",
      "alice",
    ],
  );
  await waitFor("the approval gate", async () =>
    (await phaseOf(id)) === "awaiting-approval" ? true : undefined,
  );
  await beforeApproval?.();
  const approved = await h.cli("approve", id, "--as", "bob");
  expect(approved.code, approved.stderr).toBe(0);
  await waitFor("the promotion", async () => ((await phaseOf(id)) === "promoted" ? true : undefined));
  expect(recorder.stop()).toEqual(["v1=100", "v1=90,v2=10", "v1=50,v2=50", "v2=100"]);
  const actions = (await h.runtime().store.audit(id)).map((entry) => `${entry.actor} ${entry.action}`);
  expect(actions).toEqual(expect.arrayContaining(["cli:alice start", "cli:bob approve"]));
  expect((await h.cli("status", id)).stdout).toContain("promoted");
  return id;
}
