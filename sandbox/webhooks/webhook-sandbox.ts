import { createServer } from "node:http";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { parseHeyCommand } from "./load-test-command.ts";
import type { LoadTest } from "./load-test-command.ts";
import { readCappedBody } from "../read-body.ts";
import { errorText } from "../errors.ts";

/** One scripted answer: status, body, and how long to wait before answering (to make a hook time out). */
export type ScriptedAnswer = { status: number; body?: string; delayMs?: number };

/** A request the sandbox received, its JSON body parsed (or the raw text when it is not JSON). */
export type ReceivedRequest = { path: string; body: unknown; at: number };

/** A command the loadtester endpoint was asked to run, as flagger-loadtester receives it. */
export type ReceivedCommand = {
  name: string;
  namespace: string;
  type: string;
  cmd: string;
  loadTest?: LoadTest;
};

export type WebhookSandboxOptions = {
  port?: number;
  host?: string;
  /** The mesh sandbox's `/control` URL: a `hey` load test sets its request rate for the test's duration. */
  meshControlUrl?: string;
};

export type WebhookSandbox = {
  /** Base URL; hooks live at `${url}/hooks/<name>`, the loadtester at `${url}/`. */
  url: string;
  /** Answers for `path` (`/hooks/smoke`, or `/` to override the loadtester), in order; the last one repeats. */
  script(path: string, answers: ScriptedAnswer[]): void;
  /** Requests received, oldest first; only those to `path` when given. */
  requests(path?: string): ReceivedRequest[];
  /** Commands the loadtester endpoint was asked to run, oldest first. */
  commands(): ReceivedCommand[];
  close(): Promise<void>;
};

const MAX_BODY_BYTES = 1024 * 1024;

/**
 * A stand-in for the outside systems a rollout's webhooks reach: scripted answers per path (status, body, delay),
 * flagger-loadtester's `POST /` (records the command; a rate-limited `hey` drives the mesh sandbox's traffic) and its
 * gates (`/gate/approve|halt|check|open|close`, `/rollback/check|open|close`, keyed by canary name and namespace).
 * Every request is recorded.
 */
export async function startWebhookSandbox(options: WebhookSandboxOptions = {}): Promise<WebhookSandbox> {
  const scripts = new Map<string, ScriptedAnswer[]>();
  const received: ReceivedRequest[] = [];
  const commands: ReceivedCommand[] = [];
  const gates = new Set<string>();
  const rollbacks = new Set<string>();
  const timers = new Set<NodeJS.Timeout>();

  const next = (path: string): ScriptedAnswer | undefined => {
    const answers = scripts.get(path);
    if (!answers || answers.length === 0) return undefined;
    return answers.length > 1 ? answers.shift() : answers[0];
  };

  const loadTest = async (test: LoadTest): Promise<void> => {
    const control = options.meshControlUrl;
    if (!control) return;
    const before = ((await (await fetch(control)).json()) as { settings?: { rps?: number } }).settings?.rps;
    await postJson(control, { rps: test.rps });
    // When the test is over, the mesh goes back to the rate it had.
    if (test.durationMs === undefined || before === undefined) return;
    const timer = setTimeout(() => {
      timers.delete(timer);
      void postJson(control, { rps: before }).catch(() => undefined);
    }, test.durationMs);
    timers.add(timer);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = new URL(req.url ?? "/", "http://sandbox").pathname;
    if (req.method === "GET" && path === "/requests")
      return send(res, 200, JSON.stringify(received, null, 2));
    if (req.method !== "POST") return send(res, 405, "POST only");
    const text = await readCappedBody(req, MAX_BODY_BYTES, () => new Error("body larger than 1 MiB"));
    const body = parseJson(text);
    received.push({ path, body, at: Date.now() });
    const scripted = next(path);
    if (scripted) {
      if (scripted.delayMs) await sleep(scripted.delayMs, timers);
      return send(res, scripted.status, scripted.body ?? "");
    }
    const canary = canaryKey(body);
    switch (path) {
      case "/":
        return runCommand(res, body, commands, loadTest);
      case "/gate/approve":
        return send(res, 200, "Approved");
      case "/gate/halt":
        return send(res, 403, "Forbidden");
      case "/gate/check":
        return gates.has(canary) ? send(res, 200, "Approved") : send(res, 403, "Forbidden");
      case "/rollback/check":
        return rollbacks.has(canary) ? send(res, 200, "Approved") : send(res, 403, "Forbidden");
      case "/gate/open":
      case "/gate/close":
      case "/rollback/open":
      case "/rollback/close": {
        const set = path.startsWith("/gate") ? gates : rollbacks;
        if (path.endsWith("open")) set.add(canary);
        else set.delete(canary);
        return send(res, 202, "");
      }
      default:
        return path.startsWith("/hooks/") ? send(res, 200, "ok") : send(res, 404, `no such path ${path}`);
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => send(res, 500, errorText(error)));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://${options.host ?? "127.0.0.1"}:${address.port}`,
    script: (path, answers) => scripts.set(path, [...answers]),
    requests: (path) => received.filter((request) => path === undefined || request.path === path),
    commands: () => [...commands],
    async close() {
      for (const timer of timers) clearTimeout(timer);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** flagger-loadtester's `POST /`: a task named by `metadata.type` (default `cmd`) running `metadata.cmd`. */
async function runCommand(
  res: ServerResponse,
  body: unknown,
  commands: ReceivedCommand[],
  loadTest: (test: LoadTest) => Promise<void>,
): Promise<void> {
  const payload = asRecord(body);
  const metadata = asRecord(payload.metadata);
  const cmd = typeof metadata.cmd === "string" ? metadata.cmd : "";
  if (cmd === "") return send(res, 400, "cmd not found");
  const test = parseHeyCommand(cmd);
  commands.push({
    name: text(payload.name),
    namespace: text(payload.namespace),
    type: typeof metadata.type === "string" ? metadata.type : "cmd",
    cmd,
    ...(test ? { loadTest: test } : {}),
  });
  if (test) await loadTest(test);
  return send(res, 202, "");
}

function canaryKey(body: unknown): string {
  const payload = asRecord(body);
  return `${text(payload.name)}.${text(payload.namespace)}`;
}

function text(value: unknown): string {
  return typeof value === "string" ? value : "";
}

function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : {};
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function send(res: ServerResponse, status: number, text: string): void {
  if (res.headersSent) return;
  res.writeHead(status, {
    "content-type": "text/plain; charset=utf-8",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}

async function postJson(url: string, body: unknown): Promise<void> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`mesh control answered ${response.status}: ${await response.text()}`);
}

function sleep(ms: number, timers: Set<NodeJS.Timeout>): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      resolve();
    }, ms);
    timers.add(timer);
  });
}
