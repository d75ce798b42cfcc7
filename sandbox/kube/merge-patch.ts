import { isJsonObject } from "../../src/json/json-value.ts";

/** RFC 7386 JSON Merge Patch: objects merge key by key, `null` deletes, anything else replaces (arrays whole). */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isJsonObject(patch)) return structuredClone(patch);
  const result: Record<string, unknown> = isJsonObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = applyMergePatch(result[key], value);
  }
  return result;
}
