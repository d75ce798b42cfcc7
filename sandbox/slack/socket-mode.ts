import { randomBytes, randomUUID } from "node:crypto";
import type { IncomingMessage, Server } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer } from "ws";
import type { RawData, WebSocket } from "ws";

/** The envelope types Slack sends over a Socket Mode connection. */
export const EnvelopeType = {
  SlashCommands: "slash_commands",
  Interactive: "interactive",
  EventsApi: "events_api",
} as const;
export type EnvelopeType = (typeof EnvelopeType)[keyof typeof EnvelopeType];

/** What Slack writes to the socket for a command, an interaction or an event. */
export interface SocketEnvelope {
  envelope_id: string;
  type: EnvelopeType;
  payload: Record<string, unknown>;
  accepts_response_payload: boolean;
  /** events_api envelopes carry both on every delivery (0 and "" the first time); others only when redelivered. */
  retry_attempt?: number;
  retry_reason?: string;
}

/** An envelope to deliver; `envelope_id` is minted when absent, `accepts_response_payload` follows the type. */
export type EnvelopeInput = Pick<SocketEnvelope, "type" | "payload"> &
  Partial<Pick<SocketEnvelope, "envelope_id" | "accepts_response_payload">>;

export interface DeliverOptions {
  /** How long to wait for the ack, ms: Slack's 3 s unless told. */
  timeoutMs?: number;
  /** Redeliveries after a missed ack, each with `retry_attempt` + 1 and `retry_reason: "timeout"`. Default 0. */
  retries?: number;
}

/** An ack the app wrote back: `{envelope_id, payload?}`. */
export interface SocketAck {
  envelopeId: string;
  connectionId: string;
  /** The ack's payload: `{}` for a bare `ack()`, a view or errors for a `view_submission` answered in the ack. */
  payload: Record<string, unknown> | undefined;
  /** Real time from the (last) delivery of the envelope to its ack, ms. */
  afterMs: number;
  /** The delivery it answers: 0 for the first. */
  retryAttempt: number;
}

export interface SocketConnection {
  id: string;
  /** Sandbox clock, ms. */
  openedAt: number;
  open: boolean;
}

export type DisconnectReason = "warning" | "refresh_requested" | "link_disabled";

/** The Socket Mode side of the Slack sandbox, as tests see it. */
export interface SocketModeEndpoint {
  connections(): readonly SocketConnection[];
  /** Sends an envelope on an open connection (round robin) and resolves with the ack; rejects without one. */
  deliver(envelope: EnvelopeInput, options?: DeliverOptions): Promise<SocketAck>;
  acks(): readonly SocketAck[];
  /** Slack's `disconnect` message: the app is expected to reconnect through apps.connections.open. */
  disconnect(reason?: DisconnectReason): void;
}

export interface SocketModeHub extends SocketModeEndpoint {
  /** apps.connections.open: a single-use websocket URL on `baseUrl`'s host. */
  openConnection(baseUrl: string): { ok: true; url: string };
  /** Takes the websocket upgrades of the sandbox's HTTP server. */
  attach(server: Server): void;
  close(): void;
}

/** Slack's ack deadline. */
export const ACK_TIMEOUT_MS = 3_000;

const LINK_PATH = "/link/";

interface Pending {
  envelope: SocketEnvelope;
  sentAt: number;
  resolve: (ack: SocketAck) => void;
}

function parseAck(
  data: RawData,
): { envelopeId: string; payload: Record<string, unknown> | undefined } | undefined {
  try {
    const bytes = Array.isArray(data)
      ? Buffer.concat(data)
      : Buffer.isBuffer(data)
        ? data
        : Buffer.from(new Uint8Array(data));
    const text = bytes.toString("utf8");
    const message = JSON.parse(text) as { envelope_id?: unknown; payload?: unknown };
    if (typeof message.envelope_id !== "string") return undefined;
    const payload =
      typeof message.payload === "object" && message.payload !== null
        ? (message.payload as Record<string, unknown>)
        : undefined;
    return { envelopeId: message.envelope_id, payload };
  } catch {
    return undefined;
  }
}

