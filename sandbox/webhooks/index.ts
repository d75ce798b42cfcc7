// The webhook sandbox: scripted answers, flagger-loadtester's command endpoint and gates, and a record of every call.
export { startWebhookSandbox } from "./webhook-sandbox.ts";
export type {
  ReceivedCommand,
  ReceivedRequest,
  ScriptedAnswer,
  WebhookSandbox,
  WebhookSandboxOptions,
} from "./webhook-sandbox.ts";
export { parseHeyCommand } from "./load-test-command.ts";
export type { LoadTest } from "./load-test-command.ts";
