import pLimit from "p-limit";
import { findRollout } from "../commands/find-rollout.ts";
import { humanEvent } from "../commands/human-event.ts";
import { authorize, groupsToResolve, Permission } from "../commands/authorize.ts";
import type { Access, Decision } from "../commands/authorize.ts";
import { parseCommand, USAGE } from "../commands/parse-command.ts";
import { closestMatch } from "../rollout/closest-match.ts";
import type { Command } from "../commands/parse-command.ts";
import type { StartDefaults, StartOptions } from "../rollout/start-request.ts";
import { startRequestFor, startSpecFor } from "../config/services.ts";
import type { ServiceDirectory } from "../config/services.ts";
import { ErrorCode, isCanaryError, errorMessage } from "../errors.ts";
import { awaitMessagePosted } from "../notify/await-message.ts";
import type { MessageRefs } from "../notify/delivery-records.ts";
import { describeWeight, isTerminal } from "../rollout/plan.ts";
import { formatUtc } from "../rollout/time-text.ts";
import type { Logger, RolloutStore } from "../rollout/ports.ts";
import type { RolloutService } from "../rollout/service.ts";
import type { RedisScheduledStarts } from "../store/redis-scheduled-starts.ts";
import { Phase } from "../rollout/types.ts";
import type { Actor, HumanEvent, Rollout, StartRequest } from "../rollout/types.ts";
import type { Deduper } from "../store/redis-deduper.ts";
import { mrkdwn, message, withMentions, withSlackReferences } from "./mrkdwn.ts";
import { ACTION_EVENTS, parseButtonValue } from "./render-rollout-message.ts";
import type { ActionId } from "./render-rollout-message.ts";
import {
  actedReply,
  auditReply,
  dryRunReply,
  errorReply,
  helpReply,
  LIST_LIMIT,
  listReply,
  scheduledReply,
  startedReply,
  statusReply,
} from "./replies.ts";
import type { Reply } from "./replies.ts";
import { formErrors, readStartModal } from "./start-modal.ts";
import type { StartField } from "./start-modal.ts";
import type { UsergroupResolver } from "./usergroups.ts";

/** Sends an ephemeral reply to the person who asked. Never throws. */
export type Respond = (reply: Reply) => Promise<void>;

export type HandlerDeps = {
  rollouts: Pick<RolloutService, "start" | "dryRun" | "act">;
  store: Pick<RolloutStore, "get" | "listActive" | "history" | "audit" | "appendAudit">;
  services: ServiceDirectory;
  /** The deployment's start defaults (environment); a service's config entry refines them. */
  defaults: StartDefaults;
  usergroups: Pick<UsergroupResolver, "members">;
  dedupe: Deduper;
  logger: Logger;
  now: () => number;
  /** `https://acme.slack.com/` for links to rollout messages. */
  workspaceUrl: () => Promise<string>;
  /** Where rollout messages live (the delivery records), for the links and the started reply. */
  messages: MessageRefs;
  /** Where `--at` puts a start; absent, a start cannot be scheduled from Slack. */
  scheduled?: Pick<RedisScheduledStarts, "add">;
};

/** Who asks, from where, and the delivery's identity for deduplication. */
export type Origin = {
  user: Actor;
  channel: string;
  team?: string;
  /** Unique per invocation and repeated by Slack's redeliveries. */
  deliveryId: string;
};

/** How long a delivery id is remembered: far longer than Slack keeps retrying. */
const DELIVERY_TTL_MS = 60 * 60_000;
/** How long a click claims the state version it acted on. */
const VERSION_CLAIM_TTL_MS = 10 * 60_000;

/**
 * Starts running at once (preflight and first step: several Kubernetes requests and tens of milliseconds of this
 * process's CPU each). A burst of starts then waits its turn after the acks instead of delaying the acks still due;
 * clicks and the other commands never wait for it. A start leaves its slot once it is made: the wait for its message
 * to be posted, and the reply, run outside the limit.
 */
const MAX_CONCURRENT_STARTS = 4;

/** Errors a person caused or can act on: shown as they are. The rest are the world's fault. */
const REFUSALS: readonly string[] = [
  ErrorCode.Forbidden,
  ErrorCode.InvalidInput,
  ErrorCode.NotFound,
  ErrorCode.AlreadyActive,
  ErrorCode.PreflightFailed,
];

/**
 * What `/canary`, the buttons and the start form do. Each handler: (acked by the caller) dedupe the delivery,
 * parse (pure), authorize, hand the event to the rollout service, reply. Nothing here talks to Kubernetes or
 * Prometheus, and nothing throws: every failure becomes an ephemeral reply.
 */
