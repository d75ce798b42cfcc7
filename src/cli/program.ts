import { Command, CommanderError } from "commander";
import { ErrorCode, isCanaryError, errorMessage } from "../errors.ts";
import { redact, secretValues } from "../redact.ts";
import { processStopSignal } from "../ops/shutdown.ts";
import { registerConfigCommands } from "./config-commands.ts";
import { createCliContext, ExitCode } from "./context.ts";
import type { CliIo } from "./context.ts";
import { registerRolloutCommands } from "./rollout-commands.ts";
import { registerServeCommands } from "./serve-commands.ts";
import { registerStartCommand } from "./start-command.ts";

export { ExitCode } from "./context.ts";
export type { CliIo } from "./context.ts";

/** Failures of the world, not of the request: they exit 2. */
const INTERNAL_CODES: readonly string[] = [
  ErrorCode.Internal,
  ErrorCode.KubernetesUnavailable,
  ErrorCode.MetricsUnavailable,
  ErrorCode.SlackUnavailable,
  ErrorCode.Locked,
];

/** Run the command line; returns the exit code instead of exiting, so tests can drive it in-process. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  let exitCode: number = ExitCode.Ok;
  const program = new Command("canarybot")
    .description("Progressive (canary) releases of Istio VirtualServices, stepped from Redis-backed jobs")
    .option("--kubeconfig <file>", "kubeconfig file (default: KUBECONFIG, in-cluster, ~/.kube/config)")
    .option("--context <name>", "kubeconfig context")
    .option("--config <file>", "services, their targets, defaults and approvers (default: CANARYBOT_CONFIG)")
    .option("--verbose", "log what the command does on stderr (otherwise only warnings and errors)")
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr, outputError: () => undefined })
    .showSuggestionAfterError(true);

  const cli = createCliContext(program, io, (code) => (exitCode = code));
  registerStartCommand(cli);
  registerRolloutCommands(cli);
  registerServeCommands(cli);
  registerConfigCommands(program, io);

  try {
    await program.parseAsync(argv, { from: "user" });
  } catch (error) {
    exitCode = reportError(error, io);
  }
  return exitCode;
}

function reportError(error: unknown, io: CliIo): number {
  // One line, and never a credential, whatever an upstream put in the message.
  // A message of several lines (config check: one problem a line) keeps its lines; each is redacted on its own.
  const say = (text: string): void =>
    io.stderr(
      `${text
        .split("\n")
        .map((line) => redact(line, secretValues(io.env), 1_000))
        .join("\n")}\n`,
    );
  if (error instanceof CommanderError) {
    if (error.exitCode === 0) return ExitCode.Ok;
    // No command given: the help commander printed is the whole answer.
    if (error.code === "commander.help") return ExitCode.Refused;
    say(error.message.replace(/^error: /, ""));
    return ExitCode.Refused;
  }
  if (isCanaryError(error)) {
    say(error.message);
    return INTERNAL_CODES.includes(error.code) ? ExitCode.Internal : ExitCode.Refused;
  }
  say(`internal error: ${errorMessage(error)}`);
  return ExitCode.Internal;
}

/** The `canarybot` executable: real streams, real signals, the process's exit code. */
export async function main(): Promise<void> {
  // Signals are taken over only by the commands that wait for them; elsewhere Ctrl-C keeps its usual meaning.
  const stop = processStopSignal((message) => process.stderr.write(`${message}\n`));
  let env: Record<string, string | undefined>;
  try {
    env = (await import("../config/secrets.ts")).resolveSecretFiles(process.env);
  } catch (error) {
    process.stderr.write(`${errorMessage(error)}\n`);
    process.exitCode = ExitCode.Refused;
    return;
  }
  process.exitCode = await runCli(process.argv.slice(2), {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    env,
    stopSignal: () => stop.wait(),
  });
  // Stopped in order: an idle keep-alive socket or a library's timer must not keep the process alive.
  if (stop.received()) process.exit();
  // The command has answered. Whatever a library left behind (a connection still retrying, a timer) must not keep
  // the process alive: it would hang a script that waits for the exit code.
  // Exit once what was written to stdout has gone out (pipes are asynchronous on some platforms).
  setTimeout(() => process.stdout.write("", () => process.exit()), LINGER_MS).unref();
}

/** How long a finished command may take to close what it opened before the process exits anyway. */
const LINGER_MS = 1_000;
