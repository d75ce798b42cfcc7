import { existsSync, readFileSync } from "node:fs";
import { delimiter, join } from "node:path";
import { parse } from "yaml";
import { CanaryError, ErrorCode, errorMessage } from "../errors.ts";
import { isJsonObject } from "../json/json-value.ts";

// What a process needs to know of its Kubernetes configuration before it connects to anything: where it comes from,
// that it parses, which context it uses and which API server each context names. Read with a YAML parser, not the
// Kubernetes client, whose ~900 modules a process then loads only once it talks to Kubernetes (`kubeconfig.ts`).

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

/** The kubeconfig files to read (KUBECONFIG's in its order), or the in-cluster service account. */
export type KubeConfigOrigin =
  | { source: Exclude<KubeConfigSource, "in-cluster">; files: string[]; location: string }
  | { source: "in-cluster"; server: string; serviceAccountDir: string; location: string };

/** In-cluster, the one context and cluster the service account makes. */
export const IN_CLUSTER = {
  context: "inClusterContext",
  cluster: "inCluster",
  user: "inClusterUser",
} as const;

export type KubeConfigOutline = {
  origin: KubeConfigOrigin;
  /** `--context`, else the configuration's current context; checked to exist. */
  context: string;
  /** Each context's cluster, and each cluster's API server; the first definition of a name wins, as in kubectl. */
  contexts: ReadonlyMap<string, string>;
  servers: ReadonlyMap<string, string>;
};

/** The cluster a kubeconfig talks to: its API server URL and the context that names it. */
export type ClusterIdentity = { server: string; context: string };

/**
 * Find the configuration, trying in order: an explicit `--kubeconfig` path, the KUBECONFIG list (files merged, the
 * first definition of a name wins, like kubectl), the in-cluster service account, and `$HOME/.kube/config`; read
 * it and check the context to use. Problems are `invalid_input` naming what is wrong.
 */
export function outlineKubeConfig(options: KubeConfigOptions): KubeConfigOutline {
  const origin = findKubeConfig(options);
  const contexts = new Map<string, string>();
  const servers = new Map<string, string>();
  let current = "";
  if (origin.source === KubeConfigSource.InCluster) {
    contexts.set(IN_CLUSTER.context, IN_CLUSTER.cluster);
    servers.set(IN_CLUSTER.cluster, origin.server);
    current = IN_CLUSTER.context;
  } else {
    for (const file of origin.files) {
      const config = readFile(file, origin.source);
      for (const [name, cluster] of config.contexts) if (!contexts.has(name)) contexts.set(name, cluster);
      for (const [name, server] of config.servers) if (!servers.has(name)) servers.set(name, server);
      if (current === "") current = config.current;
    }
  }
  const names = (): string => (contexts.size === 0 ? "(none)" : [...contexts.keys()].join(", "));
  if (options.context !== undefined) {
    if (!contexts.has(options.context)) {
      throw new CanaryError(
        ErrorCode.InvalidInput,
        `kubeconfig context "${options.context}" not found in ${origin.source} (${origin.location}); contexts: ${names()}`,
      );
    }
    return { origin, context: options.context, contexts, servers };
  }
  if (!contexts.has(current)) {
    throw new CanaryError(
      ErrorCode.InvalidInput,
      `kubeconfig ${origin.location} has no current context; pass --context (contexts: ${names()})`,
    );
  }
  return { origin, context: current, contexts, servers };
}

/**
 * Which cluster the configuration reaches through `context` (default: the one it uses): the API server URL of that
 * context's cluster, without a trailing slash, and the context's name. A rollout records it to act only on the
 * cluster it was started on. A context that is absent or names no cluster → `invalid_input`.
 */
