import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import type { Cluster, Context, User } from "@kubernetes/client-node";
import { CanaryError, ErrorCode } from "../errors.ts";
import { IN_CLUSTER, KubeConfigSource, outlineKubeConfig, unreadableFile } from "./kubeconfig-outline.ts";
import type { KubeConfigOptions, KubeConfigOrigin, KubeConfigOutline } from "./kubeconfig-outline.ts";

export type LoadedKubeConfig = {
  kubeConfig: KubeConfig;
  source: KubeConfigSource;
  /** The file(s) read, or the in-cluster API server address. */
  location: string;
};

/**
 * The Kubernetes client's configuration, found and checked as `outlineKubeConfig` finds and checks it (the same
 * sources in the same order, the same `invalid_input` problems), its context current.
 */
export function loadKubeConfig(options: KubeConfigOptions): LoadedKubeConfig {
  return kubeConfigFrom(outlineKubeConfig(options));
}

/** The client's configuration of an outline already checked: its files read by client-node, its context current. */
export function kubeConfigFrom(outline: KubeConfigOutline): LoadedKubeConfig {
  const { origin } = outline;
  const loaded = origin.source === KubeConfigSource.InCluster ? inCluster(origin) : fromFiles(origin);
  const kubeConfig =
    loaded.getCurrentContext() === outline.context
      ? loaded
      : withContext(loaded, outline.context, `${origin.source} (${origin.location})`);
  return { kubeConfig, source: origin.source, location: origin.location };
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

function contextNames(config: KubeConfig): string {
  const names = config.getContexts().map((entry) => entry.name);
  return names.length === 0 ? "(none)" : names.join(", ");
}

function fromFiles(origin: Exclude<KubeConfigOrigin, { source: "in-cluster" }>): KubeConfig {
  const merged = new KubeConfig();
  merged.loadFromOptions({ clusters: [], users: [], contexts: [], currentContext: "" });
  for (const path of origin.files) mergeFirstWins(merged, loadFile(path, origin.source));
  return merged;
}

function loadFile(path: string, origin: string): KubeConfig {
  const config = new KubeConfig();
  try {
    config.loadFromFile(path);
  } catch (error) {
    throw unreadableFile(path, origin, error);
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

function inCluster(origin: Extract<KubeConfigOrigin, { source: "in-cluster" }>): KubeConfig {
  const { server, serviceAccountDir } = origin;
  const namespaceFile = join(serviceAccountDir, "namespace");
  const namespace = existsSync(namespaceFile) ? readFileSync(namespaceFile, "utf8").trim() : undefined;
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [
      { name: IN_CLUSTER.cluster, server, caFile: join(serviceAccountDir, "ca.crt"), skipTLSVerify: false },
    ],
    users: [
      {
        name: IN_CLUSTER.user,
        authProvider: { name: "tokenFile", config: { tokenFile: join(serviceAccountDir, "token") } },
      },
    ],
    contexts: [{ name: IN_CLUSTER.context, cluster: IN_CLUSTER.cluster, user: IN_CLUSTER.user, namespace }],
    currentContext: IN_CLUSTER.context,
  });
  return kubeConfig;
}
