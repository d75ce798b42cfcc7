import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUILTIN_DEFAULTS, buildStartSpec } from "../../src/rollout/start-request.ts";
import { configPathFrom, loadConfigFile, parseConfigFile } from "../../src/config/file.ts";
import {
  reportChannel,
  serviceDirectory,
  startDefaultsFor,
  startOptionsFor,
} from "../../src/config/services.ts";
import { DEFAULT_ANALYSIS_POLICY } from "../../src/metrics/analysis.ts";

const EXAMPLE = `
services:
  reviews:
    namespace: bookinfo
    virtualService: reviews-vs
    host: reviews.bookinfo.svc.cluster.local
    stable: v1
    defaults:
      steps: [10, 25, 50, 100]
      interval: 2m
      approveAt: 50
      header: qa=canary-test
    analysis:
      minSuccess: 99.5
      maxP99: 300ms
      failureLimit: 3
    channels: [C0DEPLOYS]
    starters: [U0ALICE1, S0SRE001]
    approvers: [S0SRE001]
    rollbackers: [U0CAROL1]
    onCall: S0ONCALL1
  ratings: {}
`;

function errorOf(text: string): string {
  try {
    parseConfigFile(text, "canarybot.yaml");
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error("expected the config to be refused");
}

describe("parseConfigFile", () => {
  it("reads services with their targets, defaults, analysis overrides and people", () => {
    const config = parseConfigFile(EXAMPLE);
    expect(config.services.reviews).toEqual({
      namespace: "bookinfo",
      virtualService: "reviews-vs",
      host: "reviews.bookinfo.svc.cluster.local",
      stable: "v1",
      defaults: { steps: [10, 25, 50, 100], interval: 120_000, approveAt: [50], header: "qa=canary-test" },
      analysis: { minSuccess: 0.995, maxP99: 300, failureLimit: 3 },
      channels: ["C0DEPLOYS"],
      starters: ["U0ALICE1", "S0SRE001"],
      approvers: ["S0SRE001"],
      rollbackers: ["U0CAROL1"],
      onCall: "S0ONCALL1",
    });
    expect(config.services.ratings).toEqual({ namespace: "default", defaults: {} });
  });

  it("takes steps and gates as lists or comma strings", () => {
    const config = parseConfigFile(`services: {a: {defaults: {steps: "5,50,100", approveAt: "5,50"}}}`);
    expect(config.services.a?.defaults).toEqual({ steps: [5, 50, 100], approveAt: [5, 50] });
  });

  it("names the path of every problem at once", () => {
    const message = errorOf(`
services:
  reviews:
    approvers: [alice, U0BOB001]
    channels: ["#deploys"]
    onCall: "@sre"
    defaults:
      steps: [10, 5]
      interval: soon
      approveAt: 30
    analysis:
      maxP99Ratio: 0.5
    approver: [U0X]
  Bad_Name: {}
`);
    expect(message).toMatch(/^canarybot\.yaml: /);
    for (const expected of [
      "services.reviews.approvers[0]: must be a Slack user id (U…/W…) or user group id (S…), not a name",
      "services.reviews.channels[0]: must be a Slack channel id (C…/G…), not a #name",
      "services.reviews.onCall: must be a Slack user id",
      'services.reviews.defaults.interval: "soon" is not a duration like 30s, 2m or 500ms',
      "services.reviews.analysis.maxP99Ratio:",
      'services.reviews: unknown key "approver"',
      "services.Bad_Name",
    ]) {
      expect(message).toContain(expected);
    }
  });

  it("checks that the default plan is sound", () => {
    const message = errorOf(`services: {reviews: {defaults: {steps: [10, 5], approveAt: 30}}}`);
    expect(message).toContain(
      "services.reviews.defaults.steps: 5 after 10: steps must be strictly increasing",
    );
    expect(message).toContain("services.reviews.defaults.approveAt: 30 is not one of the steps");
  });

  it("refuses YAML that does not parse, and a file without services", () => {
    expect(errorOf("services: [")).toMatch(/canarybot\.yaml: not valid YAML/);
    expect(errorOf("")).toContain("services: ");
    expect(errorOf("services: {}\nextra: 1")).toContain('unknown key "extra"');
  });
});

describe("loadConfigFile and configPathFrom", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "canarybot-config-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("reads the file the flag names, else CANARYBOT_CONFIG", async () => {
    const path = join(dir, "canarybot.yaml");
    await writeFile(path, EXAMPLE);
    expect(Object.keys((await loadConfigFile(path)).services)).toEqual(["reviews", "ratings"]);
    expect(configPathFrom("a.yaml", { CANARYBOT_CONFIG: "b.yaml" })).toBe("a.yaml");
    expect(configPathFrom(undefined, { CANARYBOT_CONFIG: "b.yaml" })).toBe("b.yaml");
    expect(configPathFrom(undefined, { CANARYBOT_CONFIG: "" })).toBeUndefined();
    await expect(loadConfigFile(join(dir, "missing.yaml"))).rejects.toThrow(/cannot be read/);
  });
});

