import { randomBytes } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startSlackSandbox } from "../../../sandbox/slack/web-api-sandbox.ts";
import type { SlackSandbox } from "../../../sandbox/slack/web-api-sandbox.ts";
import { sandboxClient } from "./support.ts";

const CHANNEL = "C0DEPLOYS";

let sandbox: SlackSandbox;

beforeEach(async () => {
  sandbox = await startSlackSandbox({ channels: [{ id: CHANNEL, name: "deploys" }] });
});

afterEach(async () => {
  await sandbox.close();
});

describe("external file uploads through WebClient.filesUploadV2", () => {
  it("takes the three steps and keeps the bytes, shared in the rollout's thread", async () => {
    const client = sandboxClient(sandbox, sandbox.botToken);
    const { ts: threadTs } = await client.chat.postMessage({ channel: CHANNEL, text: "reviews-12 started" });
    const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47]), randomBytes(4096)]);

    const result = await client.filesUploadV2({
      channel_id: CHANNEL,
      thread_ts: threadTs!,
      initial_comment: "p99 over the last 10 minutes",
      file: png,
      filename: "reviews-12-step-3.png",
      title: "reviews-12 step 3",
    });

    expect(result.ok).toBe(true);
    expect(sandbox.calls().map(({ kind, method }) => (kind === "upload" ? "upload" : method))).toEqual([
      "chat.postMessage",
      "files.getUploadURLExternal",
      "upload",
      "files.completeUploadExternal",
    ]);
    expect(sandbox.calls("files.getUploadURLExternal")[0]!.args).toMatchObject({
      filename: "reviews-12-step-3.png",
      length: String(png.length),
    });
    const [file] = sandbox.files();
    expect(file).toMatchObject({
      filename: "reviews-12-step-3.png",
      title: "reviews-12 step 3",
      completed: true,
      channel: CHANNEL,
      threadTs,
      initialComment: "p99 over the last 10 minutes",
    });
    expect(file!.bytes!.equals(png)).toBe(true);
    expect(sandbox.replies(CHANNEL, threadTs!)).toMatchObject([
      { text: "p99 over the last 10 minutes", fileIds: [file!.id] },
    ]);
  });

  it("refuses to complete a file whose bytes never arrived", async () => {
    const client = sandboxClient(sandbox, sandbox.botToken);
    const { file_id: fileId } = await client.files.getUploadURLExternal({ filename: "a.png", length: 3 });
    await expect(
      client.files.completeUploadExternal({ files: [{ id: fileId! }], channel_id: CHANNEL }),
    ).rejects.toMatchObject({ data: { error: "file_not_found" } });
  });

  it("accepts raw bytes posted to the upload URL as well as multipart", async () => {
    const client = sandboxClient(sandbox, sandbox.botToken);
    const { upload_url: uploadUrl, file_id: fileId } = await client.files.getUploadURLExternal({
      filename: "raw.txt",
      length: 5,
    });
    const response = await fetch(uploadUrl!, { method: "POST", body: "hello" });
    expect(await response.text()).toBe("OK - 5");
    await client.files.completeUploadExternal({ files: [{ id: fileId!, title: "raw" }] });
    expect(sandbox.files()[0]!.bytes!.toString()).toBe("hello");
  });
});
