import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ErrorCode, type CanaryError } from "../../src/errors.ts";
import { IstioVirtualServiceRouter } from "../../src/k8s/istio-virtual-service-router.ts";
import { loadKubeConfig } from "../../src/k8s/kubeconfig.ts";
import type { HttpRoute } from "../../src/k8s/virtual-service-route.ts";
import type { RouteExpectation } from "../../src/rollout/ports.ts";
import type { Target } from "../../src/rollout/types.ts";
import { startKubeSandbox, workloadObjects, type KubeSandbox } from "../../sandbox/kube/index.ts";
import { omitKeys } from "../../src/k8s/json.ts";
import { waitFor } from "../support/engine.ts";
import { BOOKINFO, istioDocuments, reviewsTarget } from "../support/istio-fixtures.ts";
import { rejection } from "../support/errors.ts";

// Given a Kubernetes API sandbox over HTTPS with Istio's bookinfo (reviews 100% to v1; subsets v1..v3; one
// ready pod per version), when the router talks to it through the real client-node, then …

const BASELINE = { route: [{ destination: { host: "reviews", subset: "v1" } }] };
const target = reviewsTarget();

type Vs = { metadata: { resourceVersion: string; generation: number }; spec: { http: HttpRoute[] } };

let sandbox: KubeSandbox;
let router: IstioVirtualServiceRouter;
let directory: string;

function stored(name = "reviews"): Vs {
  const object = sandbox.get("VirtualService", "default", name);
  if (object === undefined) throw new Error(`no VirtualService ${name}`);
  return structuredClone(object) as unknown as Vs;
}

/**
 * Resolves once the router has read the VirtualService (the read its patch is computed from): an edit made then
 * lands between that read and the (delayed) PATCH.
 */
function readOfTheRoute(): Promise<true> {
  const reads = (): number =>
    sandbox.requests
      .all()
      .filter((entry) => entry.method === "GET" && entry.path.includes("/virtualservices/")).length;
  const before = reads();
  return waitFor("the router's read of the VirtualService", () => (reads() > before ? true : undefined));
}

function patches(): { path: string; contentType: string; status: number; faulted: boolean; body: string }[] {
  return sandbox.requests.all().filter((entry) => entry.method === "PATCH");
}

function expectation(appliedWeight: number, headerRouteActive = false): RouteExpectation {
  return { baseline: BASELINE, appliedWeight, headerRouteActive };
}

async function start(istioVersions?: string[]): Promise<void> {
  sandbox = await startKubeSandbox({ scenario: "bookinfo", ...(istioVersions ? { istioVersions } : {}) });
  directory = await mkdtemp(join(tmpdir(), "canarybot-k8s-"));
  const path = join(directory, "kubeconfig");
  await sandbox.writeKubeconfig(path);
  const { kubeConfig } = loadKubeConfig({ kubeconfigPath: path, env: {} });
  router = new IstioVirtualServiceRouter(kubeConfig, {
    backoffMs: 5,
    requestTimeoutMs: 2_000,
    operationBudgetMs: 1_500,
  });
}

/** A router on the sandbox with its own timing. */
function routerWith(options: ConstructorParameters<typeof IstioVirtualServiceRouter>[1]) {
  const { kubeConfig } = loadKubeConfig({ kubeconfigPath: join(directory, "kubeconfig"), env: {} });
  return new IstioVirtualServiceRouter(kubeConfig, options);
}

function requestsTo(method: string, resource: string): number {
  return sandbox.requests
    .all()
    .filter((entry) => entry.method === method && entry.path.includes(`/${resource}`)).length;
}

/** How long `call` took to settle, and its rejection. */
async function timedRejection(call: () => Promise<unknown>): Promise<{ ms: number; error: CanaryError }> {
  const started = Date.now();
  const error = await rejection(call());
  return { ms: Date.now() - started, error };
}

afterEach(async () => {
  await sandbox.close();
  await rm(directory, { recursive: true, force: true });
});

