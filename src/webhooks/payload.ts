import type { WebhookCall } from "../rollout/ports.ts";

/**
 * Flagger's request body (`CanaryWebhookPayload`): `name`, `namespace`, `phase`, `checksum`, and `metadata` left out
 * when empty. An event hook's metadata carries `eventMessage`, `eventType` and `timestamp` (unix ms, a string), with
 * the hook's own metadata added under keys those do not take, as Flagger does.
 */
export type FlaggerWebhookPayload = {
  name: string;
  namespace: string;
  phase: string;
  checksum: string;
  metadata?: Record<string, string>;
};

export function flaggerPayload(call: WebhookCall): FlaggerWebhookPayload {
  const own = call.hook.metadata ?? {};
  const metadata = call.event
    ? {
        ...own,
        eventMessage: call.event.message,
        eventType: call.event.type,
        timestamp: String(call.event.at),
      }
    : own;
  return {
    name: call.name,
    namespace: call.namespace,
    phase: call.phase,
    checksum: call.checksum,
    ...(Object.keys(metadata).length > 0 ? { metadata } : {}),
  };
}
