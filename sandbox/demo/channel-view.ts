import type { KubeObject } from "../kube/object-store.ts";
import type { MeshSettings } from "../mesh/settings.ts";
import type { SlackMessage, UploadedFile } from "../slack/slack-workspace.ts";
import type { SlackSandbox } from "../slack/web-api-sandbox.ts";
import type { DemoPerson } from "./demo-people.ts";

/** What the channel page draws: everything it shows, as one JSON document pushed whenever it changes. */
export type ChannelView = {
  channel: { id: string; name: string };
  bot: { id: string; name: string };
  people: { id: string; name: string; realName: string; role: string }[];
  directory: {
    users: Record<string, string>;
    groups: Record<string, string>;
    channels: Record<string, string>;
  };
  messages: ViewMessage[];
  ephemerals: { user: string; ts: string; text: string; blocks: unknown[] }[];
  /** Modals opened with views.open and not yet submitted or closed. */
  views: { id: string; user: string; view: Record<string, unknown> }[];
  virtualServices: { namespace: string; name: string; routes: RouteWeights[] }[];
  mesh?: MeshSettings;
  analysis: { on: boolean; note: string };
  kubectl: string;
};

export type ViewMessage = {
  ts: string;
  user: string;
  text: string;
  blocks: unknown[];
  edited: boolean;
  files: { id: string; title: string; url: string }[];
  replies: ViewMessage[];
};

export type RouteWeights = { name: string; destinations: { subset: string; weight: number }[] };

type HttpRoute = {
  name?: string;
  route?: { destination?: { subset?: string; host?: string }; weight?: number }[];
};

/**
 * The weights of each HTTP route of a VirtualService, a destination without a weight carrying 100; every subset
 * `subsets` names (the DestinationRule's) is listed, at 0% when the route does not send to it.
 */
export function routeWeights(virtualService: KubeObject, subsets: readonly string[] = []): RouteWeights[] {
  const http = (virtualService.spec as { http?: HttpRoute[] } | undefined)?.http ?? [];
  return http.map((route, index) => {
    const routed = (route.route ?? []).map((destination) => ({
      subset: destination.destination?.subset ?? destination.destination?.host ?? "?",
      weight: destination.weight ?? 100,
    }));
    const idle = subsets
      .filter((subset) => !routed.some((destination) => destination.subset === subset))
      .map((subset) => ({ subset, weight: 0 }));
    const destinations = [...routed, ...idle].sort((a, b) => a.subset.localeCompare(b.subset));
    return { name: route.name ?? `#${index + 1}`, destinations };
  });
}

/** The subsets of the DestinationRule for a VirtualService's first host (short names as bookinfo writes them). */
export function subsetsFor(virtualService: KubeObject, destinationRules: readonly KubeObject[]): string[] {
  const host = ((virtualService.spec as { hosts?: string[] } | undefined)?.hosts ?? [])[0];
  const rule = destinationRules.find(
    (candidate) => (candidate.spec as { host?: string } | undefined)?.host === host,
  );
  return ((rule?.spec as { subsets?: { name?: string }[] } | undefined)?.subsets ?? []).flatMap((subset) =>
    subset.name === undefined ? [] : [subset.name],
  );
}

export type ViewSources = {
  slack: SlackSandbox;
  channel: { id: string; name: string };
  people: readonly DemoPerson[];
  groups: readonly { id: string; handle: string }[];
  virtualServices: () => KubeObject[];
  destinationRules: () => KubeObject[];
  mesh?: () => MeshSettings;
  analysis: { on: boolean; note: string };
  kubectl: string;
  /** Views the page has submitted or closed. */
  closedViews: ReadonlySet<string>;
};

function viewMessage(
  message: SlackMessage,
  files: ReadonlyMap<string, UploadedFile>,
  replies: ViewMessage[],
): ViewMessage {
  return {
    ts: message.ts,
    user: message.user,
    text: message.text,
    blocks: message.blocks ?? [],
    edited: message.updates > 0,
    files: (message.fileIds ?? []).flatMap((id) => {
      const file = files.get(id);
      return file?.completed === true
        ? [{ id, title: file.title ?? file.filename, url: `/files/${id}` }]
        : [];
    }),
    replies,
  };
}

/** The page's document, read from the sandboxes now. */
export function channelView(sources: ViewSources): ChannelView {
  const { slack, channel } = sources;
  const files = new Map(slack.files().map((file) => [file.id, file]));
  const rules = sources.destinationRules();
  const messages = slack.messages(channel.id).map((message) =>
    viewMessage(
      message,
      files,
      slack.replies(channel.id, message.ts).map((reply) => viewMessage(reply, files, [])),
    ),
  );
  return {
    channel,
    bot: { id: slack.identity.botUserId, name: slack.identity.botName },
    people: sources.people.map((person) => ({
      id: person.id,
      name: person.name,
      realName: person.realName ?? person.name,
      role: person.role,
    })),
    directory: {
      users: Object.fromEntries<string>([
        ...sources.people.map((person): [string, string] => [person.id, person.name]),
        [slack.identity.botUserId, slack.identity.botName],
      ]),
      groups: Object.fromEntries(sources.groups.map((group) => [group.id, group.handle])),
      channels: { [channel.id]: channel.name },
    },
    messages,
    ephemerals: slack
      .ephemerals({ channel: channel.id })
      .map((e) => ({ user: e.user, ts: e.ts, text: e.text, blocks: e.blocks ?? [] })),
    views: slack
      .views()
      .filter((view) => view.user !== undefined && !sources.closedViews.has(view.id))
      .map((view) => ({ id: view.id, user: view.user!, view: view.view })),
    virtualServices: sources.virtualServices().map((vs) => ({
      namespace: vs.metadata.namespace ?? "default",
      name: vs.metadata.name,
      routes: routeWeights(vs, subsetsFor(vs, rules)),
    })),
    ...(sources.mesh === undefined ? {} : { mesh: sources.mesh() }),
    analysis: sources.analysis,
    kubectl: sources.kubectl,
  };
}
