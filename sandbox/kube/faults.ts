export type FaultSpec = {
  /** HTTP method to match (any when absent). */
  readonly method?: string;
  /** Resource plural to match, e.g. "virtualservices" (any resource when absent; discovery is never faulted). */
  readonly resource?: string;
  readonly namespace?: string;
  readonly name?: string;
  /** Hold every matching request this long before answering (with conflicts/errors: until the last one). */
  readonly delayMs?: number;
  /** The next N matching requests answer 409 Conflict, as if someone else had written first. */
  readonly conflicts?: number;
  /** The next N matching requests answer `status`. */
  readonly errors?: number;
  /** Status of the `errors` answers: 500 InternalError (default) or 503 ServiceUnavailable. */
  readonly status?: 500 | 503;
};

export type FaultTarget = {
  readonly method: string;
  readonly resource: string;
  readonly namespace?: string;
  readonly name?: string;
};

/** What an injected fault makes of one request: a delay, then maybe a canned failure instead of the real answer. */
export type FaultOutcome = { readonly delayMs: number; readonly failure?: "conflict" | 500 | 503 };

type ActiveFault = { readonly id: number; readonly spec: FaultSpec; remaining: number };

export class Faults {
  readonly #active: ActiveFault[] = [];
  #nextId = 1;

  /** Adds a fault; returns its id for remove(). Throws on a spec that could mean two things. */
  add(spec: FaultSpec): number {
    const failures = [spec.conflicts, spec.errors].filter((count) => count !== undefined);
    if (failures.length > 1) throw new Error("a fault has either conflicts or errors, not both");
    if (failures.length === 0 && spec.delayMs === undefined)
      throw new Error("a fault needs delayMs, conflicts or errors");
    if (spec.status !== undefined && spec.errors === undefined) throw new Error("status goes with errors");
    if (![spec.delayMs, ...failures].every((n) => n === undefined || (Number.isInteger(n) && n >= 0))) {
      throw new Error("delayMs, conflicts and errors are non-negative integers");
    }
    const id = this.#nextId++;
    this.#active.push({ id, spec: { ...spec }, remaining: failures[0] ?? Number.POSITIVE_INFINITY });
    return id;
  }

  remove(id: number): boolean {
    const index = this.#active.findIndex((fault) => fault.id === id);
    if (index >= 0) this.#active.splice(index, 1);
    return index >= 0;
  }

  clear(): void {
    this.#active.length = 0;
  }

  list(): (FaultSpec & { id: number; remaining: number })[] {
    return this.#active.map((fault) => ({ ...fault.spec, id: fault.id, remaining: fault.remaining }));
  }

  /** Decides the fault for one request and uses up one failure of the first matching fault that has any left. */
  take(target: FaultTarget): FaultOutcome {
    const matching = this.#active.filter((fault) => matches(fault.spec, target));
    const delayMs = Math.max(0, ...matching.map((fault) => fault.spec.delayMs ?? 0));
    const failing = matching.find((fault) => Number.isFinite(fault.remaining) && fault.remaining > 0);
    if (failing === undefined) return { delayMs };
    failing.remaining -= 1;
    if (failing.remaining === 0) this.remove(failing.id);
    return {
      delayMs,
      failure: failing.spec.conflicts === undefined ? (failing.spec.status ?? 500) : "conflict",
    };
  }
}

function matches(spec: FaultSpec, target: FaultTarget): boolean {
  return (
    (spec.method === undefined || spec.method.toUpperCase() === target.method) &&
    (spec.resource === undefined || spec.resource === target.resource) &&
    (spec.namespace === undefined || spec.namespace === target.namespace) &&
    (spec.name === undefined || spec.name === target.name)
  );
}

const SPEC_FIELDS = {
  method: "string",
  resource: "string",
  namespace: "string",
  name: "string",
  delayMs: "number",
  conflicts: "number",
  errors: "number",
  status: "number",
} as const;

/** Reads a FaultSpec from untrusted JSON (the HTTP control endpoint); add() checks the combination. */
export function parseFaultSpec(value: unknown): FaultSpec {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new Error("a fault is a JSON object");
  for (const [key, field] of Object.entries(value)) {
    const expected = SPEC_FIELDS[key as keyof typeof SPEC_FIELDS] as string | undefined;
    if (expected === undefined) throw new Error(`unknown fault field ${JSON.stringify(key)}`);
    if (typeof field !== expected) throw new Error(`fault field ${key} must be a ${expected}`);
  }
  const spec = value as FaultSpec;
  if (spec.status !== undefined && spec.status !== 500 && spec.status !== 503)
    throw new Error("status is 500 or 503");
  return spec;
}
