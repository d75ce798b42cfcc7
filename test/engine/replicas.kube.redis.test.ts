import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startSlackSandbox } from "../../sandbox/slack/web-api-sandbox.ts";
import type { SlackSandbox } from "../../sandbox/slack/web-api-sandbox.ts";
import { engineHarness, waitFor } from "../support/engine.ts";
import type { EngineHarness } from "../support/engine.ts";
import { meshService, meshStartRequest } from "../support/mesh-services.ts";
import { recordWeights } from "../support/route-weights.ts";
import { spawnServe } from "../support/serve-process.ts";

const DEPLOYS = { id: "C0DEPLOYS", name: "deploys" };
const SERVICES = Array.from({ length: 30 }, (_, i) => `svc-${i}`);
const STEPS = [10, 50, 100];

/**
 * Issue 9: three `serve` processes (Slack app, tick worker and Slack delivery each) on one Redis run 30 rollouts;
 * one is killed with SIGKILL mid-run. Every rollout finishes on its exact plan with its whole audit, and every
 * rollout message ends showing it promoted.
 */
describe("many replicas, one killed", () => {
  let h: EngineHarness;
  let slack: SlackSandbox;
  const children: ChildProcess[] = [];

  beforeEach(async () => {
    h = await engineHarness("replicas");
    h.kube.seed(SERVICES.flatMap(meshService));
    slack = await startSlackSandbox({ channels: [DEPLOYS] });
  });
  afterEach(async () => {
    for (const child of children)
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    children.length = 0;
    await slack.close();
    await h.cleanup();
  });

  const request = (service: string) =>
    meshStartRequest(service, STEPS, 1_500, { by: "U0ALICE1", report: { channel: DEPLOYS.id } });

  it(
    "given three serve processes and 30 live rollouts, when one process is killed mid-run, then every rollout finishes on its plan and its message shows it",
    { timeout: 240_000 },
    async () => {
      const env = {
        ...h.env,
        SLACK_BOT_TOKEN: slack.botToken,
        SLACK_SIGNING_SECRET: randomBytes(16).toString("hex"),
        SLACK_API_URL: slack.apiUrl,
        CANARYBOT_SWEEP_MS: "500",
        WORKER_CONCURRENCY: "8",
      };
      const replicas = [];
      for (let i = 0; i < 3; i += 1) replicas.push(await spawnServe(env, children));

      const recorders = SERVICES.map((service) => recordWeights(h.kube, "default", service, "v1", "v2"));
      const runtime = h.runtime();
      const ids: string[] = [];
      for (const service of SERVICES) ids.push((await runtime.service.start(request(service))).id);

      // Mid-run: once some rollouts have taken their second step, one replica dies without a word.
      await waitFor(
        "a second step somewhere",
        async () => {
          const rollouts = await Promise.all(ids.map((id) => runtime.store.get(id)));
          return rollouts.some((rollout) => (rollout?.stepIndex ?? 0) >= 1) ? true : undefined;
        },
        60_000,
      );
      const [victim] = replicas;
      victim!.child.kill("SIGKILL");
      await victim!.exited;

      for (const id of ids) {
        await waitFor(
          `${id} promoted`,
          async () => ((await runtime.store.get(id))?.phase === "promoted" ? true : undefined),
          120_000,
        );
      }
      for (const recorder of recorders) {
        expect(recorder.stop()).toEqual(["v1=100", "v1=90,v2=10", "v1=50,v2=50", "v2=100"]);
      }
      for (const id of ids) {
        const actions = (await runtime.store.audit(id)).map((entry) => entry.action);
        expect(actions).toEqual(["start", "step", "step", "step", "promoted"]);
      }
      await waitFor(
        "every rollout message to show it promoted",
        async () => {
          const messages = slack.messages(DEPLOYS.id);
          const shown = await Promise.all(
            ids.map(async (id) => {
              const ts = (await runtime.messages.message(id))?.ts;
              const message = messages.find((candidate) => candidate.ts === ts);
              return message?.text.includes("promoted") ?? false;
            }),
          );
          return shown.every(Boolean) ? true : undefined;
        },
        60_000,
      );
    },
  );
});
