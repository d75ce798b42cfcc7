import { createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { HTTPModuleFunctions, HTTPReceiver } from "@slack/bolt";
import type { App, BufferedIncomingMessage, HTTPReceiverOptions, Receiver } from "@slack/bolt";
import type { Logger } from "../rollout/ports.ts";
import {
  checkPayload,
  checkSignature,
  isSslCheck,
  MAX_BODY_BYTES,
  TOO_LARGE_REPLY,
} from "./request-guard.ts";
import type { GuardVerdict } from "./request-guard.ts";

export type GuardedReceiverOptions = HTTPReceiverOptions & {
  signingSecret: string;
  endpoints: string;
  /** Where refusals are logged (never with the body). */
  guardLogger: Logger;
  now?: () => number;
};

type Read = { ok: true; body: Buffer } | { ok: false };

/** The body, or `ok: false` as soon as it grows past what Slack sends (the rest is drained unread). */
function readBody(request: IncomingMessage, limit: number): Promise<Read> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    request.on("data", (chunk: Buffer) => {
      if (over) return;
      size += chunk.length;
      if (size > limit) {
        over = true;
        chunks.length = 0;
        resolve({ ok: false });
        return;
      }
      chunks.push(chunk);
    });
    request.on("end", () => {
      if (!over) resolve({ ok: true, body: Buffer.concat(chunks) });
    });
    request.on("error", reject);
  });
}

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return typeof value === "string" ? value : undefined;
}

function answer(response: ServerResponse, verdict: Extract<GuardVerdict, { ok: false }>): void {
  if (verdict.reply === undefined) {
    response.writeHead(verdict.status, { "content-type": "text/plain; charset=utf-8" });
    response.end(verdict.why);
    return;
  }
  // A command's HTTP answer is shown to the person who typed it.
  response.writeHead(verdict.status, { "content-type": "application/json; charset=utf-8" });
  response.end(JSON.stringify({ response_type: "ephemeral", text: verdict.reply }));
}

/**
 * Bolt's HTTP receiver behind a guard. Bolt trusts a signed body to be an object (a signed `null` crashes the
 * process inside it), takes timestamps from the future and reads up to 4 MB; here every request to the events
 * path is read up to what Slack sends, its signature and timestamp checked (±5 minutes), and its parsed body
 * required to be an object, before Bolt sees it. Bolt re-checks the signature on the same bytes.
 */
export class GuardedHTTPReceiver implements Receiver {
  readonly #bolt: HTTPReceiver;
  readonly #options: GuardedReceiverOptions;
  readonly #now: () => number;
  #server: Server | undefined;

  constructor(options: GuardedReceiverOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#bolt = new HTTPReceiver(options);
  }

  init(app: App): void {
    this.#bolt.init(app);
  }

  async start(port: number): Promise<Server> {
    const server = createServer((request, response) => {
      this.#handle(request, response).catch((error: unknown) => {
        this.#options.guardLogger.warn({ err: String(error) }, "slack request failed");
        if (!response.headersSent) response.writeHead(500);
        response.end();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, () => resolve());
    });
    this.#server = server;
    return server;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (!server) return;
    await new Promise<void>((resolve, reject) =>
      server.close((error) => (error ? reject(error) : resolve())),
    );
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = new URL(request.url ?? "/", "http://localhost").pathname;
    if (request.method !== "POST" || path !== this.#options.endpoints) {
      this.#pass(request, response);
      return;
    }
    const read = await readBody(request, MAX_BODY_BYTES);
    if (!read.ok) {
      this.#refuse(response, { ok: false, status: 413, why: "body over the limit", reply: TOO_LARGE_REPLY });
      return;
    }
    if (isSslCheck(header(request, "content-type"), read.body)) {
      response.writeHead(200);
      response.end();
      return;
    }
    const signed = checkSignature({
      signingSecret: this.#options.signingSecret,
      timestamp: header(request, "x-slack-request-timestamp"),
      signature: header(request, "x-slack-signature"),
      rawBody: read.body,
      nowMs: this.#now(),
    });
    if (!signed.ok) {
      this.#refuse(response, signed);
      return;
    }
    const buffered: BufferedIncomingMessage = Object.assign(request, { rawBody: read.body });
    let parsed: unknown;
    try {
      parsed = HTTPModuleFunctions.parseHTTPRequestBody(buffered);
    } catch {
      this.#refuse(response, { ok: false, status: 400, why: "the body does not parse" });
      return;
    }
    const payload = checkPayload(parsed);
    if (!payload.ok) {
      this.#refuse(response, payload);
      return;
    }
    this.#pass(buffered, response);
  }

  #refuse(response: ServerResponse, verdict: Extract<GuardVerdict, { ok: false }>): void {
    this.#options.guardLogger.warn({ status: verdict.status, why: verdict.why }, "slack request refused");
    answer(response, verdict);
  }

  /** Bolt routes it: the events path, custom routes, or its 404 for anything else. */
  #pass(request: IncomingMessage, response: ServerResponse): void {
    try {
      this.#bolt.requestListener(request, response);
    } catch {
      response.writeHead(404);
      response.end();
    }
  }
}
