import type { Command } from "commander";
import { CanaryError, ErrorCode } from "../errors.ts";

type Io = {
  stdout: (text: string) => void;
  env: Readonly<Record<string, string | undefined>>;
};

/**
 * `canarybot config check [FILE]` and `canarybot config schema`: no Redis, no cluster, nothing connected. The
 * schema and its checks load only when one of these runs, so `--help` stays quick.
 */
export function registerConfigCommands(program: Command, io: Io): void {
  const config = program.command("config").description("check the config file, or print its JSON Schema");
  config
    .command("check")
    .description("list every problem of a config file with its line and path; exit 1 if there are any")
    .argument("[file]", "the config file (default: --config, CANARYBOT_CONFIG)")
    .action(async (file: string | undefined) => {
      const [{ configPathFrom }, { checkConfigFile }] = await Promise.all([
        import("../config/file.ts"),
        import("../config/check.ts"),
      ]);
      const path = file ?? configPathFrom(program.opts<{ config?: string }>().config, io.env);
      if (path === undefined) {
        throw new CanaryError(
          ErrorCode.InvalidInput,
          "config check: name the file (or set CANARYBOT_CONFIG)",
        );
      }
      const result = await checkConfigFile(path);
      if (!result.ok) throw new CanaryError(ErrorCode.InvalidInput, result.problems.join("\n"));
      const count = result.services.length;
      io.stdout(
        `${path}: ok, ${count} ${count === 1 ? "service" : "services"} (${result.services.join(", ")})\n`,
      );
    });
  config
    .command("schema")
    .description("print the config file's JSON Schema, for editor completion")
    .action(async () => {
      const { configJsonSchema } = await import("../config/schema.ts");
      io.stdout(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
    });
}
