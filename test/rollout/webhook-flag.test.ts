import { describe, expect, it } from "vitest";
import { parseCommand } from "../../src/commands/parse-command.ts";
import { BUILTIN_DEFAULTS, buildStartSpec } from "../../src/rollout/start-request.ts";
import { parseWebhookFlag } from "../../src/rollout/webhook-flag.ts";

describe("parseWebhookFlag", () => {
  it("reads every field, and a metadata value holding commas and spaces", () => {
    expect(
      parseWebhookFlag(
        "type=rollout,url=http://loadtester.test/,name=load,timeout=15s,retries=2," +
          "metadata.cmd=hey -z 1m -q 10 -c 2 -H x:1,2 http://reviews-canary/,metadata.type=cmd",
      ),
    ).toEqual({
      ok: true,
      value: {
        name: "load",
        type: "rollout",
        url: "http://loadtester.test/",
        timeoutMs: 15_000,
        retries: 2,
        metadata: { cmd: "hey -z 1m -q 10 -c 2 -H x:1,2 http://reviews-canary/", type: "cmd" },
      },
    });
  });

  it("names the hook after its type, with Flagger's 10 s timeout and no retries, when not told", () => {
    expect(parseWebhookFlag("type=confirm-promotion,url=https://gate.test/gate/check")).toEqual({
      ok: true,
      value: {
        name: "confirm-promotion",
        type: "confirm-promotion",
        url: "https://gate.test/gate/check",
        timeoutMs: 10_000,
        retries: 0,
      },
    });
  });

  it.each([
    [
      "url=http://x/",
      "--webhook url=http://x/: type is missing: one of confirm-rollout, pre-rollout, rollout,",
    ],
    ["type=rolout,url=http://x/", 'type "rolout" is not a webhook type; did you mean rollout?'],
    ["type=rollout", "url is missing (url=http://…)"],
    ["type=rollout,url=ftp://x/", 'url "ftp://x/" is not an http:// or https:// URL'],
    ["type=rollout,url=http://x/,timout=3s", 'unknown field "timout" (did you mean timeout?)'],
    ["type=rollout,url=http://x/,timeout=10m", "timeout 10m must be more than 0 and at most 5m"],
    ["type=rollout,url=http://x/,timeout=soon", 'timeout "soon" is not a duration'],
    ["type=rollout,url=http://x/,retries=9", "retries 9 must be a whole number from 0 to 5"],
    ["type=rollout,url=http://x/,name=", "name needs a value (name=…)"],
    ["type=rollout,type=event,url=http://x/", "type is given twice"],
  ])("%s is refused in one line: %s", (text, why) => {
    const parsed = parseWebhookFlag(text);
    expect(parsed.ok).toBe(false);
    const error = parsed.ok ? "" : parsed.error;
    expect(error).toContain(why);
    expect(error.startsWith(`--webhook ${text}: `)).toBe(true);
    expect(error).not.toContain("\n");
  });
});

describe("--webhook in a start", () => {
  it("/canary start takes it repeatedly, quoted, and the plan carries the hooks after the service's own", () => {
    const parsed = parseCommand(
      "start reviews --canary v2 --webhook 'type=rollout,url=http://lt/,name=load,metadata.cmd=hey -z 1m http://r/' " +
        "--webhook=type=event,url=http://events/",
    );
    expect(parsed.ok).toBe(true);
    if (!parsed.ok || parsed.command.name !== "start") throw new Error("not a start");
    expect(parsed.command.options.webhook).toEqual([
      "type=rollout,url=http://lt/,name=load,metadata.cmd=hey -z 1m http://r/",
      "type=event,url=http://events/",
    ]);
    const service = {
      name: "gate",
      type: "confirm-rollout",
      url: "http://gate/",
      timeoutMs: 1_000,
      retries: 0,
    } as const;
    const spec = buildStartSpec(parsed.command.options, { ...BUILTIN_DEFAULTS, webhooks: [service] });
    expect(spec.ok && spec.value.plan.webhooks?.map((hook) => hook.name)).toEqual(["gate", "load", "event"]);
  });

  it("a bad one, or one named like a service's hook, is refused with the others' problems", () => {
    const spec = buildStartSpec(
      {
        service: "reviews",
        canary: "v2",
        webhook: ["type=rollout,url=http://a/,name=gate", "type=nope,url=http://b/"],
      },
      {
        ...BUILTIN_DEFAULTS,
        webhooks: [{ name: "gate", type: "event", url: "http://g/", timeoutMs: 1, retries: 0 }],
      },
    );
    expect(spec).toMatchObject({
      ok: false,
      error:
        '--webhook type=nope,url=http://b/: type "nope" is not one of confirm-rollout, pre-rollout, rollout, confirm-traffic-increase, confirm-promotion, post-rollout, rollback, event',
    });
    const twice = buildStartSpec(
      { service: "reviews", canary: "v2", webhook: ["type=rollout,url=http://a/,name=gate"] },
      {
        ...BUILTIN_DEFAULTS,
        webhooks: [{ name: "gate", type: "event", url: "http://g/", timeoutMs: 1, retries: 0 }],
      },
    );
    expect(twice).toEqual({
      ok: false,
      error: 'webhooks: "gate" is named twice',
      problems: [{ field: "webhooks", message: '"gate" is named twice' }],
    });
  });

  it("/canary start --webhook without a value is refused", () => {
    expect(parseCommand("start reviews --canary v2 --webhook")).toMatchObject({
      ok: false,
      error: "`--webhook` needs a value.",
    });
  });
});
