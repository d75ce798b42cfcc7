import { mkdtemp, rm } from "node:fs/promises";
import { Agent, request } from "node:https";
import { connect } from "node:net";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { SANDBOX_BIN, startCanarybot } from "../support/processes.ts";
import type { StartedProcess } from "../support/processes.ts";

describe("SIGTERM to the sandboxes", () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it("`canarybot-sandbox kube --mesh` exits 0 at once with clients still connected (idle keep-alive, a half-open socket)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "canarybot-sandbox-stop-"));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const sandbox: StartedProcess = await startCanarybot(
      ["kube", "--port", "0", "--kubeconfig-out", join(dir, "kubeconfig"), "--mesh", "--mesh-port", "0"],
      "mesh sandbox:",
      { env: { PATH: process.env.PATH ?? "", HOME: dir }, bin: SANDBOX_BIN },
    );
    cleanups.push(() => sandbox.stop("SIGKILL"));
    const url = new URL(/listening on (https:\/\/\S+)/.exec(sandbox.output())?.[1] ?? "");

    // A client that keeps its connection open after an answer, as client-node's agents do.
    const agent = new Agent({ keepAlive: true, rejectUnauthorized: false });
    cleanups.push(() => Promise.resolve(agent.destroy()));
    const status = await new Promise<number | undefined>((done, fail) => {
      const call = request(new URL("/version", url), { agent }, (response) => {
        response.resume();
        response.once("end", () => done(response.statusCode));
      });
      call.once("error", fail);
      call.end();
    });
    expect(status).toBe(401); // no token: an answer all the same, and the connection stays open
    // And one that connected and never said anything (no TLS handshake yet).
    const silent: Socket = connect(Number(url.port), url.hostname);
    silent.on("error", () => undefined);
    cleanups.push(() => Promise.resolve(silent.destroy()));
    await new Promise<void>((done) => silent.once("connect", () => done()));

    void sandbox.stop();
    const { code, afterMs } = await sandbox.exited;
    expect(code, sandbox.output()).toBe(0);
    expect(afterMs).toBeLessThan(3_000);
  });
});
