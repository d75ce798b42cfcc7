import { afterEach, describe, expect, it } from "vitest";
import { podHealthOf } from "../../../src/k8s/pod-health.ts";
import { startKubeSandbox } from "../../../sandbox/kube/server.ts";
import type { KubeSandbox } from "../../../sandbox/kube/server.ts";
import { workloadObjects } from "../../../sandbox/kube/scenarios.ts";
import { kubeClients, rawRequest } from "../../support/kube-sandbox.ts";

const running: KubeSandbox[] = [];

async function sandboxWithReviews(): Promise<KubeSandbox> {
  const sandbox = await startKubeSandbox({
    objects: [
      ...workloadObjects({ app: "reviews", version: "v1" }),
      ...workloadObjects({ app: "reviews", version: "v2", replicas: 2 }),
    ],
  });
  running.push(sandbox);
  return sandbox;
}

/** The pods of a subset as the bot reads them: client-node's list with a label selector, then `podHealthOf`. */
async function healthOf(sandbox: KubeSandbox, version: string) {
  const pods = await kubeClients(sandbox).core.listNamespacedPod({
    namespace: "default",
    labelSelector: `app=reviews,version=${version}`,
  });
  return podHealthOf(pods.items);
}

afterEach(async () => {
  await Promise.all(running.splice(0).map((sandbox) => sandbox.close()));
});

describe("the kube sandbox's pod health control", () => {
  it("makes a subset's pods unready, in CrashLoopBackOff, and ready again, leaving the other subsets alone", async () => {
    const sandbox = await sandboxWithReviews();
    expect(await healthOf(sandbox, "v2")).toEqual({ pods: 2, ready: 2, restarts: 0 });

    const changed = sandbox.changePods({ namespace: "default", labels: { version: "v2" }, ready: false });
    expect(changed).toHaveLength(2);
    expect(await healthOf(sandbox, "v2")).toEqual({
      pods: 2,
      ready: 0,
      restarts: 0,
      waiting: "CrashLoopBackOff",
    });
    expect(await healthOf(sandbox, "v1")).toEqual({ pods: 1, ready: 1, restarts: 0 });
    // The Deployment's controller would say so too: the next preflight finds no ready replica.
    const readyReplicas = (name: string) =>
      (sandbox.get("Deployment", "default", name)?.status as { readyReplicas?: number }).readyReplicas;
    expect(readyReplicas("reviews-v2")).toBeUndefined();
    expect(readyReplicas("reviews-v1")).toBe(1);

    sandbox.changePods({ namespace: "default", labels: { version: "v2" }, ready: true });
    expect(await healthOf(sandbox, "v2")).toEqual({ pods: 2, ready: 2, restarts: 0 });
    expect(readyReplicas("reviews-v2")).toBe(2);
  });

  it("takes changes over HTTP at /_sandbox/pods: restarts add up, and a bad change says what is wrong", async () => {
    const sandbox = await sandboxWithReviews();
    const restarted = await rawRequest(sandbox, "POST", "/_sandbox/pods", {
      token: null,
      body: { labels: { app: "reviews", version: "v2" }, restarts: 2 },
    });
    expect(restarted.status).toBe(200);
    expect((restarted.json as { pods: string[] }).pods).toHaveLength(2);
    await rawRequest(sandbox, "POST", "/_sandbox/pods", {
      token: null,
      body: { labels: { version: "v2" }, restarts: 1 },
    });
    // Two pods, three restarts each; still ready (a crash loop caught between crashes).
    expect(await healthOf(sandbox, "v2")).toEqual({ pods: 2, ready: 2, restarts: 6 });

    const cases: [unknown, string][] = [
      [{ labels: { version: "v2" } }, "a pod change needs ready or restarts"],
      [{ labels: {}, ready: false }, 'labels must name the pods: {"version": "v2"}'],
      [{ labels: { version: "v2" }, ready: "no" }, "ready must be true or false"],
      [{ labels: { version: "v2" }, restarts: 0 }, "restarts must be a whole number above 0"],
      [{ labels: { version: "v2" }, ready: false, colour: "red" }, 'unknown pod change field "colour"'],
      [
        { labels: { version: "v9" }, ready: false },
        'no pod in namespace default has labels {"version":"v9"}',
      ],
    ];
    for (const [body, error] of cases) {
      const refused = await rawRequest(sandbox, "POST", "/_sandbox/pods", { token: null, body });
      expect(refused, JSON.stringify(body)).toMatchObject({ status: 400, json: { error } });
    }
  });
});

describe("podHealthOf", () => {
  it("leaves out finished and terminating pods, and names why an unready container waits", () => {
    const [, ready, unready] = workloadObjects({
      app: "reviews",
      version: "v2",
      replicas: 2,
      readyReplicas: 1,
    });
    const finished = { ...ready, status: { ...(ready?.status ?? {}), phase: "Failed" } };
    const terminating = {
      ...ready,
      metadata: { ...ready?.metadata, deletionTimestamp: "2025-01-01T00:00:00Z" },
    };
    expect(podHealthOf([ready, unready, finished, terminating])).toEqual({
      pods: 2,
      ready: 1,
      restarts: 0,
      waiting: "CrashLoopBackOff",
    });
    expect(podHealthOf([])).toEqual({ pods: 0, ready: 0, restarts: 0 });
  });
});
