// The memory budget: every part counts what it holds, and a full part answers as documented.
import assert from "node:assert/strict";
import { test } from "node:test";
import { MemoryBudget, MemoryBudgetError, MemoryPart } from "../../src/broker/mod.ts";
import { EVENT_OVERHEAD_BYTES } from "../../src/broker/memory-budget.ts";
import { brokerOnFakeClock, seqsOf } from "../support/broker.ts";

const MiB = 1_048_576;
const payload = (bytes: number) => "x".repeat(bytes);

test("MemoryBudget splits its total into parts that add up to no more than it", () => {
  const budget = new MemoryBudget(100 * MiB);
  const parts = Object.values(budget.parts);
  assert.deepEqual(parts.map((part) => part.name).sort(), ["dedupe", "history", "pulls", "required", "streams"]);
  assert.ok(parts.reduce((sum, part) => sum + part.limit, 0) <= 100 * MiB);
  assert.ok(parts.every((part) => part.limit > 0 && part.used === 0));
});

test("a part holds exactly its limit, and not a byte more", () => {
  const part = new MemoryPart("pulls", 100);
  assert.ok(part.fits(100));
  assert.ok(!part.fits(101));
  assert.ok(part.tryTake(60));
  assert.ok(!part.tryTake(41), "41 more would pass the limit");
  assert.ok(part.tryTake(40), "40 more fill it exactly");
  assert.deepEqual([part.used, part.fits(1)], [100, false]);
  part.release(100);
  assert.deepEqual([part.used, part.peak], [0, 100]);
});

test("history forgets its oldest events once they pass its part of the budget, and resuming reports the gap", () => {
  const { broker } = brokerOnFakeClock({ memoryBudgetBytes: 10 * MiB, historySize: 10_000 });
  const history = broker.memory.parts.history;
  for (let i = 0; i < 100; i++) broker.send({ type: "big", data: payload(50_000) });
  assert.ok(history.used <= history.limit, `${history.used} > ${history.limit}`);
  assert.ok(history.used > history.limit - 60_000, "it keeps as much as fits");
  const stream = broker.subscribe({ kind: "stream", since: 0 });
  const [gap] = stream.read();
  assert.equal((gap as { kind: string }).kind, "gap");
  broker.close();
});

test("an event owed to many required subscriptions is counted once, plus a reference per subscription", () => {
  const { broker } = brokerOnFakeClock();
  const required = broker.memory.parts.required;
  for (let i = 0; i < 100; i++) broker.subscribe({ kind: "required" });
  broker.send({ type: "a", data: payload(1_000) });
  const event = broker.subscribe({ kind: "stream", since: 0 }).read()[0] as { size: number };
  assert.equal(required.used, event.size + EVENT_OVERHEAD_BYTES + 8 + 100 * 8, "the event and its unit's slot once, and a reference per subscription");
  broker.close();
});

test("a publish that would take required backlogs past their part is refused whole, naming the largest backlog", async () => {
  const { broker } = brokerOnFakeClock({ memoryBudgetBytes: 4 * MiB });
  const required = broker.memory.parts.required;
  const small = broker.subscribe({ kind: "required", types: ["a"] });
  const large = broker.subscribe({ kind: "required", types: ["*"] });
  broker.send({ type: "a" });
  let refused: unknown;
  for (let i = 0; i < 100 && !refused; i++) {
    try {
      broker.sendBatch([{ type: "b", data: payload(100_000) }, { type: "b", data: payload(100_000) }]);
    } catch (error) {
      refused = error;
    }
  }
  assert.ok(refused instanceof MemoryBudgetError, `refused with ${refused}`);
  assert.equal(refused.subscriptionId, large.id);
  const lastSeq = broker.lastSeq;
  assert.throws(() => broker.send({ type: "b", data: payload(200_000) }), MemoryBudgetError);
  assert.equal(broker.lastSeq, lastSeq, "nothing of a refused publish is accepted");
  assert.ok(required.used <= required.limit);
  assert.equal(seqsOf(await broker.pull(small.id)).length, 1, "events that fit were delivered");
  while (seqsOf(await broker.pull(large.id, { max: 10_000 })).length > 0);
  broker.ack(large.id, lastSeq);
  assert.equal(broker.send({ type: "b", data: payload(200_000) }).accepted, 1, "acknowledging makes room");
  broker.close();
});

test("acknowledging, parking and deleting give back what required subscriptions held", async () => {
  const { broker, clock } = brokerOnFakeClock({ maxParked: 1 });
  const required = broker.memory.parts.required;
  const acking = broker.subscribe({ kind: "required" });
  const parking = broker.subscribe({ kind: "required", maxDeliveries: 1, ackTimeoutMs: 10 });
  const deleted = broker.subscribe({ kind: "required" });
  broker.sendBatch([{ type: "a", data: 1 }, { type: "a", data: 2 }]);
  broker.send({ type: "a", data: 3 });
  assert.ok(required.used > 0);
  broker.ack(acking.id, seqsOf(await broker.pull(acking.id)).at(-1)!);
  await broker.pull(parking.id);
  clock.advance(10);
  assert.deepEqual(seqsOf(await broker.pull(parking.id)), [], "both units parked");
  assert.equal(parking.parked.length, 1, "only the newest parked event is kept");
  broker.unsubscribe(deleted.id);
  const heldByParked = required.used;
  assert.ok(heldByParked > 0 && heldByParked < 1_000, `${heldByParked} bytes: one parked event`);
  broker.unsubscribe(parking.id);
  assert.equal(required.used, 0);
  broker.close();
});

