import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { sendSignedRequest } from "./signed-request-client.ts";
import type { SignedResponse, SignedSendOptions } from "./signed-request-client.ts";

export interface FixtureReplay extends SignedResponse {
  /** Relative to the fixtures directory, e.g. "slash-commands/slash-command.bolt-python.form.txt". */
  file: string;
  kind: "slash_command" | "interaction";
}

const FOLDERS = [
  { folder: "slash-commands", kind: "slash_command" },
  { folder: "interactions", kind: "interaction" },
] as const;

/**
 * Sends every raw request body Slack fixtures hold (`*.form.txt` under `slash-commands/` and `interactions/` of
 * `requestsDirectory`, e.g. fixtures/slack/requests) to a request URL, byte for byte, freshly signed.
 */
export async function replaySlackFixtures(options: {
  endpoint: string;
  signingSecret: string;
  requestsDirectory: string;
  sendOptions?: SignedSendOptions;
}): Promise<FixtureReplay[]> {
  const replays: FixtureReplay[] = [];
  for (const { folder, kind } of FOLDERS) {
    const names = (await readdir(join(options.requestsDirectory, folder))).filter((name) =>
      name.endsWith(".form.txt"),
    );
    for (const name of names.sort()) {
      const body = await readFile(join(options.requestsDirectory, folder, name), "utf8");
      const response = await sendSignedRequest(
        options.endpoint,
        options.signingSecret,
        body,
        options.sendOptions,
      );
      replays.push({ file: `${folder}/${name}`, kind, ...response });
    }
  }
  return replays;
}