export function clusterIdentity(outline: KubeConfigOutline, context = outline.context): ClusterIdentity {
  const cluster = outline.contexts.get(context);
  if (cluster === undefined) {
    const names = [...outline.contexts.keys()].join(", ") || "(none)";
    throw new CanaryError(
      ErrorCode.InvalidInput,
      `kubeconfig context "${context}" not found; contexts: ${names}`,
    );
  }
  const server = outline.servers.get(cluster);
  if (server === undefined) {
    throw new CanaryError(
      ErrorCode.InvalidInput,
      `kubeconfig context "${context}" names cluster "${cluster}", which the kubeconfig does not define`,
    );
  }
  return { server: server.replace(/\/+$/, ""), context };
}

function findKubeConfig(options: KubeConfigOptions): KubeConfigOrigin {
  const { env } = options;
  if (options.kubeconfigPath !== undefined && options.kubeconfigPath !== "") {
    const path = options.kubeconfigPath;
    if (!existsSync(path)) {
      throw new CanaryError(ErrorCode.InvalidInput, `kubeconfig file ${path} (--kubeconfig) does not exist`);
    }
    return { source: KubeConfigSource.Flag, files: [path], location: path };
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
    return { source: KubeConfigSource.Env, files: present, location: present.join(delimiter) };
  }

  const serviceAccountDir = options.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (host && port && existsSync(join(serviceAccountDir, "token"))) {
    const scheme = port === "80" || port === "8080" || port === "8001" ? "http" : "https";
    const server = `${scheme}://${host.includes(":") ? `[${host}]` : host}:${port}`;
    return { source: KubeConfigSource.InCluster, server, serviceAccountDir, location: server };
  }

  const home = env.HOME ?? env.USERPROFILE;
  const defaultPath = home ? join(home, ".kube", "config") : undefined;
  if (defaultPath !== undefined && existsSync(defaultPath)) {
    return { source: KubeConfigSource.Default, files: [defaultPath], location: defaultPath };
  }
  throw new CanaryError(
    ErrorCode.InvalidInput,
    "no Kubernetes configuration found: pass --kubeconfig, set KUBECONFIG, run in a cluster, " +
      `or create ${defaultPath ?? "$HOME/.kube/config"}`,
  );
}

/** `invalid_input` naming the file and why it cannot be read, as `kubeconfig.ts` reports its own load failures. */
export function unreadableFile(path: string, origin: string, error: unknown): CanaryError {
  return new CanaryError(
    ErrorCode.InvalidInput,
    `kubeconfig file ${path} (${origin}) cannot be read: ${errorMessage(error)}`,
    { cause: error },
  );
}

type FileOutline = { contexts: [string, string][]; servers: [string, string][]; current: string };

/** One file's contexts and API servers; refused where client-node would refuse it, in its words. */
function readFile(path: string, origin: string): FileOutline {
  try {
    const parsed: unknown = parse(readFileSync(path, "utf8"));
    if (parsed === null || parsed === undefined) throw new Error("the file is empty");
    if (!isJsonObject(parsed)) throw new Error("not a kubeconfig mapping");
    named(parsed.users, "users");
    return {
      contexts: named(parsed.contexts, "contexts", "context", "cluster"),
      servers: named(parsed.clusters, "clusters", "cluster", "server"),
      current: typeof parsed["current-context"] === "string" ? parsed["current-context"] : "",
    };
  } catch (error) {
    throw unreadableFile(path, origin, error);
  }
}

/**
 * `[{name, <entry>: {<field>: value}}]` → [name, value]. An entry without its name, body or field is an error, as
 * client-node reports it (`clusters[0].cluster.server is missing`).
 */
function named(list: unknown, section: string, entry?: string, field?: string): [string, string][] {
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) throw new Error(`${section} is not a list`);
  return list.map((item: unknown, i): [string, string] => {
    const at = `${section}[${i}]`;
    if (!isJsonObject(item) || typeof item.name !== "string" || item.name === "") {
      throw new Error(`${at}.name is missing`);
    }
    if (entry === undefined || field === undefined) return [item.name, ""];
    const body = item[entry];
    if (!isJsonObject(body)) throw new Error(`${at}.${entry} is missing`);
    const value = body[field];
    if (typeof value !== "string" || value === "") throw new Error(`${at}.${entry}.${field} is missing`);
    return [item.name, value];
  });
}
