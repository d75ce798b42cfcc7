import type { ServerResponse } from "node:http";
import type { KubeObject, ObjectStore, StoreEvent } from "./object-store.ts";
import { asTableIf, selection } from "./resource-handlers.ts";
import { groupVersion, type ResourceTarget } from "./resources.ts";

/** What a watch from a resourceVersion the server no longer keeps gets: a 410 Status as an ERROR event. */
function gone(since: string) {
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message: `too old resource version: ${since}`,
    reason: "Expired",
    code: 410,
  };
}

/** `?watch=true` (or 1): a long-lived list request that streams changes. */
export function isWatch(query: URLSearchParams): boolean {
  const value = query.get("watch");
  return value !== null && value !== "false" && value !== "0";
}

/**
 * Streams watch events as the API server does: one JSON `{type, object}` per line over a chunked response, for
 * the target's collection (or one name), filtered by label and field selectors. Without a resourceVersion (or "0")
 * the current objects come first as ADDED; with one, only later changes. `timeoutSeconds` ends the stream. With a
 * Table Accept header (`kubectl get -w`) each event's object is a one-row Table.
 */
export function serveWatch(
  store: ObjectStore,
  target: ResourceTarget,
  request: { query: URLSearchParams; accept?: string },
  response: ServerResponse,
): void {
  const { query } = request;
  const selected = selection(query); // throws 400 for a bad selector before anything is written
  const inScope = (object: KubeObject): boolean =>
    (target.namespace === undefined || object.metadata.namespace === target.namespace) &&
    (target.name === undefined || object.metadata.name === target.name) &&
    selected(object);
  const atVersion = (object: KubeObject): KubeObject => ({
    ...object,
    apiVersion: groupVersion(target.resource.group, target.version),
  });
  let first = true;
  const send = (type: StoreEvent["type"], object: KubeObject): void => {
    const shown = atVersion(object);
    const table = asTableIf(request, target, [shown], object.metadata.resourceVersion ?? store.revision);
    if (table !== undefined && !first) delete (table as { columnDefinitions?: unknown }).columnDefinitions;
    first = false;
    response.write(`${JSON.stringify({ type, object: table ?? shown })}\n`);
  };

  response.writeHead(200, { "Content-Type": "application/json", "Transfer-Encoding": "chunked" });
  // As the server does: the client learns the watch is open before any event (a client cancelling a watch that
  // never answered would otherwise hang in the round trip).
  response.flushHeaders();
  const since = query.get("resourceVersion");
  if (since === null || since === "" || since === "0") {
    for (const object of store.list(target.resource, target.namespace).filter(inScope)) send("ADDED", object);
  } else {
    // From a resourceVersion: what changed since then first (a list-then-watch misses nothing), or 410.
    const missed = store.eventsSince(Number(since));
    if (missed === undefined) {
      response.end(`${JSON.stringify({ type: "ERROR", object: gone(since) })}\n`);
      return;
    }
    for (const event of missed) {
      if (event.resource === target.resource && inScope(event.object)) send(event.type, event.object);
    }
  }
  const unsubscribe = store.subscribe((event) => {
    if (event.resource === target.resource && inScope(event.object)) send(event.type, event.object);
  });
  const end = (): void => {
    unsubscribe();
    clearTimeout(timer);
    response.end();
  };
  const seconds = Number(query.get("timeoutSeconds") ?? "");
  // The server's default is a random 30-60 min; clients re-watch when it ends.
  const timer = setTimeout(end, (Number.isFinite(seconds) && seconds > 0 ? seconds : 1800) * 1000);
  response.on("close", end);
}
