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

/**
 * `{"events":[…]}` with each event's stored JSON and its `deliveries` count spliced in
 * before the closing brace, so no event is parsed or serialized again; the runtime
 * encodes the whole body once.
 */
export function pullBody(deliveries: readonly Delivery[]): string {
  const events: string[] = [];
  for (const { events: unit, deliveries: count } of deliveries) {
    const tail = `,"deliveries":${count}}`;
    for (const event of unit) events.push(event.json.slice(0, -1) + tail);
  }
  return `{"events":[${events.join(",")}]}`;
}
