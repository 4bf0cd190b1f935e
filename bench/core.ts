// The core in-process, no HTTP: events/s to 10 filtered subscribers next to a plain loop
// doing the obvious minimum; row 2's work without HTTP, to show how much of its ratio
// encoding alone takes; and memory per retained event.
import { Broker, eventInputSchema } from "../src/broker/mod.ts";
import { eventsJson, report } from "./clients/common.ts";

const gc = () => (globalThis as { Bun?: { gc(full: boolean): void } }).Bun?.gc(true) ?? (globalThis as { gc?: () => void }).gc?.();
/** The JavaScript heap after a full collection, without array buffers (Bun counts them in heapUsed then, Deno does not). */
const heapUsed = () => {
  gc();
  const { heapUsed, external } = process.memoryUsage();
  return "Bun" in globalThis ? heapUsed - external : heapUsed;
};

const TURNS = 3;
const TURN_MS = 1_000;
const PATTERNS = Array.from({ length: 10 }, (_, i) => [i % 2 ? "order.*" : "order.filled", "trade.*"]);
const BATCH = Array.from({ length: 100 }, (_, i) => ({ type: i % 3 ? "order.filled" : "trade.done", source: "/bench", data: { order: "A-1042", qty: 3, px: 101.25 } }));

/** One round of a loop under test: does its work and says how many events it handled. */
type Round = () => number;

/** Events per second of `round` run for `ms`. */
function rate(round: Round, ms: number): number {
  let events = 0;
  const started = performance.now();
  while (performance.now() - started < ms) events += round();
  return events / ((performance.now() - started) / 1000);
}

/**
 * Each round warmed up, then timed in turns, alternately, and the median of its turns:
 * whichever ran first would otherwise pay for compiling the code they share (Zod), and a
 * slow spell of the machine would fall on one of them only.
 */
