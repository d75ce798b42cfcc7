import { httpRouteCrd, istioCrds, type Crd, type JsonSchema, type PrinterColumn } from "./crds.ts";

/** What a resource path names: a collection (no name) or one object, at one served version. */
export type ResourceTarget = {
  readonly resource: ApiResource;
  readonly version: string;
  /** Absent on the all-namespaces collection path. */
  readonly namespace?: string;
  readonly name?: string;
};

/** One resource type the sandbox serves, at one or more versions of its group. */
export type ApiResource = {
  /** "" for the core (legacy) group. */
  readonly group: string;
  /** Served versions, most preferred first. */
  readonly versions: readonly string[];
  readonly plural: string;
  readonly singular: string;
  readonly kind: string;
  readonly listKind: string;
  readonly namespaced: boolean;
  readonly shortNames: readonly string[];
  readonly categories: readonly string[];
  /** A custom resource (CRD-defined, schema-validated) rather than a built-in type. */
  readonly custom: boolean;
  /** Deployments, pods and Services are seeded by scenarios and read by the bot; nobody writes them over the API. */
  readonly writable: boolean;
  /** Not writable, but deleted over the API: a pipeline's cleanup deletes the old version's Deployment. */
  readonly deletable?: boolean;
  /** With a status subresource the main endpoint ignores status changes and bumps generation on the rest. */
  readonly statusSubresource: boolean;
  /** openAPIV3Schema per version, for custom resources. */
  readonly schemas: ReadonlyMap<string, JsonSchema>;
  /** additionalPrinterColumns per version, for custom resources (built-ins have their own printers). */
  readonly printerColumns: ReadonlyMap<string, readonly PrinterColumn[]>;
};

export const DEFAULT_ISTIO_VERSIONS = ["v1", "v1beta1", "v1alpha3"] as const;

/** Namespaces: writes into a namespaced kind need theirs to exist. */
export const NAMESPACES: ApiResource = {
  group: "",
  versions: ["v1"],
  plural: "namespaces",
  singular: "namespace",
  kind: "Namespace",
  listKind: "NamespaceList",
  namespaced: false,
  shortNames: ["ns"],
  categories: [],
  custom: false,
  // kubectl create namespace / delete namespace; nothing else writes them.
  writable: true,
  statusSubresource: true,
  schemas: new Map(),
  printerColumns: new Map(),
};

const BUILT_IN_RESOURCES: readonly ApiResource[] = [
  NAMESPACES,
  {
    group: "apps",
    versions: ["v1"],
    plural: "deployments",
    singular: "deployment",
    kind: "Deployment",
    listKind: "DeploymentList",
    namespaced: true,
    shortNames: ["deploy"],
    categories: ["all"],
    custom: false,
    writable: false,
    // `kubectl delete deployment reviews-v1`, a release's last step. Its pods stay: the sandbox has no garbage
    // collector, and nothing reads pods to route or to judge.
    deletable: true,
    statusSubresource: true,
    schemas: new Map(),
    printerColumns: new Map(),
  },
  {
    group: "",
    versions: ["v1"],
    plural: "pods",
    singular: "pod",
    kind: "Pod",
    listKind: "PodList",
    namespaced: true,
    shortNames: ["po"],
    categories: ["all"],
    custom: false,
    writable: false,
    statusSubresource: true,
    schemas: new Map(),
    printerColumns: new Map(),
  },
  {
    group: "",
    versions: ["v1"],
    plural: "services",
    singular: "service",
    kind: "Service",
    listKind: "ServiceList",
    namespaced: true,
    shortNames: ["svc"],
    categories: ["all"],
    custom: false,
    writable: false,
    statusSubresource: true,
    schemas: new Map(),
    printerColumns: new Map(),
  },
];

export function servedResources(istioVersions: readonly string[]): ApiResource[] {
  const istio = istioCrds().map((crd): ApiResource => {
    const known = crd.versions.map((version) => version.name);
    const unknown = istioVersions.filter((version) => !known.includes(version));
    if (unknown.length > 0) {
      throw new Error(
        `${crd.plural}.${crd.group} has no version ${unknown.join(", ")} (known: ${known.join(", ")})`,
      );
    }
    return customResource(crd, istioVersions);
  });
  const httpRoute = httpRouteCrd();
  return [
    ...BUILT_IN_RESOURCES,
    ...istio,
    customResource(
      httpRoute,
      httpRoute.versions.map((version) => version.name),
    ),
  ];
}

function customResource(crd: Crd, versions: readonly string[]): ApiResource {
  return {
    group: crd.group,
    versions: [...versions].sort(compareKubeVersions),
    plural: crd.plural,
    singular: crd.singular,
    kind: crd.kind,
    listKind: crd.listKind,
    namespaced: crd.namespaced,
    shortNames: crd.shortNames,
    categories: crd.categories,
    custom: true,
    writable: true,
    statusSubresource: true,
    schemas: new Map(crd.versions.map((version) => [version.name, version.schema])),
    printerColumns: new Map(crd.versions.map((version) => [version.name, version.printerColumns])),
  };
}

export function groupVersion(group: string, version: string): string {
  return group === "" ? version : `${group}/${version}`;
}

/** The name the API server uses in messages: `virtualservices.networking.istio.io`, `pods`. */
export function qualifiedResource(resource: ApiResource): string {
  return resource.group === "" ? resource.plural : `${resource.plural}.${resource.group}`;
}

/** `VirtualService.networking.istio.io`, as in "… is invalid" messages. */
export function qualifiedKind(resource: ApiResource): string {
  return resource.group === "" ? resource.kind : `${resource.kind}.${resource.group}`;
}

const VERSION_PATTERN = /^v(\d+)(?:(alpha|beta)(\d+))?$/;
const STABILITY_RANK = { ga: 0, beta: 1, alpha: 2 } as const;

/** Kubernetes version priority: GA before beta before alpha, then higher numbers first (v1 > v1beta1 > v1alpha3). */
function compareKubeVersions(a: string, b: string): number {
  const rank = (version: string): [number, number, number] => {
    const match = VERSION_PATTERN.exec(version);
    if (match === null) return [3, 0, 0];
    const stability = (match[2] ?? "ga") as keyof typeof STABILITY_RANK;
    return [STABILITY_RANK[stability], -Number(match[1]), -Number(match[3] ?? 0)];
  };
  const [ra, rb] = [rank(a), rank(b)];
  return ra[0] - rb[0] || ra[1] - rb[1] || ra[2] - rb[2] || a.localeCompare(b);
}
