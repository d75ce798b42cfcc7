import { SandboxError } from "../errors.ts";
import { startWebhookSandbox } from "./webhook-sandbox.ts";
import type { ScriptedAnswer, WebhookSandbox } from "./webhook-sandbox.ts";

/** `canarybot-sandbox webhooks` flags as commander hands them over. */
export type WebhookSandboxFlags = {
  port: string;
  host?: string;
  meshControl?: string;
  answer?: string[];
};

export type RunWebhookSandboxOptions = {
  flags: WebhookSandboxFlags;
  print: (text: string) => void;
  /** Resolves when the sandbox should stop. */
  stopSignal: Promise<void>;
  /** Told the running sandbox once it listens (tests). */
  onStarted?: (sandbox: WebhookSandbox) => void;
};

/** `/hooks/load=500:load test failed` → ["/hooks/load", { status: 500, body: "load test failed" }]. */
export function parseAnswerFlag(flag: string): [string, ScriptedAnswer] {
  const match = /^(\/[^=\s]*)=(\d{3})(?::(.*))?$/s.exec(flag);
  const status = Number(match?.[2]);
  if (!match?.[1] || !(status >= 100 && status <= 599)) {
    throw new SandboxError(
      `--answer ${flag}: expected /path=status[:body], e.g. /hooks/load=500:load test failed`,
    );
  }
  return [match[1], { status, ...(match[3] === undefined ? {} : { body: match[3] }) }];
}

/**
 * `canarybot-sandbox webhooks`: the webhook sandbox on its own, for a demo or a pipeline tried by hand: scripted
 * answers from `--answer`, flagger-loadtester's `POST /` and gates, and with `--mesh-control` its `hey` load tests
 * driving the mesh sandbox. Runs until stopped.
 */
export async function runWebhookSandbox(options: RunWebhookSandboxOptions): Promise<void> {
  const { flags, print } = options;
  const port = Number(flags.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new SandboxError(`--port ${flags.port}: expected a port from 0 to 65535`);
  }
  if (flags.meshControl !== undefined && !/^https?:\/\/[^\s/]+/.test(flags.meshControl)) {
    throw new SandboxError(
      `--mesh-control ${flags.meshControl}: expected the mesh sandbox's http://…/control URL`,
    );
  }
  const answers = new Map<string, ScriptedAnswer[]>();
  for (const flag of flags.answer ?? []) {
    const [path, answer] = parseAnswerFlag(flag);
    answers.set(path, [...(answers.get(path) ?? []), answer]);
  }
  const sandbox = await startWebhookSandbox({
    port,
    ...(flags.host === undefined ? {} : { host: flags.host }),
    ...(flags.meshControl === undefined ? {} : { meshControlUrl: flags.meshControl }),
  });
  try {
    for (const [path, scripted] of answers) sandbox.script(path, scripted);
    print(`webhook sandbox listening on ${sandbox.url}\n`);
    print(
      `  POST /hooks/<name> (scripted with --answer, else 200 ok), POST / (flagger-loadtester), ` +
        `/gate/{approve,halt,check,open,close}, /rollback/{check,open,close}, GET /requests\n`,
    );
    options.onStarted?.(sandbox);
    await options.stopSignal;
  } finally {
    await sandbox.close();
  }
}