describe("a service's start defaults and options", () => {
  const config = parseConfigFile(EXAMPLE);
  const reviews = config.services.reviews;
  const base = { ...BUILTIN_DEFAULTS, analysis: DEFAULT_ANALYSIS_POLICY };

  it("refines the deployment's defaults with the service's", () => {
    expect(startDefaultsFor(base, reviews)).toEqual({
      ...base,
      namespace: "bookinfo",
      steps: [10, 25, 50, 100],
      intervalMs: 120_000,
      approvalGates: [50],
      analysis: { ...DEFAULT_ANALYSIS_POLICY, minSuccessRate: 0.995, maxP99Ms: 300, failureLimit: 3 },
    });
    // Without a metrics provider there is nothing to judge, whatever the file says.
    expect(startDefaultsFor(BUILTIN_DEFAULTS, reviews).analysis).toBeUndefined();
    expect(startDefaultsFor(base, undefined)).toBe(base);
  });

  it("fills the target in from the file, and refuses to let a command point elsewhere", () => {
    const merged = startOptionsFor({ service: "reviews", canary: "v2" }, reviews);
    expect(merged).toEqual({
      ok: true,
      value: {
        service: "reviews",
        canary: "v2",
        namespace: "bookinfo",
        virtualService: "reviews-vs",
        host: "reviews.bookinfo.svc.cluster.local",
        header: "qa=canary-test",
        stable: "v1",
      },
    });
    if (!merged.ok) return;
    expect(buildStartSpec(merged.value, startDefaultsFor(base, reviews))).toMatchObject({
      ok: true,
      value: {
        target: { namespace: "bookinfo", virtualService: "reviews-vs", stableSubset: "v1" },
        plan: { steps: [10, 25, 50, 100], headerMatch: { name: "qa", value: "canary-test" } },
      },
    });
    expect(
      startOptionsFor({ service: "reviews", canary: "v2", namespace: "prod", host: "x" }, reviews),
    ).toEqual({
      ok: false,
      error: "--namespace, --host: the target of reviews comes from the config file",
      problems: [
        { field: "--namespace, --host", message: "the target of reviews comes from the config file" },
      ],
    });
  });

  it("takes a service's mesh and workload contexts and its progress deadline; a start may set the deadline, not the contexts", () => {
    const service = parseConfigFile(
      "services:\n  reviews:\n    context: workloads\n    meshContext: asm\n    defaults:\n      progressDeadline: 5m\n",
    ).services.reviews;
    const merged = startOptionsFor({ service: "reviews", canary: "v2" }, service);
    if (!merged.ok) throw new Error(merged.error);
    expect(buildStartSpec(merged.value, startDefaultsFor(BUILTIN_DEFAULTS, service))).toMatchObject({
      ok: true,
      value: { target: { context: "workloads", meshContext: "asm" }, plan: { progressDeadlineMs: 300_000 } },
    });
    const own = buildStartSpec(
      { ...merged.value, progressDeadline: "90s" },
      startDefaultsFor(BUILTIN_DEFAULTS, service),
    );
    expect(own.ok && own.value.plan.progressDeadlineMs).toBe(90_000);
    expect(buildStartSpec({ ...merged.value, progressDeadline: "0s" }, BUILTIN_DEFAULTS)).toEqual({
      ok: false,
      error: "progress-deadline: must be between 1s and 24h",
      problems: [{ field: "progress-deadline", message: "must be between 1s and 24h" }],
    });
    expect(startOptionsFor({ service: "reviews", canary: "v2", meshContext: "elsewhere" }, service)).toEqual({
      ok: false,
      error: "--mesh-context: the target of reviews comes from the config file",
      problems: [{ field: "--mesh-context", message: "the target of reviews comes from the config file" }],
    });
  });

  it("turns `router: httproute` into an HTTPRoute target, and refuses the fields of the other router", () => {
    const config = parseConfigFile(`services: {reviews: {router: httproute, stable: reviews-v1}}`);
    const service = serviceDirectory(config).find("reviews");
    const merged = startOptionsFor({ service: "reviews", canary: "reviews-v2" }, service);
    expect(merged).toMatchObject({ ok: true, value: { httpRoute: "reviews" } });
    if (!merged.ok) return;
    expect(buildStartSpec(merged.value, startDefaultsFor(base, service))).toMatchObject({
      ok: true,
      value: { target: { router: "httproute", virtualService: "reviews", stableSubset: "reviews-v1" } },
    });
    expect(startOptionsFor({ service: "reviews", canary: "v2", httpRoute: "other" }, service)).toMatchObject({
      ok: false,
      error: "--http-route: the target of reviews comes from the config file",
    });
    expect(errorOf(`services: {reviews: {httpRoute: reviews}}`)).toMatch(
      /services\.reviews\.httpRoute: needs `router: httproute`/,
    );
    expect(errorOf(`services: {reviews: {router: httproute, virtualService: reviews}}`)).toMatch(
      /services\.reviews\.virtualService: is for `router: istio`/,
    );
    expect(errorOf(`services: {reviews: {router: linkerd}}`)).toMatch(/services\.reviews\.router/);
  });

  it("suggests a configured service for a typo", () => {
    const directory = serviceDirectory(config);
    expect(directory.configured).toBe(true);
    expect(directory.names).toEqual(["ratings", "reviews"]);
    expect(directory.find("reviews")).toBe(reviews);
    expect(directory.find("toString")).toBeUndefined();
    expect(directory.suggest("reveiws")).toBe("reviews");
    expect(serviceDirectory(undefined).configured).toBe(false);
  });
});

