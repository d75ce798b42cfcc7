import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { blockActionsPayload, slashCommandPayload } from "./interaction-payloads.ts";
import type { ButtonClickInput, InteractionEndpoints, SlashCommandInput } from "./interaction-payloads.ts";
import { EnvelopeType } from "./socket-mode.ts";
import type { DeliverOptions, SocketAck, SocketEnvelope, SocketModeEndpoint } from "./socket-mode.ts";
import { errorText } from "../errors.ts";

export interface EnvelopeSent {
  ack: SocketAck;
  responseUrl: string;
  triggerId: string;
}

export interface EnvelopeClientOptions {
  slack: InteractionEndpoints & { socketMode: SocketModeEndpoint };
  /** Milliseconds since the epoch; a click's action_ts comes from it. */
  now?: () => number;
}

/** The Socket Mode twin of the signed request client: the same payloads, delivered as envelopes, resolved by acks. */
export interface EnvelopeClient {
  slashCommand(input: SlashCommandInput, options?: DeliverOptions): Promise<EnvelopeSent>;
  /** Clicks a button that exists on a message in the sandbox, delivering the block_actions payload Slack would. */
  clickButton(input: ButtonClickInput, options?: DeliverOptions): Promise<EnvelopeSent>;
  /** Any interaction payload (view_submission, shortcut, ...) as an `interactive` envelope. */
  interaction(payload: Record<string, unknown>, options?: DeliverOptions): Promise<SocketAck>;
}

export function createEnvelopeClient(options: EnvelopeClientOptions): EnvelopeClient {
  const { slack } = options;
  const now = options.now ?? Date.now;
  const interaction = (payload: Record<string, unknown>, deliverOptions?: DeliverOptions) =>
    slack.socketMode.deliver({ type: EnvelopeType.Interactive, payload }, deliverOptions);
  return {
    async slashCommand(input, deliverOptions) {
      const { payload, responseUrl, triggerId } = slashCommandPayload(slack, input);
      const ack = await slack.socketMode.deliver(
        { type: EnvelopeType.SlashCommands, payload },
        deliverOptions,
      );
      return { ack, responseUrl, triggerId };
    },
    async clickButton(input, deliverOptions) {
      const { payload, responseUrl, triggerId } = blockActionsPayload(slack, input, now());
      return { ack: await interaction(payload, deliverOptions), responseUrl, triggerId };
    },
    interaction,
  };
}

export interface EnvelopeReplay {
  /** Relative to the fixtures directory, e.g. "socket-mode/slash-commands.envelope.json". */
  file: string;
  type: SocketEnvelope["type"];
  /** Undefined when the app did not ack in time. */
  ack?: SocketAck;
  error?: string;
}

/** Delivers every envelope of `socket-mode/*.envelope.json` under `requestsDirectory`, as recorded, one by one. */
export async function replaySocketModeFixtures(options: {
  socketMode: SocketModeEndpoint;
  requestsDirectory: string;
  deliverOptions?: DeliverOptions;
}): Promise<EnvelopeReplay[]> {
  const folder = "socket-mode";
  const names = (await readdir(join(options.requestsDirectory, folder))).filter((name) =>
    name.endsWith(".envelope.json"),
  );
  const replays: EnvelopeReplay[] = [];
  for (const name of names.sort()) {
    const file = `${folder}/${name}`;
    const envelope = JSON.parse(
      await readFile(join(options.requestsDirectory, file), "utf8"),
    ) as SocketEnvelope;
    try {
      const ack = await options.socketMode.deliver(envelope, options.deliverOptions);
      replays.push({ file, type: envelope.type, ack });
    } catch (error) {
      replays.push({
        file,
        type: envelope.type,
        error: errorText(error),
      });
    }
  }
  return replays;
}
