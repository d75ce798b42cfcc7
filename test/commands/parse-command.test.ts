import { describe, expect, it } from "vitest";
import { parseCommand, tokenize, USAGE } from "../../src/commands/parse-command.ts";
import { closestMatch, editDistance } from "../../src/rollout/closest-match.ts";
import { BUILTIN_DEFAULTS, buildStartSpec } from "../../src/rollout/start-request.ts";

describe("parseCommand: start", () => {
  it("reads every flag, in both --flag value and --flag=value forms", () => {
    const parsed = parseCommand(
      "start reviews --canary v2 --stable=v1 --steps 10,50,100 --interval=30s --header qa=canary-test " +
        "--approve-at 50 --min-success 99.5 --max-p99=400ms --max-error-increase 0.5 --max-p99-ratio 1.5 " +
        "--min-requests 50 --failure-limit 3 --progress-deadline 5m --mesh-context=asm",
    );
    expect(parsed).toEqual({
      ok: true,
      command: {
        name: "start",
        dryRun: false,
        options: {
          service: "reviews",
          canary: "v2",
          stable: "v1",
          steps: "10,50,100",
          interval: "30s",
          header: "qa=canary-test",
          approveAt: "50",
          minSuccess: "99.5",
          maxP99: "400ms",
          maxErrorIncrease: "0.5",
          maxP99Ratio: "1.5",
          minRequests: "50",
          failureLimit: "3",
          progressDeadline: "5m",
          meshContext: "asm",
        },
      },
    });
  });

  it("takes the switches --dry-run and --no-analysis, and -n for the namespace", () => {
    expect(parseCommand("start ratings --canary v2 --dry-run --no-analysis -n shop")).toEqual({
      ok: true,
      command: {
        name: "start",
        dryRun: true,
        options: { service: "ratings", canary: "v2", analysis: false, namespace: "shop" },
      },
    });
  });

  it("feeds buildStartSpec: the same grammar as the CLI makes the same plan", () => {
    const parsed = parseCommand("start reviews --canary v2 --steps 25,50,100 --interval 2m --approve-at 50");
    if (!parsed.ok || parsed.command.name !== "start") throw new Error("expected a start");
    const spec = buildStartSpec(parsed.command.options, BUILTIN_DEFAULTS);
    expect(spec).toMatchObject({
      ok: true,
      value: {
        target: { service: "reviews", virtualService: "reviews", canarySubset: "v2", namespace: "default" },
        plan: { steps: [25, 50, 100], intervalMs: 120_000, approvalGates: [50], twoPersonRule: true },
      },
    });
  });

  it("takes --http-route for a Gateway API target, and refuses it beside --virtual-service", () => {
    const parsed = parseCommand("start reviews --http-route reviews-route --canary reviews-v2");
    if (!parsed.ok || parsed.command.name !== "start") throw new Error("expected a start");
    expect(buildStartSpec(parsed.command.options, BUILTIN_DEFAULTS)).toMatchObject({
      ok: true,
      value: { target: { router: "httproute", virtualService: "reviews-route", canarySubset: "reviews-v2" } },
    });
    const both = parseCommand("start reviews --http-route r --virtual-service v --canary v2");
    if (!both.ok || both.command.name !== "start") throw new Error("expected a start");
    expect(buildStartSpec(both.command.options, BUILTIN_DEFAULTS)).toMatchObject({
      ok: false,
      error: "virtual-service, http-route: name one route object, not both",
      problems: [{ field: "virtual-service, http-route", message: "name one route object, not both" }],
    });
  });

  it("opens the form when start has no arguments at all", () => {
    expect(parseCommand("start")).toEqual({ ok: true, command: { name: "start-dialog" } });
    expect(parseCommand("  START  ")).toEqual({ ok: true, command: { name: "start-dialog" } });
  });

  it.each([
    ["start --canary v2", /Which service/],
    ["start reviews --canary", /`--canary` needs a value/],
    ["start reviews --canary --steps 5,100", /`--canary` needs a value/],
    ["start reviews ratings --canary v2", /One service at a time/],
    ["start reviews --canary v2 --canary v3", /given twice/],
    ["start reviews --dry-run=yes", /takes no value/],
    ["start Reviews_1 --canary v2", /not a service name/],
  ])("refuses %j with a reason and the start usage", (text, reason) => {
    const parsed = parseCommand(text);
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.error).toMatch(reason);
    expect(parsed.usage).toBe(USAGE.start);
  });

  it("refuses an unknown flag with usage, suggesting the one meant", () => {
    expect(parseCommand("start reviews --canry v2")).toEqual({
      ok: false,
      error: "Unknown option `--canry`. Did you mean `--canary`?",
      usage: USAGE.start,
    });
    expect(parseCommand("start reviews --canary v2 --turbo")).toMatchObject({
      ok: false,
      error: "Unknown option `--turbo`.",
    });
    // Slack keeps the two-person rule: the CLI's break-glass switch is not part of the chat grammar.
    expect(parseCommand("start reviews --canary v2 --no-two-person")).toMatchObject({ ok: false });
  });
});

