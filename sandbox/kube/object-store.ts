import { randomUUID } from "node:crypto";
import { jsonEqual } from "../../src/json/json-value.ts";
import { groupVersion, type ApiResource } from "./resources.ts";
import { alreadyExists, conflict, KubeStatusError, notFound } from "./status.ts";

export type ObjectMeta = {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [field: string]: unknown;
};

export type KubeObject = {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
};

export type WriteOptions = { readonly dryRun?: boolean };

/** How many changes a watch can be resumed across. */
const HISTORY_LENGTH = 1000;

/** A stored change, as a watch reports it. */
export type StoreEvent = {
  readonly type: "ADDED" | "MODIFIED" | "DELETED";
  readonly resource: ApiResource;
  /** The object after the change (for DELETED: as it was, at the deletion's resourceVersion). */
  readonly object: KubeObject;
};

/**
 * In-memory storage with the server-managed metadata of every write: one global, monotonically increasing
 * resourceVersion (like etcd's revision), uid and creationTimestamp on create, generation bumped when anything
 * outside metadata and status changes. Objects go in and out as copies, stored at the resource's first version.
 */
export class ObjectStore {
  readonly #objects = new Map<string, KubeObject>();
  readonly #now: () => Date;
  readonly #listeners = new Set<(event: StoreEvent) => void>();
  /** The latest changes, oldest first, so a watch from a resourceVersion misses nothing written since. */
  readonly #history: StoreEvent[] = [];
  #revision: number;

  constructor(options: { now?: () => Date; firstRevision?: number } = {}) {
    this.#now = options.now ?? (() => new Date());
    this.#revision = options.firstRevision ?? 1000;
  }

  /** The resourceVersion a LIST reports: the latest revision. */
  get revision(): string {
    return String(this.#revision);
  }

  /**
   * The changes after resourceVersion `since`, oldest first; undefined when they are no longer all kept (the
   * server's "too old resource version").
   */
  eventsSince(since: number): StoreEvent[] | undefined {
    const oldest = this.#history[0];
    const kept = oldest === undefined ? this.#revision : Number(oldest.object.metadata.resourceVersion) - 1;
    if (since < kept) return undefined;
    return this.#history.filter((event) => Number(event.object.metadata.resourceVersion) > since);
  }

  /** Calls `listener` after every stored change; returns the unsubscribe. */
  subscribe(listener: (event: StoreEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  get(resource: ApiResource, namespace: string, name: string): KubeObject | undefined {
    const object = this.#objects.get(key(resource, namespace, name));
    return object === undefined ? undefined : structuredClone(object);
  }

  /** Sorted by namespace, then name, like the server's LIST (etcd key order). */
  list(resource: ApiResource, namespace?: string): KubeObject[] {
    const prefix = namespace === undefined ? `${resourceKey(resource)}/` : key(resource, namespace, "");
    return [...this.#objects.entries()]
      .filter(([objectKey]) => objectKey.startsWith(prefix))
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([, object]) => structuredClone(object));
  }

  create(resource: ApiResource, object: KubeObject, options: WriteOptions = {}): KubeObject {
    const { name, namespace = "" } = object.metadata;
    if (this.#objects.has(key(resource, namespace, name)))
      throw new KubeStatusError(alreadyExists(resource, name));
    // The server assigns the resourceVersion; one sent along with a create means nothing.
    const metadata = structuredClone(object.metadata);
    delete metadata.resourceVersion;
    const created: KubeObject = {
      ...structuredClone(object),
      apiVersion: storageVersion(resource),
      metadata: {
        ...metadata,
        uid: randomUUID(),
        creationTimestamp: this.#timestamp(),
        generation: 1,
      },
    };
    if (options.dryRun === true) return created;
    return this.#store(resource, created);
  }

  /**
   * Replaces an existing object. A resourceVersion on the new object is a precondition (409 when stale); without
   * one the update is unconditional. A write that changes nothing keeps its resourceVersion, as on the server.
   */
  update(resource: ApiResource, object: KubeObject, options: WriteOptions = {}): KubeObject {
    const { name, namespace = "" } = object.metadata;
    const existing = this.#objects.get(key(resource, namespace, name));
    if (existing === undefined) throw new KubeStatusError(notFound(resource, name));
    const expected = object.metadata.resourceVersion;
    if (expected !== undefined && expected !== "" && expected !== existing.metadata.resourceVersion) {
      throw new KubeStatusError(conflict(resource, name));
    }
    const updated: KubeObject = {
      ...structuredClone(object),
      apiVersion: storageVersion(resource),
      metadata: {
        ...structuredClone(object.metadata),
        uid: existing.metadata.uid,
        creationTimestamp: existing.metadata.creationTimestamp,
        generation: (existing.metadata.generation ?? 1) + (specChanged(existing, object) ? 1 : 0),
        resourceVersion: existing.metadata.resourceVersion,
      },
    };
    if (jsonEqual(updated, existing) || options.dryRun === true) return structuredClone(updated);
    return this.#store(resource, updated);
  }

  delete(resource: ApiResource, namespace: string, name: string): KubeObject | undefined {
    const objectKey = key(resource, namespace, name);
    const existing = this.#objects.get(objectKey);
    if (existing === undefined) return undefined;
    this.#objects.delete(objectKey);
    this.#revision += 1;
    const gone = { ...existing, metadata: { ...existing.metadata, resourceVersion: this.revision } };
    this.#emit({ type: "DELETED", resource, object: gone });
    return existing;
  }

  #store(resource: ApiResource, object: KubeObject): KubeObject {
    this.#revision += 1;
    object.metadata.resourceVersion = String(this.#revision);
    const objectKey = key(resource, object.metadata.namespace ?? "", object.metadata.name);
    const type = this.#objects.has(objectKey) ? "MODIFIED" : "ADDED";
    this.#objects.set(objectKey, object);
    this.#emit({ type, resource, object: structuredClone(object) });
    return structuredClone(object);
  }

  #emit(event: StoreEvent): void {
    this.#history.push(event);
    if (this.#history.length > HISTORY_LENGTH) this.#history.shift();
    for (const listener of this.#listeners) listener(event);
  }

  // RFC 3339 at second precision, as metav1.Time marshals.
  #timestamp(): string {
    return this.#now()
      .toISOString()
      .replace(/\.\d{3}Z$/, "Z");
  }
}

function storageVersion(resource: ApiResource): string {
  return groupVersion(resource.group, resource.versions[0] ?? "v1");
}

function resourceKey(resource: ApiResource): string {
  return `${resource.group}/${resource.plural}`;
}

function key(resource: ApiResource, namespace: string, name: string): string {
  return `${resourceKey(resource)}/${namespace}/${name}`;
}

function specChanged(before: KubeObject, after: KubeObject): boolean {
  const rest = ({ metadata: _metadata, status: _status, apiVersion: _apiVersion, ...fields }: KubeObject) =>
    fields;
  return !jsonEqual(rest(before), rest(after));
}
