// The core in-process: events/s to 10 filtered subscribers next to a plain loop doing the
// obvious minimum, and memory per retained event.
import { Broker, eventInputSchema } from "../src/broker/mod.ts";
import { report } from "./clients/common.ts";

const gc = () => (globalThis as { Bun?: { gc(full: boolean): void } }).Bun?.gc(true) ?? (globalThis as { gc?: () => void }).gc?.();
const heapUsed = () => {
  gc();
  return process.memoryUsage().heapUsed;
};

const PATTERNS = Array.from({ length: 10 }, (_, i) => [i % 2 ? "order.*" : "order.filled", "trade.*"]);
const BATCH = Array.from({ length: 100 }, (_, i) => ({ type: i % 3 ? "order.filled" : "trade.done", source: "/bench", data: { order: "A-1042", qty: 3, px: 101.25 } }));

/** Events and deliveries per second of `round` (one batch), run for 2 s. */
function rate(round: () => number): { eventsPerSecond: number; deliveriesPerSecond: number } {
  let events = 0;
  let deliveries = 0;
  const started = performance.now();
  while (performance.now() - started < 2_000) {
    deliveries += round();
    events += BATCH.length;
  }
  const seconds = (performance.now() - started) / 1000;
  return { eventsPerSecond: Math.round(events / seconds), deliveriesPerSecond: Math.round(deliveries / seconds) };
}

function throughput(): { eventsPerSecond: number; deliveriesPerSecond: number } {
  const broker = new Broker({ historySize: 10_000, dedupeWindowMs: 0 });
  const subscribers = PATTERNS.map((types) => broker.subscribe({ kind: "stream", types }));
  const result = rate(() => {
    broker.sendBatch(BATCH);
    return subscribers.reduce((sum, sub) => sum + sub.read().length, 0);
  });
  broker.close();
  return result;
}

/** The baseline: validate each event with the same schema, serialize it, push it to every subscriber whose pattern matches. */
function plainLoop(): number {
  const matches = (pattern: string, type: string) => (pattern.endsWith(".*") ? type.startsWith(pattern.slice(0, -1)) : pattern === type);
  const inboxes = PATTERNS.map((patterns) => ({ patterns, events: [] as string[] }));
  let seq = 0;
  return rate(() => {
    for (const input of BATCH) {
      const event = eventInputSchema.parse(input);
      const json = JSON.stringify({ ...event, seq: ++seq });
      for (const inbox of inboxes) if (inbox.patterns.some((pattern) => matches(pattern, event.type))) inbox.events.push(json);
    }
    return inboxes.reduce((sum, inbox) => sum + inbox.events.splice(0).length, 0);
  }).eventsPerSecond;
}

function memoryPerEvent(): { bytesPerEvent: number; jsonBytes: number; ratio: number } {
  const count = 100_000;
  const broker = new Broker({ historySize: count, dedupeWindowMs: 0 });
  const before = heapUsed();
  for (let i = 0; i < count; i++) broker.send({ type: "order.filled", id: `o-${i}`, source: "/bench/producer", data: { order: "A-1042", qty: 3, px: 101.25 } });
  const after = heapUsed();
  const probe = broker.subscribe({ kind: "stream", since: count - 1 });
  const sample = probe.read()[0] as { json: string };
  const bytesPerEvent = Math.round((after - before) / count);
  broker.close();
  return { bytesPerEvent, jsonBytes: sample.json.length, ratio: Number((bytesPerEvent / sample.json.length).toFixed(2)) };
}

report({ ...throughput(), baselineEventsPerSecond: plainLoop(), ...memoryPerEvent() });
