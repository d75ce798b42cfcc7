import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { KubeConfig } from "@kubernetes/client-node";
import { CustomObjectsApi } from "@kubernetes/client-node";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isSandboxError } from "../../../sandbox/errors.ts";
import { readManifests, startKubeSandbox } from "../../../sandbox/kube/index.ts";
import { waitFor } from "../../support/engine.ts";
import { istioFixturePath } from "../../support/fixtures.ts";
import type { KubeSandbox } from "../../../sandbox/kube/index.ts";
import { runMeshSandbox, startMeshSandbox, UNROUTED } from "../../../sandbox/mesh/index.ts";
import type { MeshSandbox, MeshSandboxOptions } from "../../../sandbox/mesh/index.ts";
import { bucketsOf, labelNamesOf, parseExposition, sumOf, templateLabelNames } from "./exposition.ts";
import type { Sample } from "./exposition.ts";
import { kubeConfigOf } from "../../support/kube-sandbox.ts";

// The mesh sandbox against the kube sandbox over HTTPS, read with the real @kubernetes/client-node.

const NS = "default";
const REQUESTS = "istio_requests_total";
const DURATION = "istio_request_duration_milliseconds";
const DEST = { reporter: "destination", destination_service_name: "reviews" };

let kube: KubeSandbox;
let kubeConfig: KubeConfig;
const started: MeshSandbox[] = [];

beforeEach(async () => {
  kube = await startKubeSandbox({ scenario: "bookinfo" });
  kubeConfig = kubeConfigOf(kube);
});

afterEach(async () => {
  await Promise.all(started.splice(0).map((m) => m.close()));
  await kube.close();
});

async function mesh(options: Partial<MeshSandboxOptions> = {}): Promise<MeshSandbox> {
  const sandbox = await startMeshSandbox({
    kubeConfig,
    namespace: NS,
    services: ["reviews"],
    autoAdvance: false,
    seed: 7,
    ...options,
  });
  started.push(sandbox);
  return sandbox;
}

async function scrape(sandbox: MeshSandbox): Promise<Sample[]> {
  const response = await fetch(sandbox.metricsUrl);
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toMatch(/^text\/plain/);
  return parseExposition(await response.text());
}

function reviewsVirtualService(http: unknown[]): unknown {
  return {
    apiVersion: "networking.istio.io/v1",
    kind: "VirtualService",
    metadata: { name: "reviews", namespace: NS },
    spec: { hosts: ["reviews"], http },
  };
}

const to = (subset: string, weight?: number) => ({
  destination: { host: "reviews", subset },
  ...(weight === undefined ? {} : { weight }),
});