export class SlackHandlers {
  readonly #deps: HandlerDeps;
  readonly #starts = pLimit(MAX_CONCURRENT_STARTS);

  constructor(deps: HandlerDeps) {
    this.#deps = deps;
  }

  /** A slash command. `openStartForm` opens the start modal (it needs the command's trigger_id). */
  async command(
    text: string,
    origin: Origin,
    respond: Respond,
    openStartForm: () => Promise<void>,
  ): Promise<void> {
    await this.#guard(origin, "command", respond, async () => {
      const parsed = parseCommand(text);
      if (!parsed.ok) {
        await respond(errorReply(parsed.error, parsed.usage));
        return;
      }
      await this.#run(parsed.command, origin, respond, openStartForm);
    });
  }

  /** A click on one of the rollout message's buttons. */
  async button(
    actionId: ActionId,
    value: string | undefined,
    origin: Origin,
    respond: Respond,
  ): Promise<void> {
    const clicked = parseButtonValue(value);
    // Read alongside the delivery's dedupe claim rather than after it: a duplicate delivery costs one wasted read.
    const read = clicked ? this.#deps.store.get(clicked.id) : undefined;
    read?.catch(() => undefined);
    await this.#guard(origin, "click", respond, async () => {
      const action = ACTION_EVENTS[actionId];
      if (!clicked || !read) {
        await respond(errorReply("That button does not name a rollout; nothing changed."));
        return;
      }
      const rollout = await read;
      if (!rollout) {
        await respond(errorReply(`${clicked.id} no longer exists; nothing changed.`));
        return;
      }
      const stale = staleness(rollout, clicked.version);
      if (stale) {
        await this.#refused(origin.user, action, rollout, `stale button (v${clicked.version}): ${stale}`);
        await respond(errorReply(mrkdwn`${withMentions(stale)} Nothing changed.`));
        return;
      }
      await this.#act(action, rollout, undefined, origin, respond, clicked.version);
    });
  }

  /**
   * The start form, submitted. Pure validation first, so problems show inline in the form (`errors`, to be sent
   * with the ack); `start` then runs the start after the ack.
   */
  checkStartForm(
    view: Parameters<typeof readStartModal>[0],
  ):
    | { ok: true; options: StartOptions; channel?: string }
    | { ok: false; errors: Partial<Record<StartField, string>> } {
    const { options, channel } = readStartModal(view);
    if (options.service === "") return { ok: false, errors: { service: "Which service?" } };
    const service = this.#deps.services.find(options.service);
    const spec = startSpecFor(options, service, this.#deps.defaults);
    if (!spec.ok) return { ok: false, errors: formErrors(spec.problems) };
    return { ok: true, options, ...(channel ? { channel } : {}) };
  }

  async startFromForm(options: StartOptions, origin: Origin, respond: Respond): Promise<void> {
    await this.#guard(origin, "form", respond, () =>
      this.#start({ name: "start", options, dryRun: false }, origin, respond),
    );
  }

  /** Dedupe the delivery, run, and turn any failure into a reply. */
  async #guard(origin: Origin, kind: string, respond: Respond, work: () => Promise<void>): Promise<void> {
    const { dedupe, logger } = this.#deps;
    try {
      const first = await dedupe.claim(`${kind}:${origin.team ?? "-"}:${origin.deliveryId}`, DELIVERY_TTL_MS);
      if (!first) {
        logger.info(
          { user: origin.user, kind, delivery: origin.deliveryId },
          "duplicate slack delivery ignored",
        );
        return;
      }
      await work();
    } catch (error) {
      logger.error({ user: origin.user, kind, err: errorMessage(error) }, "slack handler failed");
      await respond(errorReply(`Something went wrong: ${errorMessage(error)}`));
    }
  }

  async #run(
    command: Command,
    origin: Origin,
    respond: Respond,
    openStartForm: () => Promise<void>,
  ): Promise<void> {
    const { store } = this.#deps;
    switch (command.name) {
      case "help":
        await respond(helpReply(command.topic));
        return;
      case "start-dialog":
        await openStartForm();
        return;
      case "start":
        await this.#start(command, origin, respond);
        return;
      case "list":
        await respond(await this.#list(await store.listActive()));
        return;
      case "status": {
        if (command.ref === undefined) {
          await respond(await this.#list(await store.listActive()));
          return;
        }
        const rollout = await findRollout(store, command.ref);
        await respond(
          rollout
            ? statusReply(
                rollout,
                this.#deps.now(),
                await this.#deps.workspaceUrl(),
                await this.#deps.messages.message(rollout.id),
              )
            : errorReply(await this.#notFound(command.ref), USAGE.status),
        );
        return;
      }
      case "history": {
        const byId = await store.get(command.ref);
        if (byId) {
          await respond(auditReply(byId.id, await store.audit(byId.id)));
          return;
        }
        const recent = await store.history({ service: command.ref, limit: 15 });
        // Refused starts have no rollout: they are kept under `start:<service>`.
        const refused = (await store.audit(`start:${command.ref}`)).slice(-10);
        if (recent.length === 0 && refused.length === 0) {
          await respond(errorReply(await this.#notFound(command.ref), USAGE.history));
          return;
        }
        const list = await this.#list(recent, `Recent rollouts of ${command.ref}`);
        const starts = refused.length > 0 ? (auditReply(`start:${command.ref}`, refused).blocks ?? []) : [];
        await respond(
          message(mrkdwn`Recent rollouts of ${command.ref}`, [...(list.blocks ?? []), ...starts]),
        );
        return;
      }
      case "act": {
        const rollout = await store.get(command.id);
        if (!rollout) {
          await respond(errorReply(await this.#notFound(command.id), USAGE[command.action]));
          return;
        }
        await this.#act(command.action, rollout, command.reason, origin, respond);
        return;
      }
    }
  }

  async #start(
    command: Extract<Command, { name: "start" }>,
    origin: Origin,
    respond: Respond,
  ): Promise<void> {
    const { services, rollouts } = this.#deps;
    const name = command.options.service;
    const service = services.find(name);
    const decision = await this.#decide(Permission.Start, origin, name);
    if (!decision.ok) {
      await this.#refused(origin.user, "start", { service: name }, decision.reason);
      await respond(errorReply(withSlackReferences(decision.reason)));
      return;
    }
    const start = startRequestFor(command.options, service, this.#deps.defaults, {
      by: origin.user,
      report: { channel: origin.channel },
    });
    if (!start.ok) {
      await respond(errorReply(start.error, USAGE.start));
      return;
    }
    const request = start.value;
    try {
      if (command.dryRun) {
        await respond(dryRunReply(await rollouts.dryRun(request)));
        return;
      }
      if (command.options.at !== undefined) {
        await respond(await this.#schedule(command.options.at, request));
        return;
      }
      const started = await this.#starts(() => rollouts.start(request));
      // The message is posted in the background: say whether it is there once it is, or after a short wait.
      const posted = await awaitMessagePosted(this.#deps.messages, started.id);
      await respond(startedReply(started, posted !== undefined));
    } catch (error) {
      if (!isCanaryError(error) || !REFUSALS.includes(error.code)) throw error;
      // A failed preflight is in the rollout's own audit trail already; the other refusals have no rollout.
      if (error.code !== ErrorCode.NotFound && error.code !== ErrorCode.PreflightFailed) {
        await this.#refused(origin.user, "start", { service: name }, error.message);
      }
      await respond(errorReply(`Not started: ${error.message}`));
    }
  }

  /** A start for later: checked now (a start that could not run now is refused now), then stored for a worker. */
  async #schedule(at: string, request: StartRequest): Promise<Reply> {
    const { scheduled, rollouts, now } = this.#deps;
    if (!scheduled) return errorReply("This canarybot cannot schedule starts.");
    const { parseStartTime } = await import("../schedule/local-time.ts");
    const when = parseStartTime(at, now());
    if (!when.ok) return errorReply(when.error, USAGE.start);
    await rollouts.dryRun(request);
    return scheduledReply(await scheduled.add(when.value, request, now()));
  }

  /** Authorize, then hand the event to the service; `version` (a click) claims the state the click was on. */
  async #act(
    action: HumanEvent["type"],
    rollout: Rollout,
    reason: string | undefined,
    origin: Origin,
    respond: Respond,
    version?: number,
  ): Promise<void> {
    const { rollouts, dedupe } = this.#deps;
    const decision = await this.#decide(action, origin, rollout.target.service, rollout);
    if (!decision.ok) {
      await this.#refused(origin.user, action, rollout, decision.reason);
      await respond(errorReply(withSlackReferences(decision.reason)));
      return;
    }
    // Two clicks on one state (two people, two replicas): the first wins, the second is told the state moved.
    const claim = version === undefined ? undefined : `version:${rollout.id}@${version}`;
    if (claim && !(await dedupe.claim(claim, VERSION_CLAIM_TTL_MS))) {
      const detail = `someone else acted on ${rollout.id} a moment ago; look at its message again.`;
      await this.#refused(origin.user, action, rollout, `stale button (v${version}): ${detail}`);
      await respond(errorReply(`${capitalize(detail)} Nothing changed.`));
      return;
    }
    try {
      const after = await rollouts.act(
        rollout.id,
        humanEvent(action, origin.user, reason, "requested in Slack"),
        rollout,
      );
      await respond(actedReply(after, action));
    } catch (error) {
      if (claim) await dedupe.release(claim).catch(() => undefined);
      // The service audits its own refusals (two-person rule, wrong phase, finished).
      if (!isCanaryError(error) || !REFUSALS.includes(error.code)) throw error;
      await respond(errorReply(`Nothing changed: ${error.message}`));
    }
  }

  async #decide(
    permission: Permission,
    origin: Origin,
    service: string,
    rollout?: Rollout,
  ): Promise<Decision> {
    const access = this.#access(service);
    const groups = groupsToResolve(access, permission);
    const groupMembers = groups.length > 0 ? await this.#deps.usergroups.members(groups) : new Map();
    return authorize({
      permission,
      user: origin.user,
      channel: origin.channel,
      service,
      access,
      groupMembers,
      ...(rollout
        ? {
            rollout: {
              id: rollout.id,
              startedBy: rollout.startedBy,
              twoPersonRule: rollout.plan.twoPersonRule,
            },
          }
        : {}),
    });
  }

  #access(service: string): Access {
    const { services } = this.#deps;
    if (!services.configured) return { mode: "open" };
    const policy = services.find(service);
    if (policy) return { mode: "configured", policy };
    const suggestion = services.suggest(service);
    return { mode: "unknown", ...(suggestion ? { suggestion } : {}) };
  }

  /** Audit a refusal under the rollout, or under `start:<service>` when there is none yet. */
  async #refused(
    user: Actor,
    what: string,
    subject: Rollout | { service: string },
    detail: string,
  ): Promise<void> {
    const rollout = "id" in subject ? subject : undefined;
    const phase = rollout?.phase ?? Phase.Preflight;
    try {
      await this.#deps.store.appendAudit({
        at: this.#deps.now(),
        rolloutId: rollout?.id ?? `start:${"service" in subject ? subject.service : ""}`,
        actor: user,
        action: `refused:${what}`,
        fromPhase: phase,
        toPhase: phase,
        // Nothing changed: the weight is what the route carries.
        canaryWeight: rollout?.appliedWeight ?? 0,
        detail,
      });
    } catch (error) {
      this.#deps.logger.warn({ user, what, err: errorMessage(error) }, "refusal not audited");
    }
  }

  /** A list of rollouts, each linked to its message. */
  async #list(rollouts: readonly Rollout[], title?: string): Promise<Reply> {
    const shown = rollouts.slice(0, LIST_LIMIT);
    const where = await Promise.all(shown.map((rollout) => this.#deps.messages.message(rollout.id)));
    const messages = new Map(
      shown.flatMap((rollout, index) => {
        const ref = where[index];
        return ref ? [[rollout.id, ref] as const] : [];
      }),
    );
    return listReply(rollouts, await this.#deps.workspaceUrl(), messages, ...(title ? [title] : []));
  }

  async #notFound(ref: string): Promise<string> {
    const live = (await this.#deps.store.listActive()).map((rollout) => rollout.id);
    const guess = closestMatch(ref, [...live, ...this.#deps.services.names]);
    return `No rollout or service \`${ref}\`.${guess ? ` Did you mean \`${guess}\`?` : ""}`;
  }
}

/**
 * Why a click on a message showing `version` comes too late, or undefined when it is current. Plain text, for the
 * audit trail; the reply turns the user id into a mention.
 */
export function staleness(rollout: Rollout, version: number): string | undefined {
  if (isTerminal(rollout.phase)) {
    const by = rollout.outcome ? ` by ${rollout.outcome.by}` : "";
    const when = rollout.outcome ? ` at ${formatUtc(rollout.outcome.at)}` : "";
    return `${rollout.id} is already ${rollout.phase}${by}${when}.`;
  }
  if (rollout.version !== version) {
    return `${rollout.id} has moved on since that message was drawn (now ${rollout.phase} at ${describeWeight(rollout)}); look at the updated message and try again.`;
  }
  return undefined;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
