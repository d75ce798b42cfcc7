import { afterEach, describe, expect, it } from "vitest";
import { runCanarybot } from "../../support/cli-process.ts";
import { SANDBOX_BIN, startCanarybot } from "../../support/processes.ts";
import type { StartedProcess } from "../../support/processes.ts";

const post = async (url: string, body: unknown): Promise<[number, string]> => {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return [response.status, await response.text()];
};

describe("canarybot-sandbox webhooks", () => {
  const started: StartedProcess[] = [];
  afterEach(async () => {
    for (const process of started.splice(0)) await process.stop("SIGKILL");
  });

  it("serves scripted answers in order, the loadtester's endpoint and gates, and stops on SIGTERM", async () => {
    const sandbox = await startCanarybot(
      [
        "webhooks",
        "--port",
        "0",
        "--answer",
        "/hooks/load=500:load test failed",
        "--answer",
        "/hooks/load=202",
      ],
      /webhook sandbox listening on (http:\/\/127\.0\.0\.1:\d+)\n/,
      { bin: SANDBOX_BIN },
    );
    started.push(sandbox);
    const url = sandbox.match[1] ?? "";
    const canary = { name: "reviews", namespace: "default", phase: "Progressing", checksum: "1" };
    expect(await post(`${url}/hooks/load`, canary)).toEqual([500, "load test failed"]);
    expect(await post(`${url}/hooks/load`, canary)).toEqual([202, ""]);
    expect(await post(`${url}/hooks/load`, canary)).toEqual([202, ""]); // the last answer repeats
    expect(await post(`${url}/hooks/other`, canary)).toEqual([200, "ok"]);
    expect(await post(`${url}/`, { ...canary, metadata: { cmd: "hey -z 1m -q 10 -c 2 http://r/" } })).toEqual(
      [202, ""],
    );
    expect(await post(`${url}/gate/check`, canary)).toEqual([403, "Forbidden"]);
    expect(await post(`${url}/gate/open`, canary)).toEqual([202, ""]);
    expect(await post(`${url}/gate/check`, canary)).toEqual([200, "Approved"]);
    const requests = (await (await fetch(`${url}/requests`)).json()) as { path: string }[];
    expect(requests.map((request) => request.path)).toEqual([
      ...["/hooks/load", "/hooks/load", "/hooks/load", "/hooks/other", "/"],
      ...["/gate/check", "/gate/open", "/gate/check"],
    ]);
    expect(await sandbox.stop("SIGTERM")).toBe(0);
  });

  it.each([
    [
      ["--answer", "hooks/load=500"],
      "--answer hooks/load=500: expected /path=status[:body], e.g. /hooks/load=500:load test failed\n",
    ],
    [["--port", "http"], "--port http: expected a port from 0 to 65535\n"],
    [
      ["--mesh-control", "localhost:15090"],
      "--mesh-control localhost:15090: expected the mesh sandbox's http://…/control URL\n",
    ],
  ])("%j is refused in one line, exit 1", async (args, said) => {
    const result = await runCanarybot(["webhooks", ...args], { HOME: "/tmp" }, { bin: SANDBOX_BIN });
    expect([result.code, result.stderr, result.stdout]).toEqual([1, said, ""]);
  });
});
