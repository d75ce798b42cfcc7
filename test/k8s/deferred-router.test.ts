import { describe, expect, it } from "vitest";
import { DeferredRouter } from "../../src/k8s/deferred-router.ts";
import type { KubernetesRouter } from "../../src/k8s/deferred-router.ts";
import { FakeRouter } from "../support/fakes.ts";
import { makeTarget } from "../support/rollouts.ts";

/** A FakeRouter that also answers the pod probe and counts its closes. */
class BuiltRouter extends FakeRouter implements KubernetesRouter {
  closed = 0;
  observe = () => Promise.resolve({ pods: 1, ready: 1, restarts: 0 });
  close(): Promise<void> {
    this.closed++;
    return Promise.resolve();
  }
}

const target = makeTarget({ stableSubset: "v1", canarySubset: "v2" });

describe("DeferredRouter", () => {
  it("builds nothing until a call needs it, then builds once for every call", async () => {
    const built: BuiltRouter[] = [];
    const router = new DeferredRouter(() => {
      const next = new BuiltRouter();
      built.push(next);
      return Promise.resolve(next);
    });
    router.prefetch(target, new Map());
    expect(built).toEqual([]);
    await Promise.all([router.inspect(target), router.currentSubset(target), router.observe(target, {})]);
    router.prefetch(target, new Map());
    await router.close();
    expect(built).toHaveLength(1);
    expect(built[0]?.prefetched).toEqual([target]);
    expect(built[0]?.closed).toBe(1);
  });

  it("reports a failed build to the call that needed it, and tries again at the next", async () => {
    let attempts = 0;
    const router = new DeferredRouter(() =>
      ++attempts === 1
        ? Promise.reject(new Error("kubeconfig unreadable"))
        : Promise.resolve(new BuiltRouter()),
    );
    await expect(router.warmUp()).rejects.toThrow("kubeconfig unreadable");
    await expect(router.inspect(target)).resolves.toMatchObject({ canaryWeight: 0 });
    expect(attempts).toBe(2);
  });

  it("closes nothing when nothing was built", async () => {
    let attempts = 0;
    const router = new DeferredRouter(() => {
      attempts++;
      return Promise.resolve(new BuiltRouter());
    });
    await router.close();
    expect(attempts).toBe(0);
  });
});