/** Socket Mode as Slack speaks it: tickets from apps.connections.open, `hello` on connect, envelopes and acks. */
export function createSocketModeHub(options: { appId: string; now: () => number }): SocketModeHub {
  const server = new WebSocketServer({ noServer: true });
  const tickets = new Set<string>();
  const sockets = new Map<string, WebSocket>();
  const connections: SocketConnection[] = [];
  const acks: SocketAck[] = [];
  const pending = new Map<string, Pending>();
  let turn = 0;

  const send = (socket: WebSocket, message: unknown): void => socket.send(JSON.stringify(message));

  const onAck = (connectionId: string, data: RawData): void => {
    const ack = parseAck(data);
    if (ack === undefined) return;
    const waiting = pending.get(ack.envelopeId);
    const recorded: SocketAck = {
      envelopeId: ack.envelopeId,
      connectionId,
      payload: ack.payload,
      afterMs: waiting === undefined ? Number.NaN : performance.now() - waiting.sentAt,
      retryAttempt: waiting?.envelope.retry_attempt ?? 0,
    };
    acks.push(recorded);
    if (waiting === undefined) return;
    pending.delete(ack.envelopeId);
    waiting.resolve(recorded);
  };

  const accept = (socket: WebSocket): void => {
    const connection: SocketConnection = { id: randomUUID(), openedAt: options.now(), open: true };
    connections.push(connection);
    sockets.set(connection.id, socket);
    socket.on("message", (data) => onAck(connection.id, data));
    socket.on("close", () => {
      connection.open = false;
      sockets.delete(connection.id);
    });
    socket.on("error", () => socket.terminate());
    send(socket, {
      type: "hello",
      num_connections: sockets.size,
      debug_info: { host: "applink-sandbox", build_number: 1, approximate_connection_time: 18_060 },
      connection_info: { app_id: options.appId },
    });
  };

  const refuse = (socket: Duplex, status: string): void => {
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  };

  const nextSocket = (): WebSocket | undefined => {
    const open = [...sockets.values()];
    if (open.length === 0) return undefined;
    turn = (turn + 1) % open.length;
    return open[turn];
  };

  const deliver = (input: EnvelopeInput, deliverOptions: DeliverOptions = {}): Promise<SocketAck> => {
    const timeoutMs = deliverOptions.timeoutMs ?? ACK_TIMEOUT_MS;
    const retries = deliverOptions.retries ?? 0;
    const isEvent = input.type === EnvelopeType.EventsApi;
    const envelopeId = input.envelope_id ?? randomUUID();
    return new Promise<SocketAck>((resolve, reject) => {
      const attempt = (retryAttempt: number): void => {
        const socket = nextSocket();
        if (socket === undefined) {
          pending.delete(envelopeId);
          reject(new Error(`socket mode: no open connection for ${input.type} envelope ${envelopeId}`));
          return;
        }
        const envelope: SocketEnvelope = {
          envelope_id: envelopeId,
          payload: input.payload,
          type: input.type,
          accepts_response_payload: input.accepts_response_payload ?? !isEvent,
          ...(isEvent || retryAttempt > 0
            ? { retry_attempt: retryAttempt, retry_reason: retryAttempt > 0 ? "timeout" : "" }
            : {}),
        };
        const timer = setTimeout(() => {
          if (!pending.has(envelopeId)) return;
          if (retryAttempt < retries) {
            attempt(retryAttempt + 1);
            return;
          }
          pending.delete(envelopeId);
          reject(
            new Error(`socket mode: no ack for ${input.type} envelope ${envelopeId} within ${timeoutMs} ms`),
          );
        }, timeoutMs);
        pending.set(envelopeId, {
          envelope,
          sentAt: performance.now(),
          resolve: (ack) => {
            clearTimeout(timer);
            resolve(ack);
          },
        });
        send(socket, envelope);
      };
      attempt(0);
    });
  };

  return {
    connections: () => connections,
    deliver,
    acks: () => acks,
    disconnect(reason = "refresh_requested") {
      for (const socket of sockets.values()) {
        send(socket, { type: "disconnect", reason, debug_info: { host: "applink-sandbox" } });
      }
    },
    openConnection(baseUrl) {
      const ticket = randomBytes(16).toString("hex");
      tickets.add(ticket);
      const url = new URL(LINK_PATH, baseUrl.replace(/^http/, "ws"));
      url.searchParams.set("ticket", ticket);
      url.searchParams.set("app_id", options.appId);
      return { ok: true, url: url.toString() };
    },
    attach(http) {
      http.on("upgrade", (request: IncomingMessage, socket: Duplex, head: Buffer) => {
        const url = new URL(request.url ?? "/", "http://sandbox.invalid");
        const ticket = url.searchParams.get("ticket") ?? "";
        if (url.pathname !== LINK_PATH) return refuse(socket, "404 Not Found");
        // A ticket is good for one connection: a reconnect asks apps.connections.open again.
        if (!tickets.delete(ticket)) return refuse(socket, "401 Unauthorized");
        server.handleUpgrade(request, socket, head, accept);
      });
    },
    close() {
      for (const socket of sockets.values()) socket.terminate();
      server.close();
    },
  };
}
