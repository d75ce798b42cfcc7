import { discoveryDocument } from "./discovery.ts";
import type { ApiResource, ResourceTarget } from "./resources.ts";

export type Route =
  | { readonly kind: "discovery"; readonly document: unknown }
  | { readonly kind: "resource"; readonly target: ResourceTarget }
  | { readonly kind: "not-found" };

/**
 * Maps a request path to what it names:
 * `/api/v1/...` and `/apis/{group}/{version}/...`, followed by `{plural}[/{name}]` (all namespaces) or
 * `namespaces/{ns}/{plural}[/{name}]`; cluster-scoped kinds (namespaces) `{plural}[/{name}]`. Subresources (`/status`, `/scale`) and unserved versions are not found.
 */
export function routeRequest(resources: readonly ApiResource[], pathname: string): Route {
  const document = discoveryDocument(resources, pathname);
  if (document !== undefined) return { kind: "discovery", document };
  const segments = pathname
    .split("/")
    .filter((segment) => segment !== "")
    .map(decodeURIComponent);
  const [root, ...rest] = segments;
  const [group, version, ...path] = root === "api" ? ["", ...rest] : root === "apis" ? rest : [];
  if (group === undefined || version === undefined) return { kind: "not-found" };
  const namespaced = path[0] === "namespaces" && path.length >= 3;
  const [plural, name, ...subresource] = namespaced ? path.slice(2) : path;
  const resource = resources.find(
    (candidate) =>
      candidate.group === group && candidate.plural === plural && candidate.versions.includes(version),
  );
  // A namespaced kind's object is named only inside a namespace; a cluster-scoped kind has no namespace path.
  const misplaced = resource?.namespaced === true ? !namespaced && name !== undefined : namespaced;
  if (resource === undefined || subresource.length > 0 || misplaced) {
    return { kind: "not-found" };
  }
  return {
    kind: "resource",
    target: {
      resource,
      version,
      ...(namespaced ? { namespace: path[1] } : {}),
      ...(name === undefined ? {} : { name }),
    },
  };
}
