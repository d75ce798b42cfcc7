import { createServer } from "node:http";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { parseApiBody, readBody, stringArgument, uploadedBytes } from "./request-body.ts";
import type { ApiArguments } from "./request-body.ts";
import { postToResponseUrl } from "./response-urls.ts";
import { DEFAULT_IDENTITY, SlackWorkspace } from "./slack-workspace.ts";
import { createSocketModeHub } from "./socket-mode.ts";
import type { SocketModeEndpoint } from "./socket-mode.ts";
import type {
  EphemeralMessage,
  OpenedView,
  ResponseUrlPost,
  ResponseUrlTarget,
  SandboxIdentity,
  SeedChannel,
  SeedUser,
  SeedUsergroup,
  SlackMessage,
  UploadedFile,
} from "./slack-workspace.ts";
import { METHODS, callMethod } from "./web-api-methods.ts";
import type { ApiResult } from "./web-api-methods.ts";
import { manifestBotScopes } from "./manifest-scopes.ts";
import { errorText } from "../errors.ts";

export interface SlackSandboxOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  botToken?: string;
  /** The app-level token (`xapp-…`, scope connections:write) that apps.connections.open takes for Socket Mode. */
  appToken?: string;
  /** The scopes the token was granted; defaults to what manifest.yml asks for. */
  scopes?: readonly string[];
  identity?: Partial<SandboxIdentity>;
  users?: SeedUser[];
  usergroups?: SeedUsergroup[];
  channels?: SeedChannel[];
  /** Milliseconds since the epoch; drives message ts values and trigger_id / response_url expiry. */
  now?: () => number;
}

export interface SlackCall {
  kind: "api" | "upload" | "response_url";
  /** The Web API method, or the upload / response_url path. */
  method: string;
  at: number;
  status: number;
  ok: boolean;
  error?: string;
  /** The arguments as the sandbox parsed them, without the token. */
  args: ApiArguments;
}

export interface RateLimitFault {
  method: string;
  count: number;
  retryAfterSeconds: number;
}

export interface OutageFault {
  /** Every method when omitted. */
  method?: string;
  /** Until clearFaults() when omitted. */
  count?: number;
  status: number;
}

export interface PlatformErrorFault {
  method: string;
  /** A Slack error code, e.g. "msg_too_long", "internal_error", "fatal_error". */
  error: string;
  count?: number;
}

export interface SlackSandbox {
  /** Base URL, e.g. http://127.0.0.1:40123 (response_url and upload endpoints live under it). */
  readonly url: string;
  /** What WebClient takes as `slackApiUrl`: `${url}/api/`. */
  readonly apiUrl: string;
  readonly botToken: string;
  readonly appToken: string;
  readonly identity: SandboxIdentity;
  /** Socket Mode: the connections apps.connections.open led to, envelopes delivered on them, and their acks. */
  readonly socketMode: SocketModeEndpoint;

  /** Top-level messages of a channel in posting order, as they are now (after updates), deleted ones left out. */
  messages(channel: string): readonly SlackMessage[];
  message(channel: string, ts: string): SlackMessage | undefined;
  replies(channel: string, threadTs: string): readonly SlackMessage[];
  user(id: string): SeedUser | undefined;
  channel(id: string): SeedChannel | undefined;
  ephemerals(filter?: { channel?: string; user?: string }): readonly EphemeralMessage[];
  files(): readonly UploadedFile[];
  views(): readonly OpenedView[];
  responses(): readonly ResponseUrlPost[];
  calls(method?: string): readonly SlackCall[];

  addUser(user: SeedUser): void;
  addChannel(channel: SeedChannel): void;
  addUsergroup(group: SeedUsergroup): void;
  /** A message written by a person, e.g. to check that chat.update on it answers `cant_update_message`. */
  postAsUser(channel: string, user: string, text: string): SlackMessage;

  /** A response_url on this sandbox, as Slack mints one per command or click. */
  createResponseUrl(target: ResponseUrlTarget): string;
  /** A trigger_id views.open accepts once, within 3 seconds. */
  createTriggerId(user?: string): string;

  /** HTTP 429 with Retry-After for the next `count` calls of `method`. */
  rateLimit(fault: RateLimitFault): void;
  /** HTTP `status` (e.g. 503) for the next `count` calls of `method` (or of every method). */
  outage(fault: OutageFault): void;
  /** `{ok:false, error}` for the next `count` calls of `method`. */
  failWith(fault: PlatformErrorFault): void;
  clearFaults(): void;

  close(): Promise<void>;
}

type Fault =
  | ({ kind: "ratelimit"; remaining: number } & RateLimitFault)
  | ({ kind: "outage"; remaining: number } & OutageFault)
  | ({ kind: "error"; remaining: number } & PlatformErrorFault);

