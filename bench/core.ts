// The core in-process: events/s to 10 filtered subscribers, and memory per retained event.
import { Broker } from "../src/broker/mod.ts";
import { report } from "./clients/common.ts";

const gc = () => (globalThis as { Bun?: { gc(full: boolean): void } }).Bun?.gc(true) ?? (globalThis as { gc?: () => void }).gc?.();
const heapUsed = () => {
  gc();
  return process.memoryUsage().heapUsed;
};

function throughput(): { eventsPerSecond: number; deliveriesPerSecond: number } {
  const broker = new Broker({ historySize: 10_000, dedupeWindowMs: 0 });
  const subscribers = Array.from({ length: 10 }, (_, i) => broker.subscribe({ kind: "stream", types: [i % 2 ? "order.*" : "order.filled", "trade.*"] }));
  const batch = Array.from({ length: 100 }, (_, i) => ({ type: i % 3 ? "order.filled" : "trade.done", source: "/bench", data: { order: "A-1042", qty: 3, px: 101.25 } }));
  let events = 0;
  let deliveries = 0;
  const started = performance.now();
  while (performance.now() - started < 2_000) {
    broker.sendBatch(batch);
    events += batch.length;
    for (const sub of subscribers) deliveries += sub.read().length;
  }
  const seconds = (performance.now() - started) / 1000;
  broker.close();
  return { eventsPerSecond: Math.round(events / seconds), deliveriesPerSecond: Math.round(deliveries / seconds) };
}

function memoryPerEvent(): { bytesPerEvent: number; jsonBytes: number; ratio: number } {
  const count = 100_000;
  const broker = new Broker({ historySize: count, dedupeWindowMs: 0 });
  const before = heapUsed();
  for (let i = 0; i < count; i++) broker.send({ type: "order.filled", id: `o-${i}`, source: "/bench/producer", data: { order: "A-1042", qty: 3, px: 101.25 } });
  const after = heapUsed();
  const probe = broker.subscribe({ kind: "stream", since: count - 1 });
  const sample = probe.read()[0] as { json: Uint8Array };
  const bytesPerEvent = Math.round((after - before) / count);
  broker.close();
  return { bytesPerEvent, jsonBytes: sample.json.length, ratio: Number((bytesPerEvent / sample.json.length).toFixed(2)) };
}

report({ ...throughput(), ...memoryPerEvent() });
