// Slack ack latency of canarybot's Bolt app: `node bench/slack-ack.bench.ts [requests per kind] [bursts=50,200]`.
//
// canarybot runs as `canarybot serve --no-worker` does (startServe: HTTP receiver, RedisDeduper, SlackNotifier, the
// real runtime on Redis and the Kubernetes sandbox), its Web API client pointed at the Slack sandbox. One rollout is
// started so that its message, with buttons, is posted to the sandbox. Requests are signed as Slack signs them
// (createSignedRequestClient) and timed from send to the HTTP answer, which Bolt sends when the listener acks:
//   - `/canary status <id>` (the reply then goes to the response_url);
//   - a click on the message's Pause / Resume button (the rollout then pauses / resumes and the message updates).
// Floor, same run, same signed client: a bare Bolt App on an HTTPReceiver configured like canarybot's whose
// listeners only ack. Requests go one at a time, floor then canarybot; after each canarybot request the bench waits
// until its work after the ack is done (its reply or message update arrived, then 5 ms), so every ack is measured
// on an idle process. Client, apps and the Slack sandbox share this process; the Kubernetes sandbox runs in a child
// process (bench/kube-sandbox-child.ts), as an API server is another machine in a deployment (the two cores are
// shared with it and Redis all the same).
//
// Bursts: then, for each burst size K, K `/canary start` commands (K services of their own, 10 per namespace) are
// sent at once to the floor, then at once to canarybot, whose starts (preflight, first step) run after the acks on
// the same event loop while the later acks are still due; ack p50/p99 of each burst, and the time until canarybot
// has answered every start.
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { App, HTTPReceiver } from "@slack/bolt";
import { EVENTS_PATH } from "../src/slack/app.ts";
import { ActionId } from "../src/slack/render-rollout-message.ts";
import { createSignedRequestClient } from "../sandbox/slack/signed-request-client.ts";
import type { InteractionSent, SignedRequestClient } from "../sandbox/slack/signed-request-client.ts";
import { startSlackSandbox } from "../sandbox/slack/web-api-sandbox.ts";
import type { SlackSandbox } from "../sandbox/slack/web-api-sandbox.ts";
import { reviewsTarget } from "../test/support/istio-fixtures.ts";
import { serveInProcess } from "../test/support/serve-in-process.ts";
import { quietLogger } from "../test/sandbox/slack/support.ts";
import { startBenchKube } from "./kube-sandbox-child.ts";
import { benchArgs, percentile, recordResults, runDescription, verdict } from "./results.ts";

const [requestsArg, burstsArg] = benchArgs();
const requests = Number(requestsArg ?? 300);
const bursts = (burstsArg ?? "50,200").split(",").filter(Boolean).map(Number);
const WARMUP = 20;
const SIGNING_SECRET = "benchSigningSecret0123456789abcd";
const CHANNEL = "C0RELEASES";
const STARTER = "U0ALICE";
const CLICKER = "U0BOB";
/** After canarybot's reply or message update arrived, let its handler finish before the next (floor) request. */
const SETTLE_MS = 5;

/** Poll (without busy-waiting) until `check` holds; throws after `timeoutMs`. */
async function until(what: string, check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(1);
  }
}

type Button = { actionId: string; value: string };

function buttonsOn(slack: SlackSandbox, ts: string): Button[] {
  const blocks = slack.message(CHANNEL, ts)?.blocks ?? [];
  const found: Button[] = [];
  for (const block of blocks as { accessory?: unknown; elements?: unknown[] }[]) {
    for (const element of [block.accessory, ...(block.elements ?? [])] as Record<string, unknown>[]) {
      if (element?.type === "button" && typeof element.action_id === "string") {
        found.push({ actionId: element.action_id, value: String(element.value) });
      }
    }
  }
  return found;
}

/** The Pause or Resume button on the message, whichever it shows now. */
function toggleButton(slack: SlackSandbox, ts: string): Button | undefined {
  return buttonsOn(slack, ts).find(
    (button) => button.actionId === ActionId.Pause || button.actionId === ActionId.Resume,
  );
}

async function timed(send: () => Promise<InteractionSent>): Promise<number> {
  const start = performance.now();
  const answer = await send();
  const elapsed = performance.now() - start;
  if (answer.status !== 200) throw new Error(`HTTP ${answer.status}: ${answer.body}`);
  return elapsed;
}