describe("every mistake at once", () => {
  it("names the defaults' plan problems beside a mistake elsewhere in the service, and says what a wrong type is", () => {
    const message = errorOf(`
services:
  reviews:
    starters: U0ALICE01
    defaults: { steps: [10, 50, 90], approveAt: [60] }
    analysis: { maxP99: 2h }
`);
    expect(message).toContain("services.reviews.starters: Invalid input: expected array, received string");
    expect(message).toContain("services.reviews.defaults.steps: the last step must be 100");
    expect(message).toContain("services.reviews.defaults.approveAt: 60 is not one of the steps");
    expect(message).toContain("services.reviews.analysis.maxP99: must be at most 1h");
    expect(message).not.toContain("is required");
  });
});

describe("release windows and freezes", () => {
  const CALENDAR = `
services:
  reviews:
    windows:
      - { cron: "* 9-16 * * 1-5", timezone: Europe/Berlin }
      - { cron: "0-29 20 * * *" }
    freezes:
      - { from: 2026-12-20, to: "2027-01-04T09:00:00+01:00", reason: holiday freeze }
`;

  it("reads windows (UTC unless a zone is named) and freezes as instants, and gives every plan the windows", () => {
    const config = parseConfigFile(CALENDAR);
    const service = config.services.reviews;
    expect(service?.windows).toEqual([
      { cron: "* 9-16 * * 1-5", timezone: "Europe/Berlin" },
      { cron: "0-29 20 * * *", timezone: "UTC" },
    ]);
    expect(service?.freezes).toEqual([
      { from: Date.UTC(2026, 11, 20), to: Date.UTC(2027, 0, 4, 8), reason: "holiday freeze" },
    ]);
    const spec = buildStartSpec(
      { service: "reviews", canary: "v2" },
      startDefaultsFor(BUILTIN_DEFAULTS, service),
    );
    expect(spec.ok && spec.value.plan.windows).toEqual(service?.windows);
  });

  it("names each mistake with its path", () => {
    const message = errorOf(`
services:
  reviews:
    windows: [{ cron: "every day", timezone: Mars/Olympus }]
    freezes: [{ from: 2027-01-04, to: 2026-12-20, reason: backwards }, { from: soon, to: 2026-12-20, reason: x }]
`);
    expect(message).toContain("services.reviews.windows[0].cron: must be a five-field cron expression");
    expect(message).toContain("services.reviews.windows[0].timezone: must be an IANA time zone");
    expect(message).toContain("services.reviews.freezes[0].to: must be after from");
    expect(message).toContain("services.reviews.freezes[1].from: must be a date or date-time");
  });
});

describe("reportChannel: where a command-line start reports", () => {
  it("takes a channel id, one of the service's channels when the config file names them", () => {
    expect(reportChannel(undefined, { channels: ["C0DEPLOYS"] }, "reviews")).toEqual({
      ok: true,
      value: undefined,
    });
    expect(reportChannel("C0DEPLOYS", { channels: ["C0DEPLOYS"] }, "reviews")).toEqual({
      ok: true,
      value: { channel: "C0DEPLOYS" },
    });
    expect(reportChannel("C0ANY", undefined, "reviews")).toEqual({ ok: true, value: { channel: "C0ANY" } });
  });

  it("refuses a #name and a channel the service does not report in, in one line", () => {
    expect(reportChannel("#deploys", undefined, "reviews")).toEqual({
      ok: false,
      error: "--channel #deploys: expected a Slack channel id (C…), not a #name",
    });
    expect(reportChannel("C0OTHER", { channels: ["C0DEPLOYS", "C0OPS"] }, "reviews")).toEqual({
      ok: false,
      error: "--channel C0OTHER: reviews reports only in C0DEPLOYS, C0OPS (the config file's channels)",
    });
  });
});