function alternate<K extends string>(rounds: Record<K, Round>): { medians: Record<K, number>; turns: Record<K, number[]> } {
  const entries = Object.entries(rounds) as [K, Round][];
  for (const [, round] of entries) rate(round, TURN_MS / 2);
  const turns = Object.fromEntries(entries.map(([name]) => [name, [] as number[]])) as Record<K, number[]>;
  for (let turn = 0; turn < TURNS; turn++) for (const [name, round] of entries) turns[name].push(Math.round(rate(round, TURN_MS)));
  const medians = Object.fromEntries(entries.map(([name]) => [name, median(turns[name])])) as Record<K, number>;
  return { medians, turns };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** Row 6: `sendBatch` to 10 filtered stream subscribers, drained each round; counts what they read. */
function fanOutRound(broker: Broker, counts: { events: number; deliveries: number }): Round {
  const subscribers = PATTERNS.map((types) => broker.subscribe({ kind: "stream", types }));
  return () => {
    broker.sendBatch(BATCH);
    for (const sub of subscribers) counts.deliveries += sub.read().length;
    counts.events += BATCH.length;
    return BATCH.length;
  };
}

/** Row 6's baseline: validate each event with the same schema, serialize it, push it to every subscriber whose pattern matches. */
function plainLoopRound(): Round {
  const matches = (pattern: string, type: string) => (pattern.endsWith(".*") ? type.startsWith(pattern.slice(0, -1)) : pattern === type);
  const inboxes = PATTERNS.map((patterns) => ({ patterns, events: [] as string[] }));
  let seq = 0;
  return () => {
    for (const input of BATCH) {
      const event = eventInputSchema.parse(input);
      const json = JSON.stringify({ ...event, seq: ++seq });
      for (const inbox of inboxes) if (inbox.patterns.some((pattern) => matches(pattern, event.type))) inbox.events.push(json);
    }
    for (const inbox of inboxes) inbox.events.length = 0;
    return BATCH.length;
  };
}

/**
 * Row 2 without HTTP: each round parses a body of 100 bench events (unique ids, as `wrk`
 * sends them) and then validates them (the bare app's work), validates and encodes each
 * once, or hands them to `sendBatch` with the server's defaults.
 */
function publishRounds(broker: Broker): Record<"validate" | "validateEncode" | "sendBatch", Round> {
  // Built ahead, not timed. More events than the dedupe window holds (100,000), so each
  // body's ids are forgotten before it comes round again: every event is new to the broker.
  const bodies = Array.from({ length: 1_100 }, (_, i) => eventsJson("order.filled", 100, `b${i}`, '{"order":"A-1042","qty":3,"px":101.25}'));
  // Each round its own turn through them, so sendBatch sees them all before any again.
  const nextBody = () => {
    let batch = 0;
    return () => bodies[batch++ % bodies.length];
  };
  const validate = (encode: boolean, body = nextBody()) => () => {
    const events = JSON.parse(body()) as unknown[];
    for (const event of events) {
      const result = eventInputSchema.safeParse(event);
      if (encode && result.success) JSON.stringify(result.data);
    }
    return events.length;
  };
  const body = nextBody();
  const sendBatch = () => {
    const { accepted } = broker.sendBatch(JSON.parse(body()));
    if (accepted !== 100) throw new Error(`a batch came round while its ids were still remembered (${accepted} accepted)`);
    return accepted;
  };
  return { validate: validate(false), validateEncode: validate(true), sendBatch };
}

function memoryPerEvent(): { bytesPerEvent: number; jsonBytes: number; ratio: number } {
  const count = 100_000;
  const broker = new Broker({ historySize: count, dedupeWindowMs: 0 });
  // The history keeps events as bytes, in a buffer outside the heap: what it allocated is counted beside the heap's growth.
  const held = () => heapUsed() + broker.memory.parts.history.used;
  const before = held();
  for (let i = 0; i < count; i++) broker.send({ type: "order.filled", id: `o-${i}`, source: "/bench/producer", data: { order: "A-1042", qty: 3, px: 101.25 } });
  const after = held();
  const probe = broker.subscribe({ kind: "stream", since: count - 1 });
  const sample = probe.read()[0] as { json: string };
  const bytesPerEvent = Math.round((after - before) / count);
  broker.close();
  return { bytesPerEvent, jsonBytes: sample.json.length, ratio: Number((bytesPerEvent / sample.json.length).toFixed(2)) };
}

/**
 * Row 8: the longest a publish holds the event loop within the defaults: a batch of
 * `maxBatch` (1,000) events of 1,000 types to `maxRequired` (10,000) required
 * subscriptions, or to 10,000 streams, each set up so that every event reaches every one
 * of them through another bucket; next to the same batch with nobody subscribed.
 */
function worstFanOut(): { requiredMs: number; streamsMs: number; aloneMs: number } {
  const batch = Array.from({ length: 1_000 }, (_, i) => ({ type: `t.${i}`, data: { i } }));
  const publishMs = (kind?: "required" | "stream") => {
    const broker = new Broker({ maxStreams: 10_000 });
    for (let i = 0; kind && i < 10_000; i++) broker.subscribe({ kind, types: i < 1_000 ? [`t.${i}`, "u.*"] : ["t.*"], ...(kind === "required" ? { expireAfterMs: 0 } : {}) });
    const times: number[] = [];
    for (let round = 0; round < 5; round++) {
      const started = performance.now();
      broker.sendBatch(batch);
      times.push(performance.now() - started);
      for (const sub of broker.list()) if (sub.kind === "stream") sub.read();
    }
    broker.close();
    return Number(median(times).toFixed(1));
  };
  return { requiredMs: publishMs("required"), streamsMs: publishMs("stream"), aloneMs: publishMs() };
}

const fanOutBroker = new Broker({ historySize: 10_000, dedupeWindowMs: 0 });
const counts = { events: 0, deliveries: 0 };
const { medians: fanOut, turns: fanOutTurns } = alternate({ broker: fanOutRound(fanOutBroker, counts), plainLoop: plainLoopRound() });
fanOutBroker.close();
const publishBroker = new Broker(); // the server's defaults: dedupe window and history on
const publish = alternate(publishRounds(publishBroker));
publishBroker.close();
report({
  eventsPerSecond: fanOut.broker,
  deliveriesPerSecond: Math.round((fanOut.broker * counts.deliveries) / counts.events),
  baselineEventsPerSecond: fanOut.plainLoop,
  turnRatios: fanOutTurns.broker.map((rate, turn) => rate / fanOutTurns.plainLoop[turn]),
  publish: { ...publish.medians, turnRatios: publish.turns.sendBatch.map((rate, turn) => rate / publish.turns.validate[turn]) },
  ...memoryPerEvent(),
  worstFanOut: worstFanOut(),
});