const DEFAULT_TOKEN = "xoxb-0000000000-0000000000000-canarybotsandbox";
const DEFAULT_APP_TOKEN = "xapp-1-A0CANARYBOT-0000000000000-canarybotsandbox";

/** apps.connections.open takes only the app-level token; every other method refuses it. */
const APP_TOKEN_METHODS = new Set(["apps.connections.open"]);

function bearerToken(request: IncomingMessage): string | undefined {
  const match = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? "");
  return match?.[1];
}

function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  response.writeHead(status, { "content-type": "application/json; charset=utf-8", ...headers });
  response.end(JSON.stringify(body));
}

function sendText(response: ServerResponse, status: number, body: string): void {
  response.writeHead(status, { "content-type": "text/plain; charset=utf-8" });
  response.end(body);
}

function withoutToken(args: ApiArguments): ApiArguments {
  const copy = { ...args };
  delete copy.token;
  return copy;
}

const MISSING_CHARSET = {
  messages: [
    "[WARN] A Content-Type HTTP header was presented but did not declare a charset, such as a 'utf-8'",
  ],
  warnings: ["missing_charset"],
};

/** Starts a Slack Web API emulator that the real @slack/web-api WebClient can talk to (`slackApiUrl: sandbox.apiUrl`). */
export async function startSlackSandbox(options: SlackSandboxOptions = {}): Promise<SlackSandbox> {
  const botToken = options.botToken ?? DEFAULT_TOKEN;
  const appToken = options.appToken ?? DEFAULT_APP_TOKEN;
  const identity = { ...DEFAULT_IDENTITY, ...options.identity };
  const ws = new SlackWorkspace(identity, options.scopes ?? manifestBotScopes(), options.now ?? Date.now);
  options.users?.forEach((user) => ws.addUser(user));
  options.usergroups?.forEach((group) => ws.addUsergroup(group));
  options.channels?.forEach((channel) => ws.addChannel(channel));

  const socketMode = createSocketModeHub({ appId: identity.appId, now: ws.now });
  const faults: Fault[] = [];
  const calls: SlackCall[] = [];
  let baseUrl = "";

  const log = (call: Omit<SlackCall, "at">): void => {
    calls.push({ ...call, at: ws.now() });
  };

  const takeFault = (method: string): Fault | undefined => {
    const fault = faults.find((f) => f.remaining > 0 && (f.method === undefined || f.method === method));
    if (fault !== undefined) fault.remaining -= 1;
    return fault;
  };

  const handleApi = async (
    request: IncomingMessage,
    response: ServerResponse,
    method: string,
    query: URLSearchParams,
  ) => {
    const raw = await readBody(request);
    const parsed = await parseApiBody(request.headers["content-type"], raw, query);
    const args = parsed.ok ? parsed.args : {};
    const fault = takeFault(method);
    if (fault?.kind === "ratelimit") {
      log({ kind: "api", method, status: 429, ok: false, error: "ratelimited", args: withoutToken(args) });
      sendJson(
        response,
        429,
        { ok: false, error: "ratelimited" },
        { "retry-after": String(fault.retryAfterSeconds) },
      );
      return;
    }
    if (fault?.kind === "outage") {
      log({ kind: "api", method, status: fault.status, ok: false, args: withoutToken(args) });
      sendText(response, fault.status, "Service Unavailable");
      return;
    }
    let result: ApiResult;
    if (!parsed.ok) {
      result = { ok: false, error: parsed.error };
    } else if (fault?.kind === "error") {
      result = { ok: false, error: fault.error };
    } else {
      // Slack reads a token from the body only for form-encoded requests; JSON bodies need the header.
      const token = bearerToken(request) ?? (parsed.isJson ? undefined : stringArgument(args.token));
      const needsAppToken = APP_TOKEN_METHODS.has(method);
      if (token === undefined || token === "") result = { ok: false, error: "not_authed" };
      else if (token !== botToken && token !== appToken) result = { ok: false, error: "invalid_auth" };
      else if (needsAppToken !== (token === appToken))
        result = { ok: false, error: "not_allowed_token_type" };
      else if (needsAppToken) result = socketMode.openConnection(baseUrl);
      else result = callMethod(ws, method, args, baseUrl);
      if (parsed.missingCharset) {
        const metadata = (result.response_metadata ?? {}) as Record<string, string[]>;
        result.response_metadata = {
          messages: [...(metadata.messages ?? []), ...MISSING_CHARSET.messages],
          warnings: [...(metadata.warnings ?? []), ...MISSING_CHARSET.warnings],
        };
      }
    }
    const accepted = METHODS[method]?.scope(ws, args);
    log({
      kind: "api",
      method,
      status: 200,
      ok: result.ok,
      ...(typeof result.error === "string" ? { error: result.error } : {}),
      args: withoutToken(args),
    });
    sendJson(response, 200, result, {
      "x-oauth-scopes": [...ws.scopes].join(","),
      ...(accepted === undefined ? {} : { "x-accepted-oauth-scopes": accepted }),
    });
  };

  const handleUpload = async (
    request: IncomingMessage,
    response: ServerResponse,
    path: string,
    fileId: string,
  ) => {
    const raw = await readBody(request);
    const file = ws.files.get(fileId);
    if (file === undefined || file.completed) {
      log({
        kind: "upload",
        method: path,
        status: 404,
        ok: false,
        error: "file_not_found",
        args: { fileId },
      });
      sendText(response, 404, "file_not_found");
      return;
    }
    file.bytes = await uploadedBytes(request.headers["content-type"], raw);
    log({ kind: "upload", method: path, status: 200, ok: true, args: { fileId, bytes: file.bytes.length } });
    // What files.slack.com answers an external upload.
    sendText(response, 200, `OK - ${file.bytes.length}`);
  };

  const handleResponseUrl = async (request: IncomingMessage, response: ServerResponse, path: string) => {
    const raw = await readBody(request);
    const answer = postToResponseUrl(ws, `${baseUrl}${path}`, raw);
    log({
      kind: "response_url",
      method: path,
      status: answer.status,
      ok: answer.status === 200,
      ...(answer.status === 200 ? {} : { error: answer.body }),
      args: ws.responsePosts.at(-1)?.body ?? {},
    });
    sendText(response, answer.status, answer.body);
  };

  const route = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const url = new URL(request.url ?? "/", "http://sandbox.invalid");
    const api = /^\/api\/([\w.]+)$/.exec(url.pathname);
    const upload = /^\/upload\/v1\/(\w+)$/.exec(url.pathname);
    if (api !== null) await handleApi(request, response, api[1]!, url.searchParams);
    else if (upload !== null && request.method === "POST")
      await handleUpload(request, response, url.pathname, upload[1]!);
    else if (/^\/(commands|actions)\//.test(url.pathname) && request.method === "POST") {
      await handleResponseUrl(request, response, url.pathname);
    } else sendText(response, 404, "not_found");
  };

  const server = createServer((request, response) => {
    route(request, response).catch((error: unknown) => {
      sendText(response, 500, errorText(error));
    });
  });
  socketMode.attach(server);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const topLevel = (message: SlackMessage): boolean =>
    message.threadTs === undefined || message.threadTs === message.ts;

  return {
    url: baseUrl,
    apiUrl: `${baseUrl}/api/`,
    botToken,
    appToken,
    identity,
    socketMode,
    messages: (channel) => ws.messages.filter((m) => m.channel === channel && !m.deleted && topLevel(m)),
    message: (channel, ts) => ws.findMessage(channel, ts),
    replies: (channel, threadTs) =>
      ws.messages.filter(
        (m) => m.channel === channel && !m.deleted && m.threadTs === threadTs && m.ts !== threadTs,
      ),
    user: (id) => ws.users.get(id),
    channel: (id) => ws.channels.get(id),
    ephemerals: (filter = {}) =>
      ws.ephemerals.filter(
        (e) =>
          (filter.channel === undefined || e.channel === filter.channel) &&
          (filter.user === undefined || e.user === filter.user),
      ),
    files: () => [...ws.files.values()],
    views: () => ws.views,
    responses: () => ws.responsePosts,
    calls: (method) => (method === undefined ? calls : calls.filter((call) => call.method === method)),
    addUser: (user) => ws.addUser(user),
    addChannel: (channel) => ws.addChannel(channel),
    addUsergroup: (group) => ws.addUsergroup(group),
    postAsUser: (channel, user, text) => ws.postMessage({ channel, user, text }),
    createResponseUrl: (target) => ws.createResponseUrl(baseUrl, target),
    createTriggerId: (user) => ws.createTriggerId(user),
    rateLimit: (fault) => faults.push({ kind: "ratelimit", remaining: fault.count, ...fault }),
    outage: (fault) =>
      faults.push({ kind: "outage", remaining: fault.count ?? Number.POSITIVE_INFINITY, ...fault }),
    failWith: (fault) =>
      faults.push({ kind: "error", remaining: fault.count ?? Number.POSITIVE_INFINITY, ...fault }),
    clearFaults: () => {
      faults.length = 0;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        socketMode.close();
        server.close((error) => (error === undefined ? resolve() : reject(error)));
        server.closeAllConnections();
      }),
  };
}
