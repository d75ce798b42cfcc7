import { mkdtemp, rm } from "node:fs/promises";
import { Agent, request } from "node:https";
import { connect } from "node:net";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { SANDBOX_BIN, spawnCanarybot } from "./processes.ts";
import type { CanarybotProcess } from "./processes.ts";

describe("SIGTERM to the sandboxes", () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it("`canarybot-sandbox kube --mesh` exits 0 at once with clients still connected (idle keep-alive, a half-open socket)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "canarybot-sandbox-stop-"));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const sandbox: CanarybotProcess = await spawnCanarybot(
      ["kube", "--port", "0", "--kubeconfig-out", join(dir, "kubeconfig"), "--mesh", "--mesh-port", "0"],
      { PATH: process.env.PATH ?? "", HOME: dir },
      "mesh sandbox:",
      SANDBOX_BIN,
    );
    cleanups.push(() => sandbox.kill());
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

    sandbox.terminate();
    const { code, afterMs } = await sandbox.exited;
    expect(code, sandbox.output()).toBe(0);
    expect(afterMs).toBeLessThan(3_000);
  });
});
