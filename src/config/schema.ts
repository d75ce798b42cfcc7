import { z } from "zod";
import { ConfigFile } from "./file.ts";

/**
 * The JSON Schema of the config file, for editors (`# yaml-language-server: $schema=…`). It describes what may be
 * written (the input side of the zod schema: `interval: 2m` as well as `interval: 120`), so completion and
 * red squiggles match what `canarybot config check` accepts; the rules zod checks in code (plan soundness,
 * parsed durations) are left to `config check`.
 */
export function configJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(ConfigFile, { io: "input", unrepresentable: "any" }),
    title: "canarybot config file",
    description: "Services canarybot may roll out, their targets, defaults, analysis and who may do what.",
  };
}
