/** How subscriptions and pulled events look on the wire. */
import type { Delivery, Subscription } from "../src/broker/mod.ts";

/** A subscription and its counters, as `GET /subscriptions/{id}` shows it. */
export function subscriptionView(sub: Subscription) {
  const common = {
    id: sub.id,
    kind: sub.kind,
    types: sub.types,
    paused: sub.paused,
    created: new Date(sub.created).toISOString(),
    delivered: sub.delivered,
    dropped: sub.kind === "stream" ? sub.dropped : 0,
  };
  if (sub.kind === "stream") return { ...common, backlog: sub.buffered };
  return {
    ...common,
    name: sub.name,
    backlog: sub.backlog,
    ackedSeq: sub.ackedSeq,
    lastDeliveredSeq: sub.lastDeliveredSeq,
    redelivered: sub.redelivered,
    parked: sub.parkedCount,
    ackTimeoutMs: sub.options.ackTimeoutMs,
    maxBacklog: sub.options.maxBacklog,
    expireAfterMs: sub.options.expireAfterMs,
    maxDeliveries: sub.options.maxDeliveries,
  };
}

const utf8 = new TextEncoder();
const OPEN = utf8.encode('{"events":[');
const CLOSE = utf8.encode("]}");
const COMMA = utf8.encode(",");

/**
 * `{"events":[…]}` with each event's stored JSON and its `deliveries` count spliced in
 * before the closing brace, so no event is parsed or encoded again.
 */
export function pullBody(deliveries: readonly Delivery[]): Uint8Array<ArrayBuffer> {
  const parts: Uint8Array[] = [OPEN];
  for (const { events, deliveries: count } of deliveries) {
    const tail = utf8.encode(`,"deliveries":${count}}`);
    for (const event of events) {
      if (parts.length > 1) parts.push(COMMA);
      parts.push(event.json.subarray(0, event.json.length - 1), tail);
    }
  }
  parts.push(CLOSE);
  const body = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    body.set(part, offset);
    offset += part.length;
  }
  return body;
}
