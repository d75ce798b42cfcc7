import type { AuditJson, RolloutStatusJson } from "../../src/commands/render-text.ts";
import type { MetricsMesh, Rollout } from "../../src/rollout/types.ts";
import type { MeshSandbox, MeshSandboxOptions } from "../../sandbox/mesh/mesh-sandbox.ts";
import { waitFor } from "./engine.ts";
import type { EngineHarness } from "./engine.ts";
import { startPrometheus, waitForRates } from "./prometheus.ts";
import type { TestPrometheus } from "./prometheus.ts";
import { meshOn } from "./kube-sandbox.ts";

/** The request counter of each mesh's metrics, to wait for its first rates. */
const COUNTER: Record<MetricsMesh, string> = { istio: "istio_requests_total", linkerd: "response_total" };

/**
 * The mesh sandbox on the harness's Kubernetes sandbox (200 rps per service, routes re-read every 100 ms), a real
 * Prometheus scraping it every second, and the harness's environment pointed at that Prometheus once it has rates
 * (judging nothing before): the setup of the engine tests that judge rollouts by metrics.
 */
export async function startJudgedMesh(
  h: EngineHarness,
  options: Pick<MeshSandboxOptions, "services" | "subsets" | "metrics">,
): Promise<{ mesh: MeshSandbox; prometheus: TestPrometheus }> {
  const mesh = await meshOn(h.kube, { namespace: "default", rps: 200, pollMs: 100, ...options });
  const prometheus = await startPrometheus({
    targets: [new URL(mesh.metricsUrl).host],
    scrapeIntervalSeconds: 1,
  });
  await waitForRates(prometheus, COUNTER[options.metrics ?? "istio"]);
  h.env.PROMETHEUS_URL = prometheus.url;
  h.env.PROMETHEUS_SCRAPE_INTERVAL_SECONDS = "1";
  return { mesh, prometheus };
}

/**
 * Reading a rollout's outcome back: the stored rollout, its phase once settled, its audit trail. `harness` is
 * called when they are, so a describe block can set these up before its beforeAll starts the harness.
 */
export function rolloutReader(harness: () => EngineHarness) {
  return {
    rollout: async (id: string): Promise<Rollout> => {
      const found = await harness().runtime().store.get(id);
      if (!found) throw new Error(`${id} is gone`);
      return found;
    },
    /** The phase `status --json` shows once it is one of `phases`. */
    settles: (id: string, phases: string[]): Promise<string> =>
      waitFor(
        `${id} to reach ${phases.join(" or ")}`,
        async () => {
          const shown = JSON.parse((await harness().cli("status", id, "--json")).stdout) as RolloutStatusJson;
          return phases.includes(shown.phase) ? shown.phase : undefined;
        },
        60_000,
      ),
    history: async (id: string): Promise<AuditJson[]> =>
      JSON.parse((await harness().cli("history", id, "--json")).stdout) as AuditJson[],
  };
}