describe("mesh sandbox on the bookinfo kube sandbox", () => {
  it("at 100% v1, only v1 series grow, on the timer, smoothly", async () => {
    const sandbox = await mesh({ autoAdvance: true, tickMs: 50, rps: 100 });
    expect(sandbox.routes().services.reviews?.virtualService?.name).toBe("reviews");
    const v1 = (s: Sample[]) => sumOf(s, REQUESTS, { ...DEST, destination_version: "v1" });
    const first = await waitFor("v1 traffic on the timer", async () => {
      const samples = await scrape(sandbox);
      return v1(samples) > 10 ? samples : undefined;
    });
    const from = performance.now();
    // A measuring window, not a wait: the rate over it must follow the wall clock.
    await new Promise((r) => setTimeout(r, 400));
    const second = await scrape(sandbox);
    const elapsedSeconds = (performance.now() - from) / 1000;

    // 100 rps follows the wall clock between the two scrapes (within a tick or two either side).
    const grown = v1(second) - v1(first);
    expect(grown).toBeGreaterThan(100 * elapsedSeconds - 25);
    expect(grown).toBeLessThan(100 * elapsedSeconds + 25);
    const versions = new Set(
      second.filter((s) => s.name === REQUESTS).map((s) => s.labels.destination_version),
    );
    expect([...versions]).toEqual(["v1"]);
    expect(Object.keys(sandbox.totals().services.reviews?.subsets ?? {})).toEqual(["v1"]);
  });

  it("follows a 90/10 split written with the real client: v2 gets ~10% of the new requests", async () => {
    const sandbox = await mesh();
    sandbox.advance(20_000);
    const before = await scrape(sandbox);
    expect(sumOf(before, REQUESTS, { ...DEST, destination_version: "v2" })).toBe(0);

    const api = kubeConfig.makeApiClient(CustomObjectsApi);
    const target = {
      group: "networking.istio.io",
      version: "v1",
      namespace: NS,
      plural: "virtualservices",
      name: "reviews",
    };
    const live = (await api.getNamespacedCustomObject(target)) as { metadata: Record<string, unknown> };
    const split = readManifests(
      istioFixturePath("samples/bookinfo-networking/virtual-service-reviews-90-10.yaml"),
    )[0] as {
      spec: unknown;
    };
    const written = (await api.replaceNamespacedCustomObject({
      ...target,
      body: {
        apiVersion: "networking.istio.io/v1",
        kind: "VirtualService",
        metadata: live.metadata,
        spec: split.spec,
      },
    })) as { metadata: { resourceVersion: string } };

    const seen = await sandbox.refresh();
    expect(seen.services.reviews?.virtualService?.resourceVersion).toBe(written.metadata.resourceVersion);
    expect(sandbox.advance(200_000)).toBe(10_000); // 50 rps × 200 s
    const after = await scrape(sandbox);

    const grew = (version: string) =>
      sumOf(after, REQUESTS, { ...DEST, destination_version: version }) -
      sumOf(before, REQUESTS, { ...DEST, destination_version: version });
    expect(grew("v1") + grew("v2")).toBe(10_000);
    expect(grew("v2") / 10_000).toBeGreaterThan(0.085);
    expect(grew("v2") / 10_000).toBeLessThan(0.115);
    expect(grew("v3")).toBe(0);
  });

  it("picks up a human's edit on its own within the poll interval", async () => {
    const sandbox = await mesh({ pollMs: 50 });
    const edited = kube.put(reviewsVirtualService([{ route: [to("v3")] }]));
    const deadline = Date.now() + 3000;
    while (
      sandbox.routes().services.reviews?.virtualService?.resourceVersion !== edited.metadata.resourceVersion
    ) {
      if (Date.now() > deadline) throw new Error("the mesh sandbox never saw the edit");
      await new Promise((r) => setTimeout(r, 20));
    }
    sandbox.advance(2_000);
    expect(Object.keys(sandbox.totals().services.reviews?.subsets ?? {})).toEqual(["v3"]);
  });

  it("sends exactly the header-carrying requests to the header route and no others", async () => {
    kube.put(
      reviewsVirtualService([
        { match: [{ headers: { qa: { exact: "canary-test" } } }], route: [to("v2")] },
        { route: [to("v1")] },
      ]),
    );
    const sandbox = await mesh({ headers: [{ name: "qa", value: "canary-test", share: 0.05 }] });
    sandbox.advance(100_000); // 5,000 requests

    const totals = sandbox.totals();
    const v1 = totals.services.reviews?.subsets.v1;
    const v2 = totals.services.reviews?.subsets.v2;
    expect(totals.requests).toBe(5_000);
    expect(totals.withHeaders / totals.requests).toBeGreaterThan(0.035);
    expect(totals.withHeaders / totals.requests).toBeLessThan(0.065);
    expect(v2).toMatchObject({
      requests: totals.withHeaders,
      withHeaders: totals.withHeaders,
      withoutHeaders: 0,
    });
    expect(v1).toMatchObject({
      requests: totals.withoutHeaders,
      withHeaders: 0,
      withoutHeaders: totals.withoutHeaders,
    });

    const samples = await scrape(sandbox);
    expect(sumOf(samples, REQUESTS, { ...DEST, destination_version: "v2" })).toBe(totals.withHeaders);
    expect(sumOf(samples, REQUESTS, { ...DEST, destination_version: "v1" })).toBe(totals.withoutHeaders);
  });

  it("routes one request sent to /services/<service>/ by its headers, reading a route written just before", async () => {
    const sandbox = await mesh({ pollMs: 60_000 });
    kube.put(
      reviewsVirtualService([
        { name: "canary-header", match: [{ headers: { "x-canary": { exact: "1" } } }], route: [to("v2")] },
        { name: "primary", route: [to("v1")] },
      ]),
    );
    const probe = async (headers: Record<string, string> = {}, path = "/services/reviews/health") => {
      const response = await fetch(`${sandbox.url}${path}`, { headers });
      return [response.status, await response.json()];
    };
    expect(await probe({ "x-canary": "1" })).toEqual([
      200,
      { service: "reviews", subset: "v2", route: "canary-header" },
    ]);
    expect(await probe()).toEqual([200, { service: "reviews", subset: "v1", route: "primary" }]);
    expect(await probe({}, "/services/ratings/")).toEqual([
      404,
      { error: "no simulated service ratings", services: ["reviews"] },
    ]);
  });

  it("shows error rate and latency settings in the exposed metrics", async () => {
    kube.put(reviewsVirtualService([{ route: [to("v1", 50), to("v2", 50)] }]));
    const sandbox = await mesh();
    sandbox.control({ subsets: { v2: { errorRate: 0.2, latencyMs: { p50: 300, p99: 900 } } } });
    sandbox.advance(400_000); // 20,000 requests
    const samples = await scrape(sandbox);

    const v = (version: string, extra: Record<string, string> = {}) =>
      sumOf(samples, REQUESTS, { ...DEST, destination_version: version, ...extra });
    const v2Errors = v("v2", { response_code: "500" }) + v("v2", { response_code: "503" });
    expect(v2Errors / v("v2")).toBeGreaterThan(0.17);
    expect(v2Errors / v("v2")).toBeLessThan(0.23);
    expect(v("v2", { response_code: "500" })).toBeGreaterThan(v("v2", { response_code: "503" }));
    expect(v("v1", { response_code: "200" })).toBe(v("v1"));

    // Log-normal, median 300 ms, p99 900 ms: ~35% under 250 ms, ~86% under 500 ms, ~99% under 1 s.
    const v2 = bucketsOf(samples, DURATION, { ...DEST, destination_version: "v2" });
    const total = v2.get("+Inf") ?? 0;
    expect(total).toBe(v("v2"));
    expect((v2.get("100") ?? 0) / total).toBeLessThan(0.05);
    expect((v2.get("250") ?? 0) / total).toBeGreaterThan(0.25);
    expect((v2.get("250") ?? 0) / total).toBeLessThan(0.45);
    expect((v2.get("500") ?? 0) / total).toBeGreaterThan(0.78);
    expect((v2.get("500") ?? 0) / total).toBeLessThan(0.93);
    expect((v2.get("1000") ?? 0) / total).toBeGreaterThan(0.97);
    // v1 keeps the default: median 20 ms, p99 80 ms.
    const v1 = bucketsOf(samples, DURATION, { ...DEST, destination_version: "v1" });
    expect((v1.get("100") ?? 0) / (v1.get("+Inf") ?? 1)).toBeGreaterThan(0.98);
    expect((v1.get("10") ?? 0) / (v1.get("+Inf") ?? 1)).toBeLessThan(0.2);
    const mean = sumOf(samples, `${DURATION}_sum`, { ...DEST, destination_version: "v2" }) / total;
    expect(mean).toBeGreaterThan(280);
    expect(mean).toBeLessThan(400);
  });

  it("exposes Istio's label set, both reporters and the default duration buckets", async () => {
    const sandbox = await mesh();
    sandbox.advance(1_000);
    const samples = await scrape(sandbox);

    const template = readFileSync(
      istioFixturePath("metrics/istio-proxy-testdata.server_request_total.yaml.tmpl"),
      "utf8",
    );
    const expected = templateLabelNames(template);
    expect(expected).toHaveLength(25);
    const names = labelNamesOf(samples, REQUESTS);
    expect(names.length).toBeGreaterThan(0);
    for (const labelNames of names) expect(labelNames).toEqual(expected);

    // Every label of the real Istio 1.5 scrape is there too.
    const scrape15 = parseExposition(
      readFileSync(istioFixturePath("metrics/istio-proxy-1.5.excerpt.prom"), "utf8"),
    );
    const real = new Set(labelNamesOf(scrape15, REQUESTS).flat());
    expect([...real].filter((l) => !expected.includes(l))).toEqual([]);
    const realBuckets = scrape15.filter((s) => s.name === `${DURATION}_bucket`).map((s) => s.labels.le);
    const ourBuckets = [
      ...bucketsOf(samples, DURATION, { reporter: "destination", destination_version: "v1" }).keys(),
    ];
    expect(ourBuckets).toEqual(realBuckets);
    // prom-client writes `le` first, Envoy last; label order carries no meaning in the exposition format.
    for (const labelNames of labelNamesOf(samples, `${DURATION}_bucket`)) {
      expect([...labelNames].sort()).toEqual([...expected, "le"].sort());
    }

    const destination = samples.find((s) => s.name === REQUESTS && s.labels.reporter === "destination");
    expect(destination?.labels).toMatchObject({
      source_workload: "productpage-v1",
      destination_workload: "reviews-v1",
      destination_app: "reviews",
      destination_version: "v1",
      destination_canonical_revision: "v1",
      destination_service: "reviews.default.svc.cluster.local",
      destination_service_name: "reviews",
      destination_service_namespace: NS,
      request_protocol: "http",
      response_code: "200",
      response_flags: "-",
      connection_security_policy: "mutual_tls",
    });
    expect(sumOf(samples, REQUESTS, { reporter: "source" })).toBe(
      sumOf(samples, REQUESTS, { reporter: "destination" }),
    );
  });

  it("reports requests no route matches as 404 NR from the source proxy only", async () => {
    kube.put(reviewsVirtualService([{ match: [{ headers: { qa: { exact: "x" } } }], route: [to("v2")] }]));
    const sandbox = await mesh();
    sandbox.advance(1_000);
    const samples = await scrape(sandbox);
    expect(sumOf(samples, REQUESTS, { reporter: "source", response_code: "404", response_flags: "NR" })).toBe(
      50,
    );
    expect(sumOf(samples, REQUESTS, { reporter: "destination" })).toBe(0);
    expect(sandbox.totals().services.reviews?.subsets[UNROUTED]?.responseCodes).toEqual({ "404": 50 });
  });

  it("is steered over HTTP: GET/POST /control, /healthz", async () => {
    const sandbox = await mesh();
    const health = await fetch(`${sandbox.url}/healthz`);
    expect(health.status).toBe(200);

    const posted = await fetch(sandbox.controlUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        rps: 20,
        subsets: { v2: { errorRate: 0.05, latencyMs: { p50: 20, p99: 900 } } },
        headers: [{ name: "QA", value: "canary-test", share: 0.05 }],
      }),
    });
    expect(posted.status).toBe(200);
    sandbox.advance(1_000);

    const state = (await (await fetch(sandbox.controlUrl)).json()) as {
      settings: unknown;
      totals: { requests: number; services: Record<string, unknown> };
      routes: { services: Record<string, { virtualService?: { name: string } }> };
    };
    expect(state.settings).toEqual({
      rps: 20,
      subsets: { v2: { errorRate: 0.05, latencyMs: { p50: 20, p99: 900 } } },
      headers: [{ name: "qa", value: "canary-test", share: 0.05 }],
    });
    expect(state.totals.requests).toBe(20);
    expect(state.routes.services.reviews?.virtualService?.name).toBe("reviews");

    const bad = await fetch(sandbox.controlUrl, {
      method: "POST",
      body: JSON.stringify({ rps: -1, subsets: { v2: { errorRate: 2 } } }),
    });
    expect(bad.status).toBe(400);
    const problem = (await bad.json()) as { error: string };
    expect(problem.error).toContain("rps");
    expect(problem.error).toContain("subsets.v2.errorRate");
    expect((await fetch(sandbox.controlUrl, { method: "POST", body: "{" })).status).toBe(400);
    expect((await fetch(`${sandbox.url}/nope`)).status).toBe(404);
    expect(() => sandbox.control({ subsets: { v2: { latencyMs: { p50: 500, p99: 100 } } } })).toThrow(/p99/);
  });

  it("keeps the last routes and says why when the API server fails, and recovers", async () => {
    const sandbox = await mesh();
    kube.faults.add({ resource: "virtualservices", errors: 1, status: 503 });
    const failed = await sandbox.refresh();
    expect(failed.lastError).toMatch(/503/);
    expect(failed.services.reviews?.virtualService?.name).toBe("reviews");
    sandbox.advance(1_000);
    expect(sandbox.totals().services.reviews?.subsets.v1?.requests).toBe(50);
    const recovered = await sandbox.refresh();
    expect(recovered.lastError).toBeUndefined();
  });

  it("refuses to start when the routes cannot be read", async () => {
    kube.faults.add({ resource: "virtualservices", errors: 1, status: 500 });
    const error: unknown = await mesh().catch((e: unknown) => e);
    expect(isSandboxError(error) && error.exitCode === 2).toBe(true);
    expect((error as Error).message).toContain("VirtualServices in default");
  });

  it("replays the same traffic for the same seed", async () => {
    kube.put(reviewsVirtualService([{ route: [to("v1", 50), to("v2", 30), to("v3", 20)] }]));
    const a = await mesh({ seed: 99 });
    const b = await mesh({ seed: 99 });
    a.control({ subsets: { "*": { errorRate: 0.1 } } });
    b.control({ subsets: { "*": { errorRate: 0.1 } } });
    a.advance(10_000);
    b.advance(10_000);
    expect(a.totals()).toEqual(b.totals());
    expect(await a.metrics()).toEqual(await b.metrics());
  });

  it("runs from CLI flags with a kubeconfig file until stopped", async () => {
    const dir = await mkdtemp(join(tmpdir(), "mesh-cli-"));
    try {
      const path = join(dir, "kubeconfig");
      await kube.writeKubeconfig(path);
      const lines: string[] = [];
      const stop = new AbortController();
      let started: MeshSandbox | undefined;
      const run = runMeshSandbox(
        {
          kubeconfig: path,
          service: ["reviews"],
          port: "0",
          rps: "200",
          subset: ["v2:errorRate=5%,p99=900"],
          header: ["qa=canary-test:5%"],
        },
        { env: {}, log: (l) => lines.push(l), signal: stop.signal, onStarted: (s) => (started = s) },
      );
      const sandbox = await waitFor("the mesh sandbox to start", () => started);
      expect(lines[0]).toBe(`mesh sandbox: ${sandbox.url}`);
      expect(sandbox.settings()).toMatchObject({
        rps: 200,
        subsets: { v2: { errorRate: 0.05, latencyMs: { p99: 900 } } },
        headers: [{ name: "qa", value: "canary-test", share: 0.05 }],
      });
      await waitFor("traffic", async () =>
        sumOf(await scrape(sandbox), REQUESTS, DEST) > 0 ? true : undefined,
      );
      stop.abort();
      await run;
      expect(lines.at(-1)).toBe("mesh sandbox: stopped");
      await expect(fetch(sandbox.metricsUrl)).rejects.toThrow();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