test("a pull hands out at most maxPullBytes of events, but never splits a batch", async () => {
  const { broker } = brokerOnFakeClock({ maxPullBytes: 250_000 });
  const sub = broker.subscribe({ kind: "required" });
  for (let i = 0; i < 5; i++) broker.send({ type: "a", data: payload(100_000) });
  broker.sendBatch([{ type: "a", data: payload(200_000) }, { type: "a", data: payload(200_000) }]);
  assert.deepEqual(seqsOf(await broker.pull(sub.id, { max: 10_000 })), [1, 2]);
  assert.deepEqual(seqsOf(await broker.pull(sub.id, { max: 10_000 })), [3, 4]);
  assert.deepEqual(seqsOf(await broker.pull(sub.id, { max: 10_000 })), [5]);
  assert.deepEqual(seqsOf(await broker.pull(sub.id, { max: 10_000 })), [6, 7], "a batch comes whole, over the bound");
  broker.close();
});

test("when the streams' part is spent, the buffers that waited longest are emptied to make room, and a reader that keeps up loses nothing", () => {
  const { broker } = brokerOnFakeClock({ memoryBudgetBytes: 4 * MiB });
  const streams = broker.memory.parts.streams;
  const stalled = Array.from({ length: 8 }, () => broker.subscribe({ kind: "stream" }));
  const keepingUp = broker.subscribe({ kind: "stream" });
  const received: number[] = [];
  for (let i = 0; i < 40; i++) {
    broker.send({ type: "a", data: payload(100_000) });
    assert.ok(streams.used <= streams.limit, `${streams.used} of ${streams.limit} bytes after event ${i + 1}`);
    const items = keepingUp.read();
    received.push(...items.map((item) => (item as { seq: number }).seq));
    keepingUp.handed(100);
  }
  assert.deepEqual(received, Array.from({ length: 40 }, (_, i) => i + 1), "the reader that keeps up got every event");
  for (const stream of stalled) {
    const items = stream.read();
    const dropped = items.filter((item) => "kind" in item).reduce((sum, item) => sum + (item as { count: number }).count, 0);
    const seqs = items.filter((item) => !("kind" in item)).map((item) => (item as { seq: number }).seq);
    assert.equal(dropped + seqs.length, 40, "every event is either buffered or reported dropped");
    assert.ok(dropped > 0);
  }
  broker.close();
});

test("what a stream's reader handed on is counted until it reads again, and release() gives everything back", () => {
  const { broker } = brokerOnFakeClock();
  const streams = broker.memory.parts.streams;
  const stream = broker.subscribe({ kind: "stream" });
  broker.send({ type: "a", data: payload(1_000) });
  const held = streams.used;
  assert.ok(held > 1_000);
  assert.equal(stream.read().length, 1);
  assert.equal(streams.used, 0, "read out of the buffer");
  stream.handed(5_000);
  assert.equal(broker.streamHandedBytes, 5_000);
  broker.send({ type: "a", data: payload(1_000) });
  assert.equal(streams.used, held);
  assert.equal(stream.read(0).length, 1, "at least one event, whatever the byte limit");
  assert.equal(broker.streamHandedBytes, 0, "reading again let go of what was handed");
  stream.handed(7);
  broker.send({ type: "a" });
  stream.release();
  assert.equal(streams.used, 0);
  assert.equal(broker.streamHandedBytes, 0);
  broker.close();
});

test("the dedupe window's memory is counted as it grows, and stays within its part however long the keys", () => {
  const { broker } = brokerOnFakeClock({ memoryBudgetBytes: 16 * MiB });
  const dedupe = broker.memory.parts.dedupe;
  const atStart = dedupe.used;
  assert.ok(atStart > 0 && atStart < dedupe.limit * 0.55, `${atStart} of ${dedupe.limit} at start: entries, and a small ring of keys`);
  for (let i = 0; i < 5_000; i++) broker.send({ type: "a", source: "/".padEnd(1_024, "s"), id: `${i}`.padStart(256, "0") });
  assert.ok(dedupe.used > atStart, "it grew for the keys");
  assert.ok(dedupe.used <= dedupe.limit + 2 * 1_280, `${dedupe.used} of ${dedupe.limit}`);
  assert.equal(broker.send({ type: "a", source: "/".padEnd(1_024, "s"), id: "4999".padStart(256, "0") }).duplicates, 1, "the newest pairs are remembered");
  broker.close();
});
