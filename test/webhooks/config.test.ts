import { describe, expect, it } from "vitest";
import { BUILTIN_DEFAULTS, buildStartSpec } from "../../src/rollout/start-request.ts";
import { parseConfigFile } from "../../src/config/file.ts";
import { startDefaultsFor } from "../../src/config/services.ts";

const CONFIG = `
services:
  reviews:
    webhooks:
      - name: smoke
        type: pre-rollout
        url: http://flagger-loadtester.test/
        timeout: 3m
        metadata: { type: bash, cmd: "curl -s http://reviews-canary:9080/", port: 9080 }
      - name: events
        type: event
        url: https://events.example/hook
        retries: 2
`;

describe("webhooks in the config file", () => {
  it("given a service's webhooks, when a start is built, then the plan carries them with Flagger's defaults, a start's own after them", () => {
    const config = parseConfigFile(CONFIG);
    const defaults = startDefaultsFor(BUILTIN_DEFAULTS, config.services.reviews);
    const own = {
      name: "gate",
      type: "confirm-promotion" as const,
      url: "http://gate/",
      timeoutMs: 5_000,
      retries: 0,
    };

    const spec = buildStartSpec({ service: "reviews", canary: "v2" }, defaults, { webhooks: [own] });

    expect(spec.ok && spec.value.plan.webhooks).toEqual([
      {
        name: "smoke",
        type: "pre-rollout",
        url: "http://flagger-loadtester.test/",
        timeoutMs: 180_000,
        retries: 0,
        metadata: { type: "bash", cmd: "curl -s http://reviews-canary:9080/", port: "9080" },
      },
      { name: "events", type: "event", url: "https://events.example/hook", timeoutMs: 10_000, retries: 2 },
      own,
    ]);
  });

  it.each([
    [
      "type: pre-rolout",
      'services.reviews.webhooks[0].type: Invalid option: expected one of "confirm-rollout"',
    ],
    ["url: ftp://x/", "services.reviews.webhooks[0].url: must be an http:// or https:// URL"],
    ["timeout: 10m", "services.reviews.webhooks[0].timeout: must be more than 0 and at most 5m"],
    ["retries: -1", "services.reviews.webhooks[0].retries:"],
  ])("given %s, then the config is refused naming the field", (line, message) => {
    const [key] = line.split(":");
    const hook: Record<string, string> = {
      name: "name: smoke",
      type: "type: pre-rollout",
      url: "url: http://hook/",
      [key ?? ""]: line,
    };
    const text = `services:\n  reviews:\n    webhooks:\n      - ${Object.values(hook).join("\n        ")}\n`;

    expect(() => parseConfigFile(text)).toThrow(message);
  });

  it("given two hooks of one name, then the config is refused: names tell hooks apart in the audit", () => {
    const text = `services:\n  reviews:\n    webhooks:\n      - { name: a, type: event, url: "http://x/" }\n      - { name: a, type: rollout, url: "http://y/" }\n`;

    expect(() => parseConfigFile(text)).toThrow('services.reviews.webhooks[1].name: "a" is used twice');
  });

  it("given a start's webhook with a bad url, then the plan is refused", () => {
    const bad = { name: "x", type: "event" as const, url: "hook.local", timeoutMs: 1_000, retries: 0 };

    const spec = buildStartSpec({ service: "reviews", canary: "v2" }, BUILTIN_DEFAULTS, { webhooks: [bad] });

    expect(spec).toEqual({
      ok: false,
      error: 'webhooks: "x": the url must be http:// or https://',
      problems: [{ field: "webhooks", message: '"x": the url must be http:// or https://' }],
    });
  });
});