describe("parseCommand: the other subcommands", () => {
  it.each([
    ["status", { name: "status" }],
    ["status reviews-3", { name: "status", ref: "reviews-3" }],
    ["status reviews", { name: "status", ref: "reviews" }],
    ["list", { name: "list" }],
    ["history reviews", { name: "history", ref: "reviews" }],
    ["history reviews-3", { name: "history", ref: "reviews-3" }],
    ["help", { name: "help" }],
    ["", { name: "help" }],
    ["help rollback", { name: "help", topic: "rollback" }],
    ["approve reviews-3", { name: "act", action: "approve", id: "reviews-3" }],
    ["promote reviews-3", { name: "act", action: "promote", id: "reviews-3" }],
    ["resume reviews-3", { name: "act", action: "resume", id: "reviews-3" }],
    [
      "pause reviews-3 waiting for the db migration",
      { name: "act", action: "pause", id: "reviews-3", reason: "waiting for the db migration" },
    ],
    [
      'rollback reviews-3 "p99 doubled" in eu',
      { name: "act", action: "rollback", id: "reviews-3", reason: "p99 doubled in eu" },
    ],
    [
      "rollback reviews-3 --reason=“errors --up”",
      { name: "act", action: "rollback", id: "reviews-3", reason: "errors --up" },
    ],
    [
      "rollback reviews-3 --reason 'oops'",
      { name: "act", action: "rollback", id: "reviews-3", reason: "oops" },
    ],
    ["ROLLBACK Reviews-3", { name: "act", action: "rollback", id: "reviews-3" }],
  ])("%j", (text, command) => {
    expect(parseCommand(text)).toEqual({ ok: true, command });
  });

  it.each([
    ["stat", "status"],
    ["strat", "start"],
    ["statsu reviews", "status"],
    ["rollbak reviews-3", "rollback"],
    ["aprove reviews-3", "approve"],
    ["promte reviews-3", "promote"],
    ["hist reviews", "history"],
    ["lsit", "list"],
  ])("answers the unknown subcommand %j with a did-you-mean %j", (text, meant) => {
    const parsed = parseCommand(text);
    expect(parsed).toMatchObject({ ok: false, usage: USAGE[meant as keyof typeof USAGE] });
    if (!parsed.ok) expect(parsed.error).toContain(`Did you mean \`${meant}\`?`);
  });

  it("gives no guess for a word nothing resembles, and the general usage", () => {
    const parsed = parseCommand("deploy reviews");
    expect(parsed).toMatchObject({ ok: false, error: "Unknown subcommand `deploy`." });
    if (!parsed.ok) expect(parsed.usage).toContain("/canary start");
  });

  it.each([
    ["approve", /Which rollout/],
    ["pause --reason x", /Which rollout/],
    ["rollback reviews-3 --force", /Unknown option `--force`/],
    ["rollback reviews-3 --reason", /needs a value/],
    ["status a b", /Unexpected `b`/],
    ["list --json", /Unknown option `--json`/],
    ["history", /Missing argument/],
    ["status Reviews_3", /not a rollout id or service name/],
    ['rollback reviews-3 "unclosed', /unclosed quote/],
  ])("refuses %j", (text, reason) => {
    const parsed = parseCommand(text);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error).toMatch(reason);
  });
});

describe("tokenize", () => {
  it("groups quoted words, straight and curly, and decodes Slack's escapes", () => {
    const tokenized = tokenize(`a "b c" ‘d e’ “f g" x&amp;y &lt;z&gt;`);
    expect(tokenized).toEqual({
      ok: true,
      tokens: [
        { text: "a", quoted: false },
        { text: "b c", quoted: true },
        { text: "d e", quoted: true },
        { text: "f g", quoted: true },
        { text: "x&y", quoted: false },
        { text: "<z>", quoted: false },
      ],
    });
  });
});

describe("closestMatch", () => {
  it("takes a unique prefix, else the nearest within a distance that grows with the word", () => {
    expect(editDistance("rollbakc", "rollback")).toBe(1);
    expect(closestMatch("ro", ["rollback", "resume"])).toBe("rollback");
    expect(closestMatch("re", ["rollback", "resume", "reviews"])).toBeUndefined();
    expect(closestMatch("reveiws", ["reviews", "ratings"])).toBe("reviews");
    expect(closestMatch("xyz", ["reviews", "ratings"])).toBeUndefined();
  });
});