async function main(): Promise<void> {
  const slack = await startSlackSandbox({
    users: [
      { id: STARTER, name: "alice" },
      { id: CLICKER, name: "bob" },
    ],
    channels: [{ id: CHANNEL, name: "releases" }],
  });
  const kube = await startBenchKube("child", "bookinfo");
  const canarybotServe = await serveInProcess({
    slack,
    kube,
    signingSecret: SIGNING_SECRET,
    label: "bench-slack",
  });
  const { serve } = canarybotServe;

  const floorApp = new App({
    token: slack.botToken,
    receiver: new HTTPReceiver({
      signingSecret: SIGNING_SECRET,
      endpoints: EVENTS_PATH,
      processBeforeResponse: false,
      logger: quietLogger,
    }),
    logger: quietLogger,
    clientOptions: { slackApiUrl: slack.apiUrl },
  });
  floorApp.command(/.*/, async ({ ack }) => {
    await ack();
  });
  floorApp.action(/.*/, async ({ ack }) => {
    await ack();
  });
  const floorServer = (await floorApp.start(0)) as Server;

  const client = (port: number | undefined): SignedRequestClient =>
    createSignedRequestClient({
      endpoint: `http://127.0.0.1:${port ?? 0}${EVENTS_PATH}`,
      signingSecret: SIGNING_SECRET,
      slack,
    });
  const canarybot = client(serve.port);
  const floor = client((floorServer.address() as AddressInfo).port);

  try {
    const rollout = await serve.runtime.service.start({
      target: reviewsTarget(),
      plan: { steps: [10, 50, 100], intervalMs: 3_600_000, approvalGates: [], twoPersonRule: true },
      by: STARTER,
      report: { channel: CHANNEL },
    });
    await until("the rollout message", () => slack.messages(CHANNEL).some((m) => m.blocks !== undefined));
    const messageTs = slack.messages(CHANNEL)[0]?.ts ?? "";

    const samples = {
      status: [] as number[],
      click: [] as number[],
      floorStatus: [] as number[],
      floorClick: [] as number[],
    };
    for (let i = 0; i < WARMUP + requests; i++) {
      const keep = i >= WARMUP;
      const floorStatus = await timed(() =>
        floor.slashCommand({ text: `status ${rollout.id}`, userId: CLICKER, channelId: CHANNEL }),
      );
      const replies = slack.responses().length;
      const status = await timed(() =>
        canarybot.slashCommand({ text: `status ${rollout.id}`, userId: CLICKER, channelId: CHANNEL }),
      );
      await until("the status reply", () => slack.responses().length > replies);
      await sleep(SETTLE_MS);

      const floorClick = await timed(() =>
        floor.clickButton({ channel: CHANNEL, messageTs, actionId: ActionId.Rollback, userId: CLICKER }),
      );
      const button = toggleButton(slack, messageTs);
      if (!button) throw new Error("the rollout message shows neither Pause nor Resume");
      const click = await timed(() =>
        canarybot.clickButton({ channel: CHANNEL, messageTs, actionId: button.actionId, userId: CLICKER }),
      );
      // The click's work is done when the message shows the other button, for the next state version.
      await until("the message update after the click", () => {
        const now = toggleButton(slack, messageTs);
        return now !== undefined && now.actionId !== button.actionId;
      });
      await sleep(SETTLE_MS);
      if (keep) {
        samples.status.push(status);
        samples.click.push(click);
        samples.floorStatus.push(floorStatus);
        samples.floorClick.push(floorClick);
      }
    }

    /** One table row: canarybot's and the floor's ack p50/p99, the p99 ratio, and the target when there is one. */
    const row = (label: string, values: number[], floorValues: number[], target?: number): string => {
      const p99 = percentile(values, 0.99);
      const ratio = p99 / percentile(floorValues, 0.99);
      const ms = (value: number): string => `${value.toFixed(1)} ms`;
      return (
        `| ${label} | ${ms(percentile(values, 0.5))} | ${ms(p99)} | ${ms(percentile(floorValues, 0.5))} | ` +
        `${ms(percentile(floorValues, 0.99))} | **${ratio.toFixed(2)}** | ` +
        `${target === undefined ? "" : `≤ ${target}×: ${verdict(ratio <= target)}`} |`
      );
    };
    const rows = [
      row("`/canary status <id>`", samples.status, samples.floorStatus),
      row("button (Pause / Resume)", samples.click, samples.floorClick),
    ];
    const notes: string[] = [];

    for (const [b, size] of bursts.entries()) {
      const services = Array.from({ length: size }, (_, i) => ({
        name: `burst${b}-${String(i).padStart(3, "0")}`,
        namespace: `burst${b}-${Math.floor(i / 10)}`,
      }));
      await kube.seedServices(services);
      const command = ({ name, namespace }: { name: string; namespace: string }): string =>
        `start ${name} --namespace ${namespace} --canary v2 --interval 1h --no-analysis`;
      const burst = (target: SignedRequestClient): Promise<number[]> =>
        Promise.all(
          services.map((service) =>
            timed(() => target.slashCommand({ text: command(service), userId: STARTER, channelId: CHANNEL })),
          ),
        );
      const floorAcks = await burst(floor);
      const replies = slack.responses().length;
      const began = performance.now();
      const acks = await burst(canarybot);
      await until(`${size} start replies`, () => slack.responses().length >= replies + size, 180_000);
      const answered = performance.now() - began;
      const failed = slack
        .responses()
        .slice(replies)
        .filter((response) => !/Started /.test(JSON.stringify(response.body)));
      rows.push(row(`${size} \`/canary start\` at once`, acks, floorAcks, 1.5));
      notes.push(
        `${size} at once: all answered in ${(answered / 1000).toFixed(1)} s` +
          (failed.length > 0 ? `, ${failed.length} not started: ${JSON.stringify(failed[0]?.body)}` : ""),
      );
    }
    await recordResults("slack-ack", [
      runDescription(
        `node bench/slack-ack.bench.ts ${requests} ${bursts.join(",")}`,
        `${requests} requests per kind after ${WARMUP} warm-up, HTTP mode, signed`,
      ),
      "",
      "| requests | canarybot ack p50 | p99 | floor p50 | floor p99 | **p99 ratio** | target |",
      "|---|---|---|---|---|---|---|",
      ...rows,
      "",
      ...notes.map((note) => `- ${note}.`),
    ]);
  } finally {
    await floorApp.stop();
    await canarybotServe.close();
    await kube.close();
    await slack.close();
  }
}

await main();
