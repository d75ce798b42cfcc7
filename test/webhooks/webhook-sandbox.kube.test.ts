import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startKubeSandbox } from "../../sandbox/kube/index.ts";
import type { KubeSandbox } from "../../sandbox/kube/index.ts";
import type { MeshSandbox } from "../../sandbox/mesh/index.ts";
import { parseHeyCommand, startWebhookSandbox } from "../../sandbox/webhooks/index.ts";
import type { WebhookSandbox } from "../../sandbox/webhooks/index.ts";
import { waitFor } from "../support/engine.ts";
import { meshOn } from "../support/kube-sandbox.ts";

// The webhook sandbox as flagger-loadtester: commands, gates, and a load test driving the mesh sandbox's traffic.

let kube: KubeSandbox;
let mesh: MeshSandbox;
let hooks: WebhookSandbox;

beforeEach(async () => {
  kube = await startKubeSandbox({ scenario: "bookinfo" });
  mesh = await meshOn(kube, { namespace: "default", services: ["reviews"], rps: 5 });
  hooks = await startWebhookSandbox({ meshControlUrl: mesh.controlUrl });
});

afterEach(async () => {
  await hooks.close();
  await mesh.close();
  await kube.close();
});

const post = (path: string, body: unknown) =>
  fetch(`${hooks.url}${path}`, { method: "POST", body: JSON.stringify(body) });

describe("webhook sandbox", () => {
  it("given a hey command, when posted to the loadtester endpoint, then it is recorded and the mesh runs at its rate for its duration", async () => {
    const cmd = "hey -z 1s -q 10 -c 4 http://reviews-canary.default:9080/";

    const answer = await post("/", {
      name: "reviews",
      namespace: "default",
      phase: "Progressing",
      metadata: { type: "cmd", cmd },
    });

    expect(answer.status).toBe(202);
    expect(hooks.commands()).toEqual([
      {
        name: "reviews",
        namespace: "default",
        type: "cmd",
        cmd,
        loadTest: { url: "http://reviews-canary.default:9080/", rps: 40, durationMs: 1_000 },
      },
    ]);
    expect(mesh.settings().rps).toBe(40);
    await waitFor(
      "the mesh back at its own rate",
      () => (mesh.settings().rps === 5 ? true : undefined),
      10_000,
    );
  });

  it("given no cmd, then the loadtester endpoint answers 400 as flagger-loadtester does", async () => {
    const answer = await post("/", { name: "reviews", namespace: "default", metadata: {} });

    expect(answer.status).toBe(400);
    expect(await answer.text()).toBe("cmd not found");
  });

  it("given the gate endpoints, then check answers 403 until the canary's gate opens, and again after it closes", async () => {
    const canary = { name: "reviews", namespace: "default" };
    const check = async (path: string) => (await post(path, canary)).status;

    expect(await check("/gate/check")).toBe(403);
    expect(await check("/gate/open")).toBe(202);
    expect(await check("/gate/check")).toBe(200);
    expect((await post("/gate/check", { name: "ratings", namespace: "default" })).status).toBe(403);
    expect(await check("/gate/close")).toBe(202);
    expect(await check("/gate/check")).toBe(403);
    expect(await check("/rollback/check")).toBe(403);
    expect(await check("/rollback/open")).toBe(202);
    expect(await check("/rollback/check")).toBe(200);
    expect(await check("/gate/approve")).toBe(200);
    expect(await check("/gate/halt")).toBe(403);
  });

  it.each([
    [
      "hey -z 2m -q 5 -c 2 http://podinfo-canary.test:9898/",
      { url: "http://podinfo-canary.test:9898/", rps: 10, durationMs: 120_000 },
    ],
    ["hey -q 3 http://x:1/", { url: "http://x:1/", rps: 150 }],
    ["hey -z 1m -c 2 http://x:1/", undefined],
    ["curl http://x:1/", undefined],
  ])("reads %s", (command, expected) => {
    expect(parseHeyCommand(command)).toEqual(expected);
  });
});
