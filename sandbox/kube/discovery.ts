import { groupVersion, type ApiResource } from "./resources.ts";

// What the sandbox's /version reports: a current release, marked as the sandbox in gitVersion's build metadata.
export const DEFAULT_VERSION_INFO = {
  major: "1",
  minor: "33",
  gitVersion: "v1.33.0+canarybot-sandbox",
  gitCommit: "0000000000000000000000000000000000000000",
  gitTreeState: "clean",
  buildDate: "2025-04-23T00:00:00Z",
  goVersion: "go1.24.2",
  compiler: "gc",
  platform: "linux/amd64",
} as const;

// The verbs we actually answer: a client that trusts discovery never tries what the sandbox would refuse.
const WRITABLE_VERBS = ["create", "delete", "get", "list", "patch", "update"];
const READ_ONLY_VERBS = ["get", "list"];

/**
 * The legacy (non-aggregated) discovery documents, the ones client-node and a version-probing router read.
 * Returns undefined for a path that is not a discovery path of a served group/version.
 */
export function discoveryDocument(resources: readonly ApiResource[], pathname: string): unknown {
  const segments = pathname.split("/").filter((segment) => segment !== "");
  const [root, group, version, ...rest] = segments;
  if (rest.length > 0) return undefined;
  if (root === "version" && segments.length === 1) return DEFAULT_VERSION_INFO;
  if (root === "api") {
    if (group === undefined) {
      return {
        kind: "APIVersions",
        versions: ["v1"],
        serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: "127.0.0.1:6443" }],
      };
    }
    return version === undefined ? resourceList(resources, "", group) : undefined;
  }
  if (root !== "apis") return undefined;
  if (group === undefined) {
    return {
      kind: "APIGroupList",
      apiVersion: "v1",
      groups: groupNames(resources).map((name) => apiGroup(resources, name)),
    };
  }
  if (!groupNames(resources).includes(group)) return undefined;
  if (version === undefined) return { kind: "APIGroup", apiVersion: "v1", ...apiGroup(resources, group) };
  return resourceList(resources, group, version);
}

function groupNames(resources: readonly ApiResource[]): string[] {
  return [...new Set(resources.map((resource) => resource.group).filter((group) => group !== ""))];
}

function apiGroup(resources: readonly ApiResource[], group: string) {
  const versions = [
    ...new Set(resources.filter((resource) => resource.group === group).flatMap((r) => r.versions)),
  ];
  const entry = (version: string) => ({ groupVersion: groupVersion(group, version), version });
  return { name: group, versions: versions.map(entry), preferredVersion: entry(versions[0] ?? "") };
}

function resourceList(resources: readonly ApiResource[], group: string, version: string): unknown {
  const served = resources.filter(
    (resource) => resource.group === group && resource.versions.includes(version),
  );
  if (served.length === 0) return undefined;
  return {
    kind: "APIResourceList",
    apiVersion: "v1",
    groupVersion: groupVersion(group, version),
    resources: served.map((resource) => ({
      name: resource.plural,
      singularName: resource.singular,
      namespaced: resource.namespaced,
      kind: resource.kind,
      verbs: resource.writable
        ? WRITABLE_VERBS
        : [...READ_ONLY_VERBS, ...(resource.deletable ? ["delete"] : [])],
      ...(resource.shortNames.length > 0 ? { shortNames: resource.shortNames } : {}),
      ...(resource.categories.length > 0 ? { categories: resource.categories } : {}),
    })),
  };
}
