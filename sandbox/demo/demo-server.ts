import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { IncomingMessage, ServerResponse } from "node:http";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { stripTypeScriptTypes } from "node:module";
import { isCanaryError } from "../../src/errors.ts";
import type { MeshControl } from "../mesh/settings.ts";
import type { SignedRequestClient } from "../slack/signed-request-client.ts";
import type { SlackSandbox } from "../slack/web-api-sandbox.ts";
import type { ChannelView } from "./channel-view.ts";
import { viewSubmissionPayload } from "./view-submission.ts";
import type { FormValues } from "./view-submission.ts";
import { readCappedBody } from "../read-body.ts";
import { errorText } from "../errors.ts";

const PAGE_DIR = new URL("./page/", import.meta.url);
const STATIC_FILES: Readonly<Record<string, string>> = {
  "index.html": "text/html; charset=utf-8",
  "style.css": "text/css; charset=utf-8",
  "app.js": "text/javascript; charset=utf-8",
  // The renderers are TypeScript shared with the tests; the browser gets them with the types stripped.
  "mrkdwn.ts": "text/javascript; charset=utf-8",
  "block-kit.ts": "text/javascript; charset=utf-8",
};
const POLL_MS = 150;
const MAX_BODY_BYTES = 64 * 1024;

export type DemoServerOptions = {
  port: number;
  host?: string;
  slack: SlackSandbox;
  client: SignedRequestClient;
  channelId: string;
  /** The page's document, read now. */
  view: () => ChannelView;
  /** Marks a modal submitted or closed, so it leaves the page. */
  closeView: (id: string) => void;
  /** The mesh's controls; undefined when there is no mesh. */
  meshControl?: (control: MeshControl) => unknown;
};

export type DemoServer = { url: string; port: number; close(): Promise<void> };

class BadRequest extends Error {}

async function jsonBody(request: IncomingMessage): Promise<Record<string, unknown>> {
  const text = await readCappedBody(request, MAX_BODY_BYTES, () => new BadRequest("body too large"));
  try {
    const parsed = JSON.parse(text) as unknown;
    if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed))
      return parsed as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new BadRequest("the body must be a JSON object");
}

function text(body: Record<string, unknown>, field: string): string {
  const value = body[field];
  if (typeof value !== "string" || value === "") throw new BadRequest(`${field} is missing`);
  return value;
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "cache-control": "no-store",
  });
  response.end(JSON.stringify(body));
}

/**
 * The channel page's server: the page itself, the channel as server-sent events (pushed whenever what the page
 * shows changes: chat.postMessage, chat.update, uploads, views.open, the VirtualService's weights), and the
 * person's actions turned into what Slack would send the bot: signed slash commands, block_actions and
 * view_submission requests.
 */
export async function startDemoServer(options: DemoServerOptions): Promise<DemoServer> {
  const { slack, client } = options;
  const streams = new Set<ServerResponse>();
  let last = "";
  const publish = (): void => {
    const document = JSON.stringify(options.view());
    if (document === last) return;
    last = document;
    for (const stream of streams) stream.write(`data: ${document}\n\n`);
  };
  const poll = setInterval(publish, POLL_MS);

  const serveStatic = async (name: string, response: ServerResponse): Promise<void> => {
    const type = STATIC_FILES[name];
    if (type === undefined) {
      sendJson(response, 404, { error: "not found" });
      return;
    }
    const source = await readFile(new URL(name, PAGE_DIR), "utf8");
    response.writeHead(200, { "content-type": type, "cache-control": "no-store" });
    response.end(name.endsWith(".ts") ? stripTypeScriptTypes(source) : source);
  };

  const actions: Record<string, (body: Record<string, unknown>) => Promise<unknown>> = {
    async command(body) {
      const typed = text(body, "text").trim();
      const match = /^\/(\S+)\s*([\s\S]*)$/.exec(typed);
      if (match?.[1] !== "canary") {
        throw new BadRequest(`${typed.split(/\s/)[0]} is not a command here; try /canary help`);
      }
      const sent = await client.slashCommand({
        text: match[2] ?? "",
        userId: text(body, "user"),
        channelId: options.channelId,
      });
      return { status: sent.status };
    },
    async click(body) {
      const sent = await client.clickButton({
        channel: text(body, "channel"),
        messageTs: text(body, "ts"),
        actionId: text(body, "actionId"),
        ...(typeof body.blockId === "string" && body.blockId !== "" ? { blockId: body.blockId } : {}),
        userId: text(body, "user"),
      });
      return { status: sent.status };
    },
    async submit(body) {
      const viewId = text(body, "viewId");
      const opened = slack.views().find((view) => view.id === viewId);
      if (opened === undefined) throw new BadRequest(`no view ${viewId}`);
      const payload = viewSubmissionPayload(slack, {
        viewId,
        userId: text(body, "user"),
        view: opened.view,
        form: (body.values ?? {}) as FormValues,
      });
      const sent = await client.interaction(payload);
      // Bolt acks a refused form with {response_action: "errors"}; an empty ack closes the modal.
      const answer = sent.body === "" ? {} : (JSON.parse(sent.body) as Record<string, unknown>);
      if (answer.response_action !== "errors") options.closeView(viewId);
      return { status: sent.status, ...answer };
    },
    close(body) {
      options.closeView(text(body, "viewId"));
      return Promise.resolve({});
    },
    mesh(body) {
      if (options.meshControl === undefined) throw new BadRequest("this demo runs without the mesh");
      return Promise.resolve(options.meshControl(body as MeshControl));
    },
  };

  const route = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const url = new URL(request.url ?? "/", "http://demo.invalid");
    const path = url.pathname;
    if (request.method === "GET" && path === "/") return serveStatic("index.html", response);
    if (request.method === "GET" && path.startsWith("/static/")) return serveStatic(path.slice(8), response);
    if (request.method === "GET" && path === "/api/state") return sendJson(response, 200, options.view());
    if (request.method === "GET" && path === "/api/events") {
      response.writeHead(200, {
        "content-type": "text/event-stream",
        "cache-control": "no-store",
        connection: "keep-alive",
      });
      response.write(`data: ${JSON.stringify(options.view())}\n\n`);
      streams.add(response);
      request.on("close", () => streams.delete(response));
      return;
    }
    const file = /^\/files\/(\w+)$/.exec(path);
    if (request.method === "GET" && file !== null) {
      const bytes = slack.files().find((candidate) => candidate.id === file[1])?.bytes;
      if (bytes === undefined) return sendJson(response, 404, { error: "no such file" });
      response.writeHead(200, { "content-type": "image/png", "cache-control": "max-age=3600" });
      response.end(bytes);
      return;
    }
    const action = /^\/api\/(\w+)$/.exec(path)?.[1];
    const handler = action === undefined ? undefined : actions[action];
    if (request.method === "POST" && handler !== undefined) {
      const result = await handler(await jsonBody(request));
      publish();
      return sendJson(response, 200, result);
    }
    sendJson(response, 404, { error: "not found" });
  };

  const server = createServer((request, response) => {
    route(request, response).catch((error: unknown) => {
      const refused = error instanceof BadRequest || isCanaryError(error);
      sendJson(response, refused ? 400 : 500, {
        error: errorText(error),
      });
    });
  });
  server.listen(options.port, options.host ?? "127.0.0.1");
  await once(server, "listening"); // rejects on "error" (a busy port)
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://localhost:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(poll);
        for (const stream of streams) stream.end();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
