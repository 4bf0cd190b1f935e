/** How subscriptions and pulled events look on the wire. */
import type { Delivery, MemoryPart, SubscriptionView } from "../src/broker/mod.ts";

/** A subscription and its counters, as `GET /subscriptions/{id}` shows it. */
export function subscriptionView(sub: SubscriptionView) {
  const common = {
    id: sub.id,
    kind: sub.kind,
    types: sub.types,
    filters: sub.filters,
    paused: sub.paused,
    created: new Date(sub.created).toISOString(),
    delivered: sub.delivered,
    dropped: sub.dropped,
    backlog: sub.backlog,
  };
  if (!sub.required) return common;
  const { name, ackedSeq, lastDeliveredSeq, redelivered, parked, ackTimeoutMs, maxBacklog, expireAfterMs, maxDeliveries } = sub.required;
  return { ...common, name, ackedSeq, lastDeliveredSeq, redelivered, parked, ackTimeoutMs, maxBacklog, expireAfterMs, maxDeliveries };
}

/** Answers up to this size are one string; larger ones are written a chunk of this size at a time. */
export const ANSWER_CHUNK_BYTES = 65_536;

/**
 * `{"events":[…]}` with each event's stored JSON and its `deliveries` count spliced in
 * before the closing brace, so no event is parsed or serialized again; the runtime
 * encodes the whole body once.
 */
export function pullBody(deliveries: readonly Delivery[]): string {
  return `{"events":[${splicedEvents(deliveries, 0, Infinity).parts.join(",")}]}`;
}

/**
 * The answer to a pull: `pullBody` when small; else a stream that splices a chunk at a
 * time, so a large answer never exists whole in memory, and what the runtime holds of it
 * (one chunk) is counted in `memory` until it asks for the next. `onAbandoned` runs when
 * the client goes away before the answer's end.
 */
export function eventsAnswer(deliveries: readonly Delivery[], memory: MemoryPart, onAbandoned = () => {}): string | ReadableStream<Uint8Array> {
  const bytes = deliveries.reduce((sum, delivery) => delivery.events.reduce((total, event) => total + event.size, sum), 0);
  if (bytes <= ANSWER_CHUNK_BYTES) return pullBody(deliveries);
  const utf8 = new TextEncoder();
  let position = { unit: 0, event: 0 };
  let held = 0;
  let ended = false;
  const letGo = () => {
    memory.release(held);
    held = 0;
  };
  return new ReadableStream<Uint8Array>({
    start: (controller) => controller.enqueue(utf8.encode('{"events":[')),
    pull: (controller) => {
      letGo();
      if (ended) return controller.close();
      const { parts, next } = splicedEvents(deliveries, position, ANSWER_CHUNK_BYTES);
      const last = next.unit >= deliveries.length;
      const text = (position.unit === 0 && position.event === 0 ? "" : ",") + parts.join(",") + (last ? "]}" : "");
      const chunk = utf8.encode(text);
      memory.take((held = chunk.length));
      position = next;
      ended = last;
      controller.enqueue(chunk);
    },
    cancel: () => {
      letGo();
      if (!ended) onAbandoned();
    },
  }, { highWaterMark: 0 });
}

/** Events from `from` on, each spliced with its delivery count, until `maxBytes` of them (at least one). */
function splicedEvents(deliveries: readonly Delivery[], from: { unit: number; event: number } | 0, maxBytes: number) {
  const parts: string[] = [];
  let bytes = 0;
  let { unit, event } = from === 0 ? { unit: 0, event: 0 } : from;
  for (; unit < deliveries.length; unit++, event = 0) {
    const { events, deliveries: count } = deliveries[unit];
    const tail = `,"deliveries":${count}}`;
    for (; event < events.length; event++) {
      if (parts.length > 0 && bytes + events[event].size > maxBytes) return { parts, next: { unit, event } };
      parts.push(events[event].json.slice(0, -1) + tail);
      bytes += events[event].size;
    }
  }
  return { parts, next: { unit, event: 0 } };
}
