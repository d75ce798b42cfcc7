import { existsSync, readFileSync } from "node:fs";
import { delimiter, join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import type { Cluster, Context, User } from "@kubernetes/client-node";
import { CanaryError, ErrorCode, errorMessage } from "../errors.ts";

/** Where the configuration came from, in the order they are tried. */
export const KubeConfigSource = {
  Flag: "--kubeconfig",
  Env: "KUBECONFIG",
  InCluster: "in-cluster",
  Default: "default",
} as const;
export type KubeConfigSource = (typeof KubeConfigSource)[keyof typeof KubeConfigSource];

export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

export type KubeConfigOptions = {
  /** `--kubeconfig`: wins over everything else. */
  kubeconfigPath?: string;
  /** `--context`: must exist in the loaded configuration. */
  context?: string;
  /** The process environment (KUBECONFIG, KUBERNETES_SERVICE_HOST/PORT, HOME); passed in, never read here. */
  env: Readonly<Record<string, string | undefined>>;
  /** Where the in-cluster service-account token, CA and namespace live (tests point it elsewhere). */
  serviceAccountDir?: string;
};

export type LoadedKubeConfig = {
  kubeConfig: KubeConfig;
  source: KubeConfigSource;
  /** The file(s) read, or the in-cluster API server address. */
  location: string;
};

/**
 * Build the Kubernetes client configuration, trying in order: an explicit `--kubeconfig` path, the KUBECONFIG
 * list (files merged, the first definition of a name wins, like kubectl), the in-cluster service account, and
 * `$HOME/.kube/config`. Then select `--context` if given. Problems are `invalid_input` naming what is wrong.
 */
export function loadKubeConfig(options: KubeConfigOptions): LoadedKubeConfig {
  const loaded = loadSource(options);
  if (options.context !== undefined) {
    loaded.kubeConfig = withContext(
      loaded.kubeConfig,
      options.context,
      `${loaded.source} (${loaded.location})`,
    );
  } else if (!loaded.kubeConfig.getContextObject(loaded.kubeConfig.getCurrentContext())) {
    throw new CanaryError(
      ErrorCode.InvalidInput,
      `kubeconfig ${loaded.location} has no current context; pass --context (contexts: ${contextNames(loaded.kubeConfig)})`,
    );
  }
  return loaded;
}

/**
 * A copy of `base` whose current context is `context`; `invalid_input` naming the context (and the ones that
 * exist) when it is absent. The copy shares nothing mutable with `base`.
 */
export function withContext(base: KubeConfig, context: string, where = "the kubeconfig"): KubeConfig {
  if (!base.getContextObject(context)) {
    throw new CanaryError(
      ErrorCode.InvalidInput,
      `kubeconfig context "${context}" not found in ${where}; contexts: ${contextNames(base)}`,
    );
  }
  const copy = new KubeConfig();
  copy.loadFromOptions({
    clusters: base.getClusters().map((cluster) => ({ ...cluster })),
    users: base.getUsers().map((user) => ({ ...user })),
    contexts: base.getContexts().map((entry) => ({ ...entry })),
    currentContext: context,
  });
  return copy;
}

/** The cluster a kubeconfig talks to: its API server URL and the context that names it. */
export type ClusterIdentity = { server: string; context: string };

/**
 * Which cluster `kubeConfig` reaches through `context` (default: its current context): the API server URL of that
 * context's cluster, without a trailing slash, and the context's name. A rollout records it to act only on the
 * cluster it was started on. A context that is absent or names no cluster → `invalid_input`.
 */
export function clusterIdentity(
  kubeConfig: KubeConfig,
  context: string = kubeConfig.getCurrentContext(),
): ClusterIdentity {
  const entry = kubeConfig.getContextObject(context);
  if (!entry) {
    throw new CanaryError(
      ErrorCode.InvalidInput,
      `kubeconfig context "${context}" not found; contexts: ${contextNames(kubeConfig)}`,
    );
  }
  const cluster = kubeConfig.getCluster(entry.cluster);
  if (!cluster) {
    throw new CanaryError(
      ErrorCode.InvalidInput,
      `kubeconfig context "${context}" names cluster "${entry.cluster}", which the kubeconfig does not define`,
    );
  }
  return { server: cluster.server.replace(/\/+$/, ""), context };
}

function contextNames(config: KubeConfig): string {
  const names = config.getContexts().map((entry) => entry.name);
  return names.length === 0 ? "(none)" : names.join(", ");
}

function loadSource(options: KubeConfigOptions): LoadedKubeConfig {
  const { env } = options;
  if (options.kubeconfigPath !== undefined && options.kubeconfigPath !== "") {
    const path = options.kubeconfigPath;
    if (!existsSync(path)) {
      throw new CanaryError(ErrorCode.InvalidInput, `kubeconfig file ${path} (--kubeconfig) does not exist`);
    }
    return { kubeConfig: loadFile(path, "--kubeconfig"), source: KubeConfigSource.Flag, location: path };
  }

  const listed = (env.KUBECONFIG ?? "").split(delimiter).filter((path) => path !== "");
  if (listed.length > 0) {
    const present = listed.filter((path) => existsSync(path));
    if (present.length === 0) {
      throw new CanaryError(
        ErrorCode.InvalidInput,
        `KUBECONFIG names no existing file: ${listed.join(delimiter)}`,
      );
    }
    const merged = new KubeConfig();
    merged.loadFromOptions({ clusters: [], users: [], contexts: [], currentContext: "" });
    for (const path of present) mergeFirstWins(merged, loadFile(path, "KUBECONFIG"));
    return { kubeConfig: merged, source: KubeConfigSource.Env, location: present.join(delimiter) };
  }

  const serviceAccountDir = options.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (host && port && existsSync(join(serviceAccountDir, "token"))) {
    return inCluster(host, port, serviceAccountDir);
  }

  const home = env.HOME ?? env.USERPROFILE;
  const defaultPath = home ? join(home, ".kube", "config") : undefined;
  if (defaultPath !== undefined && existsSync(defaultPath)) {
    return {
      kubeConfig: loadFile(defaultPath, "default"),
      source: KubeConfigSource.Default,
      location: defaultPath,
    };
  }
  throw new CanaryError(
    ErrorCode.InvalidInput,
    "no Kubernetes configuration found: pass --kubeconfig, set KUBECONFIG, run in a cluster, " +
      `or create ${defaultPath ?? "$HOME/.kube/config"}`,
  );
}

function loadFile(path: string, origin: string): KubeConfig {
  const config = new KubeConfig();
  try {
    config.loadFromFile(path);
  } catch (error) {
    const reason = errorMessage(error);
    throw new CanaryError(
      ErrorCode.InvalidInput,
      `kubeconfig file ${path} (${origin}) cannot be read: ${reason}`,
      {
        cause: error,
      },
    );
  }
  return config;
}

/** kubectl's merge: the first file that sets a current context wins it; the first definition of a name wins. */
function mergeFirstWins(into: KubeConfig, from: KubeConfig): void {
  const add = <T extends { name: string }>(list: T[], items: T[]): T[] => [
    ...list,
    ...items.filter((item) => !list.some((existing) => existing.name === item.name)),
  ];
  into.loadFromOptions({
    clusters: add<Cluster>(into.getClusters(), from.getClusters()),
    users: add<User>(into.getUsers(), from.getUsers()),
    contexts: add<Context>(into.getContexts(), from.getContexts()),
    currentContext: into.getCurrentContext() || from.getCurrentContext(),
  });
}

function inCluster(host: string, port: string, serviceAccountDir: string): LoadedKubeConfig {
  const scheme = port === "80" || port === "8080" || port === "8001" ? "http" : "https";
  const server = `${scheme}://${host.includes(":") ? `[${host}]` : host}:${port}`;
  const namespaceFile = join(serviceAccountDir, "namespace");
  const namespace = existsSync(namespaceFile) ? readFileSync(namespaceFile, "utf8").trim() : undefined;
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [
      { name: "inCluster", server, caFile: join(serviceAccountDir, "ca.crt"), skipTLSVerify: false },
    ],
    users: [
      {
        name: "inClusterUser",
        authProvider: { name: "tokenFile", config: { tokenFile: join(serviceAccountDir, "token") } },
      },
    ],
    contexts: [{ name: "inClusterContext", cluster: "inCluster", user: "inClusterUser", namespace }],
    currentContext: "inClusterContext",
  });
  return { kubeConfig, source: KubeConfigSource.InCluster, location: server };
}
