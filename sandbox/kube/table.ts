import type { KubeObject } from "./object-store.ts";
import type { ApiResource } from "./resources.ts";

/** A `metav1.TableColumnDefinition`. */
type Column = { name: string; type: string; format: string; description: string; priority: number };
type Cell = string | number;
type Printer = { column: Column; cell: (object: KubeObject, now: Date) => Cell };

export type IncludeObject = "None" | "Metadata" | "Object";

/** Whether the Accept header asks for a Table (what kubectl get sends: `application/json;as=Table;v=v1;g=meta.k8s.io`). */
export function wantsTable(accept: string | undefined): boolean {
  return (accept ?? "")
    .split(",")
    .some((type) => /;\s*as=Table\b/.test(type) && /;\s*g=meta\.k8s\.io\b/.test(type));
}

/** The includeObject query parameter (default Metadata, as on the server). */
export function includeObject(query: URLSearchParams): IncludeObject {
  const value = query.get("includeObject");
  return value === "None" || value === "Object" ? value : "Metadata";
}

/** `duration.HumanDuration` of k8s.io/apimachinery: what the AGE column shows. */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  if (hours < 192)
    return hours % 24 === 0 ? `${Math.floor(hours / 24)}d` : `${Math.floor(hours / 24)}d${hours % 24}h`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24)}d`;
  const years = Math.floor(hours / 24 / 365);
  if (hours < 24 * 365 * 8) return `${years}y${Math.floor(hours / 24) % 365}d`;
  return `${years}y`;
}

function age(object: KubeObject, now: Date): string {
  const created = Date.parse(object.metadata.creationTimestamp ?? "");
  return Number.isNaN(created) ? "<unknown>" : humanDuration(now.getTime() - created);
}

function column(name: string, type: string, description: string, priority = 0, format = ""): Column {
  return { name, type, format, description, priority };
}

const NAME: Printer = {
  column: column(
    "Name",
    "string",
    "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names",
    0,
    "name",
  ),
  cell: (object) => object.metadata.name,
};
const AGE: Printer = {
  column: column(
    "Age",
    "string",
    "CreationTimestamp is a timestamp representing the server time when this object was created.",
  ),
  cell: age,
};

type Json = Record<string, unknown>;
const at = (object: unknown, ...path: string[]): unknown =>
  path.reduce<unknown>((value, key) => (value as Json | undefined)?.[key], object);
const count = (value: unknown): number => (typeof value === "number" ? value : 0);
const text = (value: unknown, fallback: string): string => (typeof value === "string" ? value : fallback);
const containers = (object: KubeObject): Json[] =>
  (at(object, "spec", "template", "spec", "containers") ?? []) as Json[];

/** The columns the API server prints for the built-in kinds (pkg/printers/internalversion). */
const BUILT_IN_PRINTERS: Readonly<Record<string, readonly Printer[]>> = {
  Namespace: [
    NAME,
    {
      column: column("Status", "string", "The status of the namespace"),
      cell: (o) => text(at(o, "status", "phase"), ""),
    },
    AGE,
  ],
  Deployment: [
    NAME,
    {
      column: column("Ready", "string", "Number of the pod with ready state"),
      cell: (o) => `${count(at(o, "status", "readyReplicas"))}/${count(at(o, "spec", "replicas"))}`,
    },
    {
      column: column(
        "Up-to-date",
        "integer",
        "Total number of non-terminated pods targeted by this deployment that have the desired template spec.",
      ),
      cell: (o) => count(at(o, "status", "updatedReplicas")),
    },
    {
      column: column(
        "Available",
        "integer",
        "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.",
      ),
      cell: (o) => count(at(o, "status", "availableReplicas")),
    },
    AGE,
    {
      column: column("Containers", "string", "Names of each container in the template.", 1),
      cell: (o) =>
        containers(o)
          .map((c) => String(c.name))
          .join(","),
    },
    {
      column: column("Images", "string", "Images referenced by each container in the template.", 1),
      cell: (o) =>
        containers(o)
          .map((c) => String(c.image))
          .join(","),
    },
    {
      column: column(
        "Selector",
        "string",
        "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.",
        1,
      ),
      cell: (o) =>
        Object.entries((at(o, "spec", "selector", "matchLabels") ?? {}) as Record<string, string>)
          .map(([key, value]) => `${key}=${value}`)
          .join(","),
    },
  ],
  Pod: [
    NAME,
    {
      column: column("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
      cell: (o) => {
        const statuses = (at(o, "status", "containerStatuses") ?? []) as Json[];
        const total = ((at(o, "spec", "containers") ?? []) as unknown[]).length;
        return `${statuses.filter((s) => s.ready === true).length}/${total}`;
      },
    },
    {
      column: column("Status", "string", "The aggregate status of the containers in this pod."),
      cell: (o) => {
        const waiting = ((at(o, "status", "containerStatuses") ?? []) as Json[])
          .map((s) => at(s, "state", "waiting", "reason"))
          .find((reason) => typeof reason === "string");
        return typeof waiting === "string" ? waiting : text(at(o, "status", "phase"), "Unknown");
      },
    },
    {
      column: column(
        "Restarts",
        "string",
        "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
      ),
      cell: (o) =>
        String(
          ((at(o, "status", "containerStatuses") ?? []) as Json[]).reduce(
            (sum, s) => sum + count(s.restartCount),
            0,
          ),
        ),
    },
    AGE,
    {
      column: column("IP", "string", "The IP address assigned to the pod", 1),
      cell: (o) => text(at(o, "status", "podIP"), "<none>"),
    },
    {
      column: column("Node", "string", "The node assigned to the pod", 1),
      cell: (o) => text(at(o, "spec", "nodeName"), "<none>"),
    },
    { column: column("Nominated Node", "string", "The nominated node", 1), cell: () => "<none>" },
    { column: column("Readiness Gates", "string", "The readiness gates", 1), cell: () => "<none>" },
  ],
};

/** A simple JSONPath (`.spec.hosts`, `.metadata.creationTimestamp`) as CRD printer columns use it. */
function jsonPathValue(object: KubeObject, path: string): unknown {
  return at(
    object,
    ...path
      .replace(/^\./, "")
      .split(".")
      .filter((part) => part !== ""),
  );
}

/** A CRD column's cell as the apiextensions table convertor renders it: dates as ages, the rest as JSON text. */
function customPrinters(resource: ApiResource, version: string): readonly Printer[] {
  const columns = resource.printerColumns.get(version) ?? [];
  if (columns.length === 0) return [NAME, AGE];
  return [
    NAME,
    ...columns.map((definition): Printer => ({
      column: column(
        definition.name,
        definition.type === "date" ? "date" : definition.type,
        definition.description ?? "",
        definition.priority ?? 0,
        definition.format ?? "",
      ),
      cell: (object, now) => {
        const value = jsonPathValue(object, definition.jsonPath);
        if (value === undefined || value === null) return "";
        if (definition.type === "date" && typeof value === "string") {
          const then = Date.parse(value);
          return Number.isNaN(then) ? value : humanDuration(now.getTime() - then);
        }
        return typeof value === "string" || typeof value === "number" ? value : JSON.stringify(value);
      },
    })),
  ];
}

function printersFor(resource: ApiResource, version: string): readonly Printer[] {
  return resource.custom
    ? customPrinters(resource, version)
    : (BUILT_IN_PRINTERS[resource.kind] ?? [NAME, AGE]);
}

function rowObject(object: KubeObject, include: IncludeObject): Json | undefined {
  if (include === "None") return undefined;
  if (include === "Object") return object;
  return { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: object.metadata };
}

/** A `meta.k8s.io/v1` Table of `objects`, as `kubectl get` asks for one. */
export function toTable(
  resource: ApiResource,
  version: string,
  objects: readonly KubeObject[],
  options: { resourceVersion: string; include: IncludeObject; now?: Date; columns?: boolean },
): Json {
  const printers = printersFor(resource, version);
  const now = options.now ?? new Date();
  return {
    kind: "Table",
    apiVersion: "meta.k8s.io/v1",
    metadata: { resourceVersion: options.resourceVersion },
    ...(options.columns === false ? {} : { columnDefinitions: printers.map((printer) => printer.column) }),
    rows: objects.map((object) => {
      const included = rowObject(object, options.include);
      return {
        cells: printers.map((printer) => printer.cell(object, now)),
        ...(included ? { object: included } : {}),
      };
    }),
  };
}
