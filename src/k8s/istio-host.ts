/** The cluster DNS domain Istio assumes when it expands a short host name. */
export const DEFAULT_CLUSTER_DOMAIN = "cluster.local";

/**
 * The fully qualified name of a Kubernetes service host as written in a VirtualService or DestinationRule in
 * `namespace`: `reviews`, `reviews.default`, `reviews.default.svc` and `reviews.default.svc.cluster.local` all
 * become `reviews.default.svc.cluster.local`. Anything else (external hosts, wildcards) is returned as written,
 * lower-cased and without a trailing dot.
 *
 * Istio itself only expands dot-free short names; the two- and three-label forms are the ones people type for
 * the same Service (and that Kubernetes DNS resolves), so they count as the same host here.
 */
export function normalizeHost(
  host: string,
  namespace: string,
  clusterDomain = DEFAULT_CLUSTER_DOMAIN,
): string {
  const name = host.trim().toLowerCase().replace(/\.$/, "");
  if (name.startsWith("*")) return name;
  const labels = name.split(".");
  switch (labels.length) {
    case 1:
      return `${name}.${namespace}.svc.${clusterDomain}`;
    case 2:
      return `${name}.svc.${clusterDomain}`;
    case 3:
      return labels[2] === "svc" ? `${name}.${clusterDomain}` : name;
    default:
      return name;
  }
}

/** Whether two host spellings name the same service, both read relative to `namespace`. */
export function isSameHost(a: string, b: string, namespace: string): boolean {
  return normalizeHost(a, namespace) === normalizeHost(b, namespace);
}

/** The Kubernetes Service behind a cluster-local host in `namespace`, or undefined for any other host. */
export function serviceOfHost(
  host: string,
  namespace: string,
): { name: string; namespace: string } | undefined {
  const fqdn = normalizeHost(host, namespace);
  const match = /^([a-z0-9-]+)\.([a-z0-9-]+)\.svc\./.exec(fqdn);
  return match?.[1] && match[2] ? { name: match[1], namespace: match[2] } : undefined;
}
