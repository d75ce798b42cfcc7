import { afterEach, describe, expect, it } from "vitest";
import { EnvelopeType } from "../../../sandbox/slack/socket-mode.ts";
import { startSlackSandbox } from "../../../sandbox/slack/web-api-sandbox.ts";
import type { SlackSandbox } from "../../../sandbox/slack/web-api-sandbox.ts";
import { sandboxClient } from "./support.ts";
import { waitFor } from "../../support/engine.ts";

let sandbox: SlackSandbox;
const sockets: WebSocket[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.close();
  await sandbox?.close();
});

/** What apps.connections.open answers the app-level token. */
async function openUrl(): Promise<string> {
  const result = await sandboxClient(sandbox, sandbox.appToken).apps.connections.open();
  return result.url!;
}

/** A raw websocket client that keeps every message it receives. */
async function connect(url: string): Promise<{ socket: WebSocket; received: Record<string, unknown>[] }> {
  const socket = new WebSocket(url);
  sockets.push(socket);
  const received: Record<string, unknown>[] = [];
  socket.addEventListener("message", (event) => {
    received.push(JSON.parse(String(event.data)) as Record<string, unknown>);
  });
  await new Promise<void>((resolve, reject) => {
    socket.addEventListener("open", () => resolve());
    socket.addEventListener("error", () => reject(new Error("websocket refused")));
  });
  return { socket, received };
}

const until = <T>(check: () => T | undefined): Promise<T> => waitFor("the socket's message", check);

describe("Slack sandbox: Socket Mode", () => {
  it("apps.connections.open takes only the app-level token", async () => {
    sandbox = await startSlackSandbox();
    expect(await openUrl()).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/link\/\?ticket=\w+&app_id=A0CANARYBOT$/);
    const failure = (token: string) =>
      sandboxClient(sandbox, token)
        .apps.connections.open()
        .catch((error: { data?: { error?: string } }) => error.data?.error);
    expect(await failure(sandbox.botToken)).toBe("not_allowed_token_type");
    expect(await failure("xapp-1-A0OTHER-1-notthetoken")).toBe("invalid_auth");
    const postWithAppToken = await sandboxClient(sandbox, sandbox.appToken)
      .chat.postMessage({ channel: "C0DEPLOYS", text: "hi" })
      .catch((error: { data?: { error?: string } }) => error.data?.error);
    expect(postWithAppToken).toBe("not_allowed_token_type");
  });

  it("says hello on connect, and a ticket opens one connection only", async () => {
    sandbox = await startSlackSandbox();
    const url = await openUrl();
    const { received } = await connect(url);
    expect(await until(() => received[0])).toEqual({
      type: "hello",
      num_connections: 1,
      debug_info: expect.objectContaining({ host: expect.any(String) as string }) as object,
      connection_info: { app_id: sandbox.identity.appId },
    });
    await expect(connect(url)).rejects.toThrow("websocket refused");
    expect(sandbox.socketMode.connections()).toMatchObject([{ open: true }]);
  });

  it("delivers an envelope and resolves with the ack's payload", async () => {
    sandbox = await startSlackSandbox();
    const { socket, received } = await connect(await openUrl());
    const delivered = sandbox.socketMode.deliver({
      type: EnvelopeType.SlashCommands,
      payload: { command: "/canary", text: "help" },
    });
    const envelope = await until(() => received.find((message) => message.type === "slash_commands"));
    expect(envelope).toEqual({
      envelope_id: expect.any(String) as string,
      type: "slash_commands",
      payload: { command: "/canary", text: "help" },
      accepts_response_payload: true,
    });
    socket.send(JSON.stringify({ envelope_id: envelope.envelope_id, payload: { text: "ok" } }));
    const ack = await delivered;
    expect(ack).toMatchObject({ envelopeId: envelope.envelope_id, payload: { text: "ok" }, retryAttempt: 0 });
    expect(sandbox.socketMode.acks()).toEqual([ack]);
  });

  it("redelivers an unacked envelope with retry_attempt, then rejects", async () => {
    sandbox = await startSlackSandbox();
    const { received } = await connect(await openUrl());
    const delivered = sandbox.socketMode.deliver(
      { type: EnvelopeType.EventsApi, payload: { event: { type: "app_mention" } } },
      { timeoutMs: 100, retries: 1 },
    );
    await expect(delivered).rejects.toThrow(/no ack for events_api envelope .* within 100 ms/);
    expect(
      received.filter((m) => m.type === "events_api").map((m) => [m.retry_attempt, m.retry_reason]),
    ).toEqual([
      [0, ""],
      [1, "timeout"],
    ]);
  });

  it("sends `disconnect`, and refuses a delivery when no app is connected", async () => {
    sandbox = await startSlackSandbox();
    const { received } = await connect(await openUrl());
    sandbox.socketMode.disconnect("warning");
    expect(await until(() => received.find((m) => m.type === "disconnect"))).toMatchObject({
      reason: "warning",
    });
    sockets.splice(0).forEach((socket) => socket.close());
    await until(() => (sandbox.socketMode.connections()[0]!.open ? undefined : true));
    await expect(sandbox.socketMode.deliver({ type: EnvelopeType.Interactive, payload: {} })).rejects.toThrow(
      /no open connection/,
    );
  });
});
