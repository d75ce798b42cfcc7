import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ErrorCode } from "../../src/errors.ts";
import { loadKubeConfig, withContext } from "../../src/k8s/kubeconfig.ts";
import { clusterIdentity, KubeConfigSource, outlineKubeConfig } from "../../src/k8s/kubeconfig-outline.ts";
import type { KubeConfigOutline } from "../../src/k8s/kubeconfig-outline.ts";
import { thrown } from "../support/errors.ts";

let dir: string;

function kubeconfig(contexts: string[], current: string, server = "https://example.invalid:6443"): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: contexts.map((name) => ({ name: `${name}-cluster`, cluster: { server: `${server}/${name}` } })),
    users: contexts.map((name) => ({ name: `${name}-user`, user: { token: `token-${name}` } })),
    contexts: contexts.map((name) => ({
      name,
      context: { cluster: `${name}-cluster`, user: `${name}-user`, namespace: "default" },
    })),
    "current-context": current,
  });
}

async function file(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await mkdir(join(path, ".."), { recursive: true });
  await writeFile(path, text);
  return path;
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "canarybot-kubeconfig-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("loadKubeConfig", () => {
  it("prefers an explicit --kubeconfig over KUBECONFIG, in-cluster and the default", async () => {
    const explicit = await file("explicit", kubeconfig(["flag"], "flag"));
    const env = await file("env", kubeconfig(["env"], "env"));
    await file("home/.kube/config", kubeconfig(["home"], "home"));
    const loaded = loadKubeConfig({
      kubeconfigPath: explicit,
      env: { KUBECONFIG: env, HOME: join(dir, "home") },
    });
    expect(loaded.source).toBe(KubeConfigSource.Flag);
    expect(loaded.location).toBe(explicit);
    expect(loaded.kubeConfig.getCurrentContext()).toBe("flag");
  });

  it("merges the KUBECONFIG list like kubectl: missing files skipped, first definition and context win", async () => {
    const first = await file("a", kubeconfig(["shared", "a"], "a", "https://first.invalid"));
    const second = await file("b", kubeconfig(["shared", "b"], "b", "https://second.invalid"));
    const missing = join(dir, "missing");
    const loaded = loadKubeConfig({ env: { KUBECONFIG: [missing, first, second].join(delimiter) } });
    expect(loaded.source).toBe(KubeConfigSource.Env);
    expect(loaded.location).toBe([first, second].join(delimiter));
    expect(loaded.kubeConfig.getCurrentContext()).toBe("a");
    expect(loaded.kubeConfig.getContexts().map((context) => context.name)).toEqual(["shared", "a", "b"]);
    expect(loaded.kubeConfig.getCluster("shared-cluster")?.server).toBe("https://first.invalid/shared");
  });

  it("refuses a KUBECONFIG that names no existing file", () => {
    const error = thrown(() => loadKubeConfig({ env: { KUBECONFIG: join(dir, "nope") } }));
    expect(error.code).toBe(ErrorCode.InvalidInput);
    expect(error.message).toContain("KUBECONFIG names no existing file");
  });

  it("uses the in-cluster service account when its token is mounted (env passed in, not read)", async () => {
    await file("sa/token", "secret");
    await file("sa/namespace", "canary-system\n");
    await file("home/.kube/config", kubeconfig(["home"], "home"));
    const loaded = loadKubeConfig({
      env: { KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443", HOME: join(dir, "home") },
      serviceAccountDir: join(dir, "sa"),
    });
    expect(loaded.source).toBe(KubeConfigSource.InCluster);
    expect(loaded.kubeConfig.getCurrentCluster()).toMatchObject({
      server: "https://10.96.0.1:443",
      caFile: join(dir, "sa", "ca.crt"),
    });
    expect(loaded.kubeConfig.getContextObject("inClusterContext")?.namespace).toBe("canary-system");
  });

  it("brackets an IPv6 in-cluster host", async () => {
    await file("sa/token", "secret");
    const loaded = loadKubeConfig({
      env: { KUBERNETES_SERVICE_HOST: "fd00::1", KUBERNETES_SERVICE_PORT: "443" },
      serviceAccountDir: join(dir, "sa"),
    });
    expect(loaded.location).toBe("https://[fd00::1]:443");
  });

  it("falls back to $HOME/.kube/config when not in a cluster", async () => {
    const home = await file("home/.kube/config", kubeconfig(["home"], "home"));
    const loaded = loadKubeConfig({
      env: { KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443", HOME: join(dir, "home") },
      serviceAccountDir: join(dir, "no-sa"),
    });
    expect(loaded).toMatchObject({ source: KubeConfigSource.Default, location: home });
  });

  it("says what to do when there is no configuration at all", () => {
    const error = thrown(() =>
      loadKubeConfig({ env: { HOME: join(dir, "empty") }, serviceAccountDir: join(dir, "no-sa") }),
    );
    expect(error.code).toBe(ErrorCode.InvalidInput);
    expect(error.message).toContain("no Kubernetes configuration found: pass --kubeconfig, set KUBECONFIG");
  });

  it("names a --kubeconfig file that does not exist, and one that cannot be parsed", async () => {
    expect(thrown(() => loadKubeConfig({ kubeconfigPath: join(dir, "x"), env: {} })).message).toBe(
      `kubeconfig file ${join(dir, "x")} (--kubeconfig) does not exist`,
    );
    const broken = await file("broken", "clusters: [");
    const error = thrown(() => loadKubeConfig({ kubeconfigPath: broken, env: {} }));
    expect(error.code).toBe(ErrorCode.InvalidInput);
    expect(error.message).toContain(`kubeconfig file ${broken} (--kubeconfig) cannot be read`);
  });

  it("selects --context, and names a missing one with the contexts that exist", async () => {
    const path = await file("config", kubeconfig(["prod", "staging"], "prod"));
    expect(
      loadKubeConfig({ kubeconfigPath: path, context: "staging", env: {} }).kubeConfig.getCurrentContext(),
    ).toBe("staging");
    const error = thrown(() => loadKubeConfig({ kubeconfigPath: path, context: "qa", env: {} }));
    expect(error.code).toBe(ErrorCode.InvalidInput);
    expect(error.message).toBe(
      `kubeconfig context "qa" not found in --kubeconfig (${path}); contexts: prod, staging`,
    );
  });

  it("refuses a configuration without a current context unless --context is given", async () => {
    const path = await file("config", kubeconfig(["prod"], ""));
    expect(thrown(() => loadKubeConfig({ kubeconfigPath: path, env: {} })).message).toContain(
      "has no current context",
    );
    expect(
      loadKubeConfig({ kubeconfigPath: path, context: "prod", env: {} }).kubeConfig.getCurrentContext(),
    ).toBe("prod");
  });
});

describe("withContext", () => {
  it("returns a copy on another context and leaves the original alone", async () => {
    const path = await file("config", kubeconfig(["prod", "staging"], "prod"));
    const { kubeConfig } = loadKubeConfig({ kubeconfigPath: path, env: {} });
    const staging = withContext(kubeConfig, "staging");
    expect(staging.getCurrentContext()).toBe("staging");
    expect(staging.getCurrentCluster()?.server).toBe("https://example.invalid:6443/staging");
    expect(kubeConfig.getCurrentContext()).toBe("prod");
  });
});

describe("clusterIdentity", () => {
  const outline = (server: string, cluster = "prod-cluster"): KubeConfigOutline => ({
    origin: { source: KubeConfigSource.Flag, files: [], location: "test" },
    context: "prod",
    contexts: new Map([["prod", cluster]]),
    servers: new Map([["prod-cluster", server]]),
  });

  it("names the API server and context a kubeconfig talks to, by default the one it uses", async () => {
    const path = await file("two", kubeconfig(["staging", "production"], "staging", "https://10.0.0.1:6443"));
    const outlined = outlineKubeConfig({ kubeconfigPath: path, env: {} });
    expect(clusterIdentity(outlined)).toEqual({
      server: "https://10.0.0.1:6443/staging",
      context: "staging",
    });
    expect(clusterIdentity(outlined, "production")).toEqual({
      server: "https://10.0.0.1:6443/production",
      context: "production",
    });
    const chosen = outlineKubeConfig({ kubeconfigPath: path, context: "production", env: {} });
    expect(clusterIdentity(chosen).context).toBe("production");
  });

  it("drops a trailing slash, so one server is one identity", () => {
    expect(clusterIdentity(outline("https://api.example.invalid/"))).toEqual({
      server: "https://api.example.invalid",
      context: "prod",
    });
  });

  it("refuses a context the kubeconfig lacks, or one whose cluster is missing", () => {
    const missing = thrown(() => clusterIdentity(outline("https://api.example.invalid"), "nope"));
    expect(missing.code).toBe(ErrorCode.InvalidInput);
    expect(missing.message).toBe('kubeconfig context "nope" not found; contexts: prod');
    expect(thrown(() => clusterIdentity(outline("https://api.example.invalid", "gone"))).message).toBe(
      'kubeconfig context "prod" names cluster "gone", which the kubeconfig does not define',
    );
  });
});

describe("outlineKubeConfig and loadKubeConfig agree", () => {
  it("on the context, the API server and the source of every configuration loadKubeConfig accepts", async () => {
    const first = await file("a/config", kubeconfig(["prod"], "prod", "https://10.0.0.1:6443"));
    const second = await file("b/config", kubeconfig(["prod", "qa"], "qa", "https://10.0.0.2:6443"));
    const cases = [
      { kubeconfigPath: second, env: {} },
      { kubeconfigPath: second, context: "prod", env: {} },
      { env: { KUBECONFIG: [first, second].join(delimiter) } },
      { env: { KUBECONFIG: [second, first].join(delimiter) }, context: "prod" },
    ];
    for (const options of cases) {
      const outlined = outlineKubeConfig(options);
      const { kubeConfig, source, location } = loadKubeConfig(options);
      expect([outlined.origin.source, outlined.origin.location]).toEqual([source, location]);
      expect(outlined.context).toBe(kubeConfig.getCurrentContext());
      expect(clusterIdentity(outlined).server).toBe(kubeConfig.getCurrentCluster()?.server);
    }
  });

  it("refuses what client-node refuses, in its words: an empty file, a cluster without a server", async () => {
    const empty = await file("empty", "");
    const serverless = await file(
      "serverless",
      JSON.stringify({ clusters: [{ name: "c", cluster: {} }], contexts: [], "current-context": "" }),
    );
    for (const path of [empty, serverless]) {
      const options = { env: { KUBECONFIG: path } };
      const outlined = thrown(() => outlineKubeConfig(options));
      expect(outlined.code).toBe(ErrorCode.InvalidInput);
      expect(outlined.message).toMatch(
        new RegExp(`^kubeconfig file ${path} \\(KUBECONFIG\\) cannot be read: `),
      );
      // client-node, asked directly, refuses the same file.
      expect(() => new KubeConfig().loadFromFile(path)).toThrow();
    }
    expect(thrown(() => outlineKubeConfig({ env: { KUBECONFIG: serverless } })).message).toContain(
      "clusters[0].cluster.server is missing",
    );
  });
});