describe("IstioVirtualServiceRouter against the kube sandbox", () => {
  beforeEach(() => start());

  it("inspects bookinfo: baseline, weight, API version and subset labels", async () => {
    await expect(router.inspect(target)).resolves.toEqual({
      baseline: BASELINE,
      canaryWeight: 0,
      apiVersion: "networking.istio.io/v1",
      subsetLabels: { v1: { version: "v1" }, v2: { version: "v2" } },
    });
    expect(patches()).toEqual([]);
  });

  it("reads the subset the route sends traffic to now", async () => {
    const withoutSubsets = omitKeys(target, "stableSubset", "canarySubset");
    await expect(router.currentSubset(withoutSubsets)).resolves.toBe("v1");
  });

  describe("preflight failures name what is missing and touch nothing", () => {
    const cases: [string, () => void, Partial<Target>, string][] = [
      [
        "a missing VirtualService",
        () => undefined,
        { virtualService: "nope" },
        "VirtualService default/nope not found",
      ],
      [
        "a missing DestinationRule",
        () => sandbox.delete("DestinationRule", "default", "reviews"),
        {},
        "no DestinationRule in namespace default has host reviews",
      ],
      [
        "a subset the DestinationRule lacks",
        () => undefined,
        { canarySubset: "v4" },
        "has no subset 'v4' for host reviews (subsets: v1, v2, v3)",
      ],
      [
        "a canary subset without a ready pod",
        () => {
          const rule = istioDocuments(`${BOOKINFO}destination-rule-all.yaml`).find(
            (doc) => (doc.metadata as { name: string }).name === "reviews",
          ) as { spec: { subsets: unknown[] } };
          rule.spec.subsets.push({ name: "v4", labels: { version: "v4" } });
          sandbox.put({ ...rule, metadata: { name: "reviews", namespace: "default" } });
          sandbox.seed(workloadObjects({ app: "reviews", version: "v4", readyReplicas: 0 }));
        },
        { canarySubset: "v4" },
        "subset v4 (version=v4) has no ready pods: no Deployment with ready replicas matches (reviews-v4 has 0 ready)",
      ],
    ];
    it.each(cases)("%s", async (_name, arrange, overrides, message) => {
      arrange();
      const before = stored().metadata.resourceVersion;
      const error = await rejection(router.inspect({ ...target, ...overrides }));
      expect(error.code).toBe(ErrorCode.PreflightFailed);
      expect(error.message).toContain(message);
      expect(stored().metadata.resourceVersion).toBe(before);
      expect(patches()).toEqual([]);
    });

    it("a route that already splits traffic", async () => {
      const vs = stored();
      vs.spec.http[0] = {
        route: [
          { destination: { host: "reviews", subset: "v1" }, weight: 80 },
          { destination: { host: "reviews", subset: "v2" }, weight: 20 },
        ],
      };
      sandbox.put(vs);
      const error = await rejection(router.inspect(target));
      expect(error.code).toBe(ErrorCode.PreflightFailed);
      expect(error.message).toContain("already splits traffic: v1=80, v2=20");
    });
  });

  it("sets 10, 50, 100 with guarded JSON patches and reads each back", async () => {
    let applied = 0;
    for (const weight of [10, 50, 100]) {
      await router.setWeights(
        target,
        { canaryWeight: weight, headerRouteActive: false },
        expectation(applied),
      );
      applied = weight;
      expect(stored().spec.http).toEqual([
        weight === 100
          ? { route: [{ destination: { host: "reviews", subset: "v2" } }] }
          : {
              route: [
                { destination: { host: "reviews", subset: "v1" }, weight: 100 - weight },
                { destination: { host: "reviews", subset: "v2" }, weight },
              ],
            },
      ]);
    }
    const sent = patches();
    expect(sent).toHaveLength(3);
    for (const entry of sent) {
      expect(entry.contentType).toBe("application/json-patch+json");
      expect(entry.path).toMatch(
        /^\/apis\/networking\.istio\.io\/v1\/namespaces\/default\/virtualservices\/reviews\?fieldManager=canarybot$/,
      );
      const operations = JSON.parse(entry.body) as { op: string; path: string }[];
      expect(operations.slice(0, 2).map((op) => [op.op, op.path])).toEqual([
        ["test", "/metadata/resourceVersion"],
        ["test", "/spec/http/0"],
      ]);
    }
    // Level-triggered: the same desired state again writes nothing.
    await router.setWeights(target, { canaryWeight: 100, headerRouteActive: false }, expectation(100));
    expect(patches()).toHaveLength(3);
  });

  it("lands the weight once through three 409s in a row", async () => {
    sandbox.faults.add({ method: "PATCH", resource: "virtualservices", conflicts: 3 });
    const before = stored().metadata;
    await router.setWeights(target, { canaryWeight: 10, headerRouteActive: false }, expectation(0));
    expect(patches().map((entry) => [entry.status, entry.faulted])).toEqual([
      [409, true],
      [409, true],
      [409, true],
      [200, false],
    ]);
    // Written exactly once: one new resourceVersion, one generation step.
    expect(stored().metadata.resourceVersion).not.toBe(before.resourceVersion);
    expect(stored().metadata.generation).toBe(before.generation + 1);
    expect(stored().spec.http[0]?.route).toEqual([
      { destination: { host: "reviews", subset: "v1" }, weight: 90 },
      { destination: { host: "reviews", subset: "v2" }, weight: 10 },
    ]);
  });

  it("gives up on endless conflicts with a retryable conflict naming the object", async () => {
    sandbox.faults.add({ method: "PATCH", resource: "virtualservices", conflicts: 50 });
    const error = await rejection(
      router.setWeights(target, { canaryWeight: 10, headerRouteActive: false }, expectation(0)),
    );
    expect(error.code).toBe(ErrorCode.Conflict);
    expect(error.retryable).toBe(true);
    expect(error.message).toMatch(
      /^VirtualService default\/reviews: set weights failed: .*gave up after 5 attempts/,
    );
    expect(patches()).toHaveLength(5);
  });

  it.each([
    ["read afresh", undefined, [200]],
    // The second write starts from what the first one's PATCH answered: its guard refuses it, the re-read finds it.
    ["after the operation's shared read", new Map<string, unknown>(), [200, 422]],
  ])("detects a human edit %s as drift and does not overwrite it", async (_, reads, statuses) => {
    await router.setWeights(target, { canaryWeight: 10, headerRouteActive: false }, expectation(0), reads);
    const edited = stored();
    edited.spec.http[0]!.route = [
      { destination: { host: "reviews", subset: "v1" }, weight: 70 },
      { destination: { host: "reviews", subset: "v2" }, weight: 30 },
    ];
    const human = sandbox.put(edited);
    const error = await rejection(
      router.setWeights(target, { canaryWeight: 25, headerRouteActive: false }, expectation(10), reads),
    );
    expect(error.code).toBe(ErrorCode.Drift);
    expect(error.message).toContain("weights are v1=70, v2=30; canarybot last set v1=90, v2=10");
    expect(stored()).toEqual(human);
    expect(patches().map((entry) => entry.status)).toEqual(statuses);
  });

  it("catches a human edit that races the PATCH through the test guard (422), then reports drift", async () => {
    const delay = sandbox.faults.add({ method: "PATCH", resource: "virtualservices", delayMs: 300 });
    const routeRead = readOfTheRoute();
    const pending = rejection(
      router.setWeights(target, { canaryWeight: 10, headerRouteActive: false }, expectation(0)),
    );
    await routeRead;
    const edited = stored();
    edited.spec.http[0]!.timeout = "3s";
    const human = sandbox.put(edited);
    sandbox.faults.remove(delay);
    const error = await pending;
    expect(error.code).toBe(ErrorCode.Drift);
    expect(error.message).toContain("fields changed since canarybot last wrote the route: timeout");
    expect(patches().map((entry) => entry.status)).toEqual([422]);
    expect(stored()).toEqual(human);
  });

  it("recomputes after a concurrent edit elsewhere in the object and keeps that edit", async () => {
    const delay = sandbox.faults.add({ method: "PATCH", resource: "virtualservices", delayMs: 300 });
    const routeRead = readOfTheRoute();
    const pending = router.setWeights(target, { canaryWeight: 10, headerRouteActive: false }, expectation(0));
    await routeRead;
    const edited = stored();
    edited.spec.http.push({
      name: "other",
      match: [{ uri: { prefix: "/other" } }],
      route: [{ destination: { host: "reviews", subset: "v3" } }],
    });
    sandbox.put(edited);
    sandbox.faults.remove(delay);
    await pending;
    expect(patches().map((entry) => entry.status)).toEqual([422, 200]);
    expect(stored().spec.http).toEqual([
      {
        route: [
          { destination: { host: "reviews", subset: "v1" }, weight: 90 },
          { destination: { host: "reviews", subset: "v2" }, weight: 10 },
        ],
      },
      edited.spec.http[1],
    ]);
  });

  describe("an operation's shared reads (RouteReads)", () => {
    const vsRequests = (method: string): number =>
      sandbox.requests
        .all()
        .filter((entry) => entry.method === method && entry.path.includes("/virtualservices/reviews")).length;

    it("reads the VirtualService once for a preflight and two writes", async () => {
      const reads = new Map<string, unknown>();
      await router.inspect(target, reads);
      await router.setWeights(target, { canaryWeight: 10, headerRouteActive: false }, expectation(0), reads);
      await router.setWeights(target, { canaryWeight: 50, headerRouteActive: false }, expectation(10), reads);
      expect([vsRequests("GET"), vsRequests("PATCH")]).toEqual([1, 2]);
      expect(patches().map((entry) => entry.status)).toEqual([200, 200]);
      expect(stored().spec.http[0]?.route).toEqual([
        { destination: { host: "reviews", subset: "v1" }, weight: 50 },
        { destination: { host: "reviews", subset: "v2" }, weight: 50 },
      ]);
      // What the last PATCH answered is kept: it is the object as stored now.
      expect([...reads.values()]).toEqual([stored()]);
    });

    it("concludes there is nothing to write only from a fresh read", async () => {
      const reads = new Map<string, unknown>();
      await router.inspect(target, reads);
      const edited = stored();
      edited.spec.http[0]!.timeout = "3s";
      sandbox.put(edited);
      // The shared read shows the route at the baseline already; the route itself no longer is.
      await router.restore(target, BASELINE, reads);
      expect([vsRequests("GET"), vsRequests("PATCH")]).toEqual([2, 1]);
      expect(stored().spec.http).toEqual([BASELINE]);
    });

    it("writes from a prefetched read: one GET, started before the write is asked for", async () => {
      await router.setWeights(target, { canaryWeight: 20, headerRouteActive: false }, expectation(0));
      const before = [vsRequests("GET"), vsRequests("PATCH")];
      const reads = new Map<string, unknown>();
      const read = readOfTheRoute();
      router.prefetch(target, reads);
      await read;
      await router.restore(target, BASELINE, reads);
      expect([vsRequests("GET") - before[0]!, vsRequests("PATCH") - before[1]!]).toEqual([1, 1]);
      expect(stored().spec.http).toEqual([BASELINE]);
    });

    it("refuses a prefetched read that turned stale and writes from a fresh one", async () => {
      await router.setWeights(target, { canaryWeight: 20, headerRouteActive: false }, expectation(0));
      const reads = new Map<string, unknown>();
      const read = readOfTheRoute();
      router.prefetch(target, reads);
      await read;
      // Someone edits the route after the prefetch: the guarded patch fails, the write reads again.
      const edited = stored();
      edited.spec.http[0]!.timeout = "3s";
      sandbox.put(edited);
      await router.restore(target, BASELINE, reads);
      expect(
        patches()
          .map((entry) => entry.status)
          .slice(-2),
      ).toEqual([422, 200]);
      expect(stored().spec.http).toEqual([BASELINE]);
    });

    it("reads for itself when the prefetch failed", async () => {
      await router.setWeights(target, { canaryWeight: 20, headerRouteActive: false }, expectation(0));
      const before = vsRequests("GET");
      sandbox.faults.add({ method: "GET", resource: "virtualservices", errors: 1, status: 503 });
      const reads = new Map<string, unknown>();
      router.prefetch(target, reads);
      await router.restore(target, BASELINE, reads);
      expect(vsRequests("GET") - before).toBe(2);
      expect(stored().spec.http).toEqual([BASELINE]);
    });
  });

  it("keeps at most maxConcurrentRequests requests in flight; the others wait their turn", async () => {
    const bounded = routerWith({ maxConcurrentRequests: 2 });
    const withoutSubsets = omitKeys(target, "stableSubset", "canarySubset");
    await bounded.currentSubset(withoutSubsets); // API discovery, before the clock starts
    sandbox.faults.add({ method: "GET", resource: "virtualservices", delayMs: 300 });
    const started = Date.now();
    const subsets = await Promise.all(Array.from({ length: 4 }, () => bounded.currentSubset(withoutSubsets)));
    // Four 300 ms reads, two at a time: two rounds at the least, however fast the machine.
    expect(Date.now() - started).toBeGreaterThanOrEqual(600);
    expect(subsets).toEqual(["v1", "v1", "v1", "v1"]);
    await bounded.close();
  });

  it("restores a multi-route VirtualService exactly, leaving the other routes deep-equal", async () => {
    const [jason] = istioDocuments(`${BOOKINFO}virtual-service-reviews-jason-v2-v3.yaml`);
    sandbox.put({ ...jason, metadata: { name: "reviews-jason", namespace: "default" } });
    const original = stored("reviews-jason");
    const split = reviewsTarget({ virtualService: "reviews-jason", stableSubset: "v3", canarySubset: "v2" });
    const baseline = original.spec.http[1];
    const header = { name: "x-canary", value: "1" };
    await router.setWeights(
      split,
      { canaryWeight: 0, headerMatch: header, headerRouteActive: true },
      { baseline, appliedWeight: 0, headerRouteActive: false },
    );
    expect(stored("reviews-jason").spec.http.map((route) => route.name)).toEqual([
      undefined,
      "canarybot-header-v2",
      undefined,
    ]);
    await router.setWeights(
      split,
      { canaryWeight: 40, headerMatch: header, headerRouteActive: true },
      { baseline, appliedWeight: 0, headerRouteActive: true },
    );
    expect(stored("reviews-jason").spec.http[0]).toEqual(original.spec.http[0]);
    await router.restore(split, baseline);
    expect(stored("reviews-jason").spec).toEqual(original.spec);
    expect(JSON.stringify(stored("reviews-jason").spec)).toBe(JSON.stringify(original.spec));
    // Restoring again is a no-op: no write.
    const writes = patches().length;
    await router.restore(split, baseline);
    expect(patches()).toHaveLength(writes);
  });

  it("previews a change without touching anything", async () => {
    const before = stored();
    const preview = await router.describeChange(target, {
      canaryWeight: 10,
      headerMatch: { name: "x-canary", value: "1" },
    });
    expect(preview.split("\n").slice(0, 2)).toEqual([
      "VirtualService default/reviews unnamed route http[0]: v1=100 → v1=90, v2=10",
      "adds header route 'canarybot-header-v2' at http[0]: requests with x-canary: 1 → v2",
    ]);
    expect(preview).toMatch(/^\+ +weight: 10$/m);
    expect(preview).toMatch(/^\+ +- name: canarybot-header-v2$/m);
    expect(stored()).toEqual(before);
    expect(patches()).toEqual([]);
  });

  it("refuses content the server rejects (422 schema) without retrying it", async () => {
    const invalid = { ...BASELINE, timeout: 5 };
    const error = await rejection(router.restore(target, invalid));
    expect(error.code).toBe(ErrorCode.InvalidInput);
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/^VirtualService default\/reviews: restore failed: /);
    expect(patches().map((entry) => entry.status)).toEqual([422]);
    expect(stored().spec.http[0]).toEqual(BASELINE);
  });

  it("turns a 503 storm into a retryable kubernetes_unavailable", async () => {
    sandbox.faults.add({ resource: "virtualservices", errors: 100, status: 503 });
    const error = await rejection(
      router.setWeights(target, { canaryWeight: 10, headerRouteActive: false }, expectation(0)),
    );
    expect(error.code).toBe(ErrorCode.KubernetesUnavailable);
    expect(error.retryable).toBe(true);
    expect(error.message).toMatch(/^VirtualService default\/reviews: set weights failed: /);
    const inspectError = await rejection(router.inspect(target));
    expect(inspectError.code).toBe(ErrorCode.KubernetesUnavailable);
    expect(inspectError.message).toMatch(/^VirtualService default\/reviews: inspect failed: /);
  });

  it("rides out a short 500 burst on the GET", async () => {
    sandbox.faults.add({ method: "GET", resource: "virtualservices", errors: 2, status: 500 });
    await router.setWeights(target, { canaryWeight: 10, headerRouteActive: false }, expectation(0));
    expect(stored().spec.http[0]?.route).toHaveLength(2);
  });

  it("turns a 90 s delay into a retryable kubernetes_unavailable within the operation's budget, for every call", async () => {
    sandbox.faults.add({ resource: "virtualservices", delayMs: 90_000 });
    const impatient = routerWith({ requestTimeoutMs: 300, operationBudgetMs: 1_000, backoffMs: 1 });
    const calls: [string, () => Promise<unknown>][] = [
      [
        "set weights",
        () => impatient.setWeights(target, { canaryWeight: 10, headerRouteActive: false }, expectation(0)),
      ],
      ["restore", () => impatient.restore(target, BASELINE)],
      ["inspect", () => impatient.inspect(target)],
      ["reading the current subset", () => impatient.currentSubset(target)],
      ["describe change", () => impatient.describeChange(target, { canaryWeight: 10 })],
    ];
    for (const [action, call] of calls) {
      const { ms, error } = await timedRejection(call);
      expect(error.code, action).toBe(ErrorCode.KubernetesUnavailable);
      expect(error.retryable, action).toBe(true);
      expect(error.message).toMatch(
        new RegExp(
          `^VirtualService default/reviews: ${action} failed: the Kubernetes API did not answer in time ` +
            `\\(request timeout 0\\.3 s\\) \\(gave up after [3-9] attempts in [\\d.]+ s of its 1 s budget\\)$`,
        ),
      );
      // Retried while the budget lasted (three 300 ms attempts fit in 1 s: the message counts them), no longer.
      expect(ms, action).toBeGreaterThanOrEqual(900);
      expect(ms, action).toBeLessThan(2_500);
    }
    await impatient.close();
  });

  it("with the default timeouts, gives up on a 90 s delay after 10 s requests within 20 s", async () => {
    sandbox.faults.add({ method: "GET", resource: "virtualservices", delayMs: 90_000 });
    const defaults = routerWith({});
    const { ms, error } = await timedRejection(() => defaults.restore(target, BASELINE));
    expect(error.code).toBe(ErrorCode.KubernetesUnavailable);
    expect(error.message).toContain("(request timeout 10 s) (gave up after 2 attempts in");
    expect(error.message).toContain("of its 20 s budget");
    expect(ms).toBeGreaterThanOrEqual(19_000);
    expect(ms).toBeLessThan(23_000);
    await defaults.close();
  }, 40_000);

  it("retries a 500 storm within the budget, then gives up retryable", async () => {
    sandbox.faults.add({ method: "GET", resource: "virtualservices", errors: 10_000, status: 500 });
    const brief = routerWith({ backoffMs: 20, operationBudgetMs: 600 });
    const { ms, error } = await timedRejection(() =>
      brief.setWeights(target, { canaryWeight: 10, headerRouteActive: false }, expectation(0)),
    );
    expect(error.code).toBe(ErrorCode.KubernetesUnavailable);
    expect(error.retryable).toBe(true);
    expect(error.message).toMatch(/gave up after \d+ attempts in [\d.]+ s of its 0\.6 s budget\)$/);
    expect(requestsTo("GET", "virtualservices")).toBeGreaterThanOrEqual(3);
    expect(ms).toBeLessThan(1_500);
    await brief.close();
  });

  it("fails a restore of a deleted VirtualService at once with not_found: nothing is left to restore", async () => {
    sandbox.delete("VirtualService", "default", "reviews");
    const { ms, error } = await timedRejection(() => router.restore(target, BASELINE));
    expect(error.code).toBe(ErrorCode.NotFound);
    expect(error.retryable).toBe(false);
    expect(error.message).toBe(
      "VirtualService default/reviews no longer exists: there is no route left to restore",
    );
    expect(requestsTo("GET", "virtualservices")).toBe(1);
    expect(patches()).toEqual([]);
    expect(ms).toBeLessThan(1_000);
  });

  it("answers not_found when the VirtualService is gone mid-rollout", async () => {
    sandbox.delete("VirtualService", "default", "reviews");
    const error = await rejection(
      router.setWeights(target, { canaryWeight: 10, headerRouteActive: false }, expectation(0)),
    );
    expect(error.code).toBe(ErrorCode.NotFound);
    expect(error.message).toMatch(/^VirtualService default\/reviews: set weights failed: /);
  });
});

describe("a server that serves only networking.istio.io/v1alpha3", () => {
  beforeEach(() => start(["v1alpha3"]));

  it("is discovered once and used for every call", async () => {
    expect((await router.inspect(target)).apiVersion).toBe("networking.istio.io/v1alpha3");
    await router.setWeights(target, { canaryWeight: 10, headerRouteActive: false }, expectation(0));
    await router.restore(target, BASELINE);
    expect(stored().spec.http).toEqual([BASELINE]);
    const requests = sandbox.requests.all();
    expect(requests.filter((entry) => entry.path === "/apis")).toHaveLength(1);
    const istio = requests.filter((entry) => entry.path.startsWith("/apis/networking.istio.io/"));
    expect(istio.length).toBeGreaterThan(0);
    expect(istio.every((entry) => entry.path.startsWith("/apis/networking.istio.io/v1alpha3/"))).toBe(true);
  });
});
