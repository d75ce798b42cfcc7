import { Watch } from "@kubernetes/client-node";
import { afterEach, describe, expect, it } from "vitest";
import { startKubeSandbox } from "../../../sandbox/kube/server.ts";
import type { KubeSandbox } from "../../../sandbox/kube/server.ts";
import { waitFor } from "../../support/engine.ts";
import { kubeClients } from "../../support/kube-sandbox.ts";

const VIRTUAL_SERVICES = "/apis/networking.istio.io/v1/namespaces/default/virtualservices";

describe("watches, with the real client-node Watch", () => {
  let sandbox: KubeSandbox | undefined;
  afterEach(async () => {
    await sandbox?.close();
  });

  it("lists what is there as ADDED, then streams changes and deletions, filtered by field selector", async () => {
    sandbox = await startKubeSandbox({ scenario: "bookinfo" });
    const events: string[] = [];
    const request = await new Watch(kubeClients(sandbox).config).watch(
      VIRTUAL_SERVICES,
      { fieldSelector: "metadata.name!=productpage" },
      (type: string, object: { metadata: { name: string } }) =>
        events.push(`${type} ${object.metadata.name}`),
      () => undefined,
    );
    try {
      await waitFor("the current objects", () => (events.length === 3 ? true : undefined));
      expect(events.sort()).toEqual(["ADDED details", "ADDED ratings", "ADDED reviews"]);
      const reviews = sandbox.get("VirtualService", "default", "reviews")!;
      sandbox.put({ ...reviews, metadata: { ...reviews.metadata, labels: { changed: "yes" } } });
      sandbox.delete("VirtualService", "default", "ratings");
      const productpage = sandbox.get("VirtualService", "default", "productpage")!;
      sandbox.put({ ...productpage, metadata: { ...productpage.metadata, labels: { changed: "yes" } } });
      await waitFor("the change and the deletion", () => (events.length === 5 ? true : undefined));
      expect(events.slice(3)).toEqual(["MODIFIED reviews", "DELETED ratings"]);
    } finally {
      request.abort();
    }
  });

  it("resumes from a resourceVersion with what changed since, and answers 410 for one it no longer keeps", async () => {
    sandbox = await startKubeSandbox({ scenario: "bookinfo" });
    const events: string[] = [];
    const list = (await kubeClients(sandbox).custom.listNamespacedCustomObject({
      group: "networking.istio.io",
      version: "v1",
      namespace: "default",
      plural: "virtualservices",
    })) as { metadata: { resourceVersion: string } };
    // Between the list and the watch: the watch must still report it.
    sandbox.delete("VirtualService", "default", "details");
    const watch = new Watch(kubeClients(sandbox).config);
    const record = (type: string, object: { metadata?: { name: string }; code?: number }) =>
      events.push(`${type} ${object.metadata?.name ?? object.code ?? ""}`);
    const request = await watch.watch(
      VIRTUAL_SERVICES,
      { resourceVersion: list.metadata.resourceVersion },
      record,
      () => undefined,
    );
    try {
      await waitFor("the deletion", () => (events.length > 0 ? true : undefined));
      sandbox.delete("VirtualService", "default", "ratings");
      await waitFor("a later deletion", () => (events.length > 1 ? true : undefined));
      expect(events).toEqual(["DELETED details", "DELETED ratings"]);
    } finally {
      request.abort();
    }
    events.length = 0;
    await watch.watch(VIRTUAL_SERVICES, { resourceVersion: "1" }, record, () => undefined);
    await waitFor("the error", () => (events.length > 0 ? true : undefined));
    expect(events).toEqual(["ERROR 410"]);
  });
});
