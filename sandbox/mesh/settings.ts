import { z } from "zod";
import { describeIssues, SandboxError } from "../errors.ts";

/** Latency of a subset: log-normal with this median and 99th percentile, milliseconds. */
export const LatencySetting = z
  .object({ p50: z.number().positive(), p99: z.number().positive() })
  .strict()
  .refine((l) => l.p99 >= l.p50, { message: "p99 must be at least p50" });
export type LatencySetting = z.infer<typeof LatencySetting>;

/** How the pods of one subset answer. */
export type SubsetBehaviour = { errorRate: number; latencyMs: LatencySetting };

/** A change to a subset's behaviour; unset fields keep their value. */
export const SubsetBehaviourPatch = z
  .object({
    /** Share of requests answered 5xx (500, some 503), 0..1. */
    errorRate: z.number().min(0).max(1).optional(),
    latencyMs: z
      .object({ p50: z.number().positive().optional(), p99: z.number().positive().optional() })
      .strict()
      .optional(),
  })
  .strict();
export type SubsetBehaviourPatch = z.infer<typeof SubsetBehaviourPatch>;

/** Share of requests that carry a header (e.g. 5 % with `qa: canary-test`). */
export const HeaderTraffic = z
  .object({
    name: z
      .string()
      .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, "must be an HTTP header name")
      .transform((n) => n.toLowerCase()),
    value: z.string(),
    share: z.number().min(0).max(1),
  })
  .strict();
export type HeaderTraffic = z.infer<typeof HeaderTraffic>;

/**
 * Body of `POST /control` and argument of `control()`. `subsets` keys: a subset name (`v2`), `service/subset`
 * (`reviews/v2`) for one service only, or `*` for every subset; `null` drops the override. `headers` replaces the
 * list. `rps` is per simulated service.
 */
export const MeshControl = z
  .object({
    rps: z.number().min(0).max(100_000).optional(),
    subsets: z.record(z.string().min(1), SubsetBehaviourPatch.nullable()).optional(),
    headers: z.array(HeaderTraffic).optional(),
  })
  .strict();
export type MeshControl = z.input<typeof MeshControl>;

export type MeshSettings = {
  /** Requests per second per simulated service. */
  rps: number;
  /** Overrides by key (`v2`, `reviews/v2`, `*`); see `behaviourOf`. */
  subsets: Record<string, SubsetBehaviourPatch>;
  headers: HeaderTraffic[];
};

export const DEFAULT_RPS = 50;
/** A healthy subset: no errors, 20 ms median, 80 ms p99. */
export const DEFAULT_BEHAVIOUR: SubsetBehaviour = { errorRate: 0, latencyMs: { p50: 20, p99: 80 } };

/** Validates a control request; `invalid_input` naming every bad field. */
export function parseMeshControl(input: unknown): z.output<typeof MeshControl> {
  const parsed = MeshControl.safeParse(input);
  if (parsed.success) return parsed.data;
  throw new SandboxError(`bad mesh control: ${describeIssues(parsed.error)}`);
}

function mergePatch(base: SubsetBehaviourPatch, patch: SubsetBehaviourPatch): SubsetBehaviourPatch {
  const merged: SubsetBehaviourPatch = { ...base };
  if (patch.errorRate !== undefined) merged.errorRate = patch.errorRate;
  if (patch.latencyMs !== undefined) merged.latencyMs = { ...base.latencyMs, ...patch.latencyMs };
  return merged;
}

/** The settings after a (validated) control request. Pure. */
export function applyMeshControl(settings: MeshSettings, input: unknown): MeshSettings {
  const control = parseMeshControl(input);
  const subsets = { ...settings.subsets };
  for (const [key, patch] of Object.entries(control.subsets ?? {})) {
    if (patch === null) delete subsets[key];
    else subsets[key] = mergePatch(subsets[key] ?? {}, patch);
  }
  const next: MeshSettings = {
    rps: control.rps ?? settings.rps,
    subsets,
    headers: control.headers ?? settings.headers,
  };
  for (const key of Object.keys(subsets)) behaviourCheck(next, key);
  return next;
}

function behaviourCheck(settings: MeshSettings, key: string): void {
  const [service, subset] = key.includes("/") ? key.split("/", 2) : [undefined, key];
  const b = behaviourOf(settings, service ?? "", subset === "*" ? undefined : subset);
  if (b.latencyMs.p99 < b.latencyMs.p50) {
    throw new SandboxError(
      `bad mesh control: subsets.${key}.latencyMs: p99 (${b.latencyMs.p99}) must be at least p50 (${b.latencyMs.p50})`,
    );
  }
}

/** Effective behaviour of a subset: defaults, then `*`, then `subset`, then `service/subset`. */
export function behaviourOf(
  settings: MeshSettings,
  service: string,
  subset: string | undefined,
): SubsetBehaviour {
  const layers = [settings.subsets["*"], subset === undefined ? undefined : settings.subsets[subset]];
  if (subset !== undefined) layers.push(settings.subsets[`${service}/${subset}`]);
  let merged: SubsetBehaviourPatch = {
    errorRate: DEFAULT_BEHAVIOUR.errorRate,
    latencyMs: DEFAULT_BEHAVIOUR.latencyMs,
  };
  for (const layer of layers) if (layer !== undefined) merged = mergePatch(merged, layer);
  return {
    errorRate: merged.errorRate ?? DEFAULT_BEHAVIOUR.errorRate,
    latencyMs: {
      p50: merged.latencyMs?.p50 ?? DEFAULT_BEHAVIOUR.latencyMs.p50,
      p99: merged.latencyMs?.p99 ?? DEFAULT_BEHAVIOUR.latencyMs.p99,
    },
  };
}

/** Initial settings from start options (validated like a control request). */
export function initialMeshSettings(input: {
  rps?: number;
  subsets?: Record<string, SubsetBehaviourPatch>;
  headers?: HeaderTraffic[];
}): MeshSettings {
  return applyMeshControl(
    { rps: DEFAULT_RPS, subsets: {}, headers: [] },
    {
      ...(input.rps === undefined ? {} : { rps: input.rps }),
      ...(input.subsets === undefined ? {} : { subsets: input.subsets }),
      ...(input.headers === undefined ? {} : { headers: input.headers }),
    },
  );
}
