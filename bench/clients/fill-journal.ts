// Fills a data directory as a long-running durable broker would leave it: `events` retained
// events of ~190 bytes, and `subscriptions` required subscriptions, each selecting one of 100
// types and owing what it selects of the last `owed` events (made just before them). Prints the directory's bytes and the events' JSON bytes.
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { settingsSchema } from "../../src/config.ts";
import { systemClock } from "../../src/broker/mod.ts";
import { Selector } from "../../src/broker/selector.ts";
import { openEngine } from "../../src/engines.ts";
import { arg, report } from "./common.ts";

const dir = arg(0, "/tmp/broker-fill");
const events = Number(arg(1, "1000000"));
const subscriptions = Number(arg(2, "1000"));
const owed = Number(arg(3, "100000"));
const settings = settingsSchema.parse({ dataDir: dir, maxBacklog: events, retainEvents: events, memoryBudgetBytes: 4 * 2 ** 30 });
const engine = await openEngine(settings, systemClock);
const publish = async (from: number, to: number) => {
  for (let seq = from; seq < to; seq += 1_000) {
    await engine.sendBatch(Array.from({ length: 1_000 }, (_, i) => ({ type: `bench.t${(seq + i) % 100}`, source: "/bench/fill", id: `f-${seq + i}`, data: { order: `A-${seq + i}`, qty: 3 } })));
  }
};
await publish(0, events - owed);
for (let i = 0; i < subscriptions; i += 100) {
  await engine.subscribeBatch(Array.from({ length: 100 }, (_, j) => ({ types: [`bench.t${(i + j) % 100}`], expireAfterMs: 0 })));
}
await publish(events - owed, events);
const sample = (await engine.read(0, 1_000, new Selector(["*"]))).events;
const jsonBytes = Math.round((sample.reduce((sum, event) => sum + event.size, 0) / sample.length) * events);
await engine.close();
const diskBytes = readdirSync(dir).reduce((sum, file) => sum + statSync(join(dir, file)).size, 0);
report({ events, subscriptions, owed, diskBytes, jsonBytes });
