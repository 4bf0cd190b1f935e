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
const COMMA = 0x2c;

/**
 * `{"events":[…]}` with each event's stored JSON and its `deliveries` count spliced in
 * before the closing brace, so no event is parsed or encoded again. Each event is copied
 * whole and its closing brace then overwritten by the tail, which ends with one.
 */
export function pullBody(deliveries: readonly Delivery[]): Uint8Array<ArrayBuffer> {
  const tails = deliveries.map(({ deliveries: count }) => utf8.encode(`,"deliveries":${count}}`));
  let size = OPEN.length + CLOSE.length - 1;
  deliveries.forEach(({ events }, unit) => {
    for (const event of events) size += event.json.length + tails[unit].length;
  });
  const body = new Uint8Array(Math.max(size, OPEN.length + CLOSE.length));
  body.set(OPEN);
  let offset = OPEN.length;
  deliveries.forEach(({ events }, unit) => {
    for (const event of events) {
      if (offset > OPEN.length) body[offset++] = COMMA;
      body.set(event.json, offset);
      offset += event.json.length - 1;
      body.set(tails[unit], offset);
      offset += tails[unit].length;
    }
  });
  body.set(CLOSE, offset);
  return body;
}
