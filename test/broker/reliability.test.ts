// Idempotent publishing, lease extension, nack and poison events.
import assert from "node:assert/strict";
import { test } from "node:test";
import { NeverDeliveredError, ValidationError } from "../../src/broker/mod.ts";
import { DedupeWindow } from "../../src/broker/dedupe-window.ts";
import { brokerOnFakeClock, seqsOf } from "../support/broker.ts";

test("an event whose (source, id) was accepted within the window is not accepted again", () => {
  const { broker, clock } = brokerOnFakeClock({ dedupeWindowMs: 1_000 });
  const stream = broker.subscribe({ kind: "stream" });
  assert.deepEqual(broker.send({ type: "a", source: "/p", id: "1" }), { accepted: 1, first: 1, last: 1 });
  assert.deepEqual(broker.send({ type: "a", source: "/p", id: "1" }), { accepted: 0, first: null, last: null, duplicates: 1, duplicateSeqs: [1] });
  assert.equal(broker.send({ type: "a", source: "/other", id: "1" }).accepted, 1, "another source is another event");
  assert.equal(broker.send({ type: "a" }).accepted, 1);
  assert.equal(stream.read().length, 3);
  clock.advance(1_000);
  assert.deepEqual(broker.send({ type: "a", source: "/p", id: "1" }), { accepted: 1, first: 4, last: 4 });
  broker.close();
});

test("a batch's duplicates are skipped, the rest accepted with consecutive seqs", () => {
  const { broker } = brokerOnFakeClock();
  broker.send({ type: "a", source: "/p", id: "x" });
  const result = broker.sendBatch([
    { type: "a", source: "/p", id: "y" },
    { type: "a", source: "/p", id: "x" },
    { type: "a", source: "/p", id: "y" },
    { type: "a", source: "/p", id: "z" },
  ]);
  assert.deepEqual(result, { accepted: 2, first: 2, last: 3, duplicates: 2, duplicateSeqs: [1, 2] });
  broker.close();
});

test("events without a producer id are never deduplicated", () => {
  const { broker } = brokerOnFakeClock();
  assert.equal(broker.sendBatch([{ type: "a" }, { type: "a" }]).accepted, 2);
  broker.close();
});

test("a refused publish remembers none of its ids", () => {
  const { broker } = brokerOnFakeClock();
  broker.subscribe({ kind: "required", maxBacklog: 1 });
  assert.throws(() => broker.sendBatch([{ type: "a", id: "1" }, { type: "a", id: "2" }]));
  assert.equal(broker.send({ type: "a", id: "1" }).accepted, 1);
  broker.close();
});

test("DedupeWindow holds at most maxEntries pairs, forgetting the oldest", () => {
  const window = new DedupeWindow(60_000, 3);
  const key = (id: number) => DedupeWindow.keyOf("/s", String(id));
  for (let i = 1; i <= 5; i++) window.remember(key(i), i, 0);
  assert.equal(window.size, 3);
  assert.equal(window.seqOf(key(1), 0), undefined);
  assert.equal(window.seqOf(key(5), 0), 5);
  assert.equal(window.seqOf(key(5), 60_000), undefined);
  assert.equal(window.size, 0);
});

test("DedupeWindow keys cannot collide across source and id boundaries", () => {
  assert.ok(!DedupeWindow.samePair(DedupeWindow.keyOf("/a", "b/c"), DedupeWindow.keyOf("/ab", "/c")));
  const window = new DedupeWindow(60_000, 10);
  window.remember(DedupeWindow.keyOf("/a", "b/c"), 1, 0);
  assert.equal(window.seqOf(DedupeWindow.keyOf("/ab", "/c"), 0), undefined);
  window.remember(DedupeWindow.keyOf("/s", "1"), 1, 0);
  window.remember(DedupeWindow.keyOf("/s", "1"), 7, 10);
  window.remember(DedupeWindow.keyOf("/s", "2"), 8, 20);
  assert.equal(window.seqOf(DedupeWindow.keyOf("/s", "1"), 30), 7, "the newest acceptance counts");
});

test("extend() keeps delivered events leased past ackTimeoutMs", async () => {
  const { broker, clock } = brokerOnFakeClock({ ackTimeoutMs: 1_000 });
  const sub = broker.subscribe({ kind: "required" });
  broker.send({ type: "a" });
  await broker.pull(sub.id);
  clock.advance(900);
  broker.extend(sub.id, 5_000);
  clock.advance(4_000);
  assert.deepEqual(await broker.pull(sub.id), []);
  clock.advance(1_000);
  assert.deepEqual(seqsOf(await broker.pull(sub.id)), [1]);
  assert.throws(() => broker.extend(sub.id, 0), ValidationError);
  broker.close();
});

test("nack() makes the next pull deliver again from that seq, splitting a batch", async () => {
  const { broker } = brokerOnFakeClock();
  const sub = broker.subscribe({ kind: "required" });
  broker.sendBatch([{ type: "a" }, { type: "a" }, { type: "a" }]);
  broker.send({ type: "a" });
  assert.deepEqual(seqsOf(await broker.pull(sub.id)), [1, 2, 3, 4]);
  broker.nack(sub.id, 2);
  const again = await broker.pull(sub.id);
  assert.deepEqual(seqsOf(again), [2, 3, 4]);
  assert.deepEqual(again.map((delivery) => delivery.deliveries), [2, 2]);
  assert.throws(() => broker.nack(sub.id, 5), NeverDeliveredError);
  broker.ack(sub.id, 4);
  broker.nack(sub.id, 1);
  assert.deepEqual(await broker.pull(sub.id), [], "nacking below the ack point is a no-op");
  broker.close();
});

test("nack() wakes a waiting pull", async () => {
  const { broker } = brokerOnFakeClock();
  const sub = broker.subscribe({ kind: "required" });
  broker.send({ type: "a" });
  await broker.pull(sub.id);
  const waiting = broker.pull(sub.id, { waitMs: 10_000 });
  broker.nack(sub.id, 1);
  assert.deepEqual(seqsOf(await waiting), [1]);
  broker.close();
});

test("an event delivered maxDeliveries times without ack is parked and the ack point moves past it", async () => {
  const { broker } = brokerOnFakeClock();
  const sub = broker.subscribe({ kind: "required", maxDeliveries: 2 });
  broker.send({ type: "poison" });
  broker.send({ type: "fine" });
  assert.deepEqual(seqsOf(await broker.pull(sub.id, { max: 1 })), [1]);
  broker.nack(sub.id, 1);
  const second = await broker.pull(sub.id, { max: 1 });
  assert.deepEqual([seqsOf(second), second[0].deliveries], [[1], 2]);
  broker.nack(sub.id, 1);
  assert.deepEqual(seqsOf(await broker.pull(sub.id, { max: 1 })), [2], "the poison event is skipped");
  assert.equal(sub.ackedSeq, 1);
  assert.equal(sub.parkedCount, 1);
  assert.equal(sub.backlog, 1);
  assert.deepEqual(sub.parked.map((parked) => [parked.event.seq, parked.deliveries]), [[1, 2]]);
  broker.close();
});

test("the parked list keeps only the newest maxParked events", async () => {
  const { broker, clock } = brokerOnFakeClock({ maxParked: 2, ackTimeoutMs: 10 });
  const sub = broker.subscribe({ kind: "required", maxDeliveries: 1 });
  broker.sendBatch([{ type: "a" }, { type: "a" }, { type: "a" }]);
  await broker.pull(sub.id);
  clock.advance(10);
  assert.deepEqual(await broker.pull(sub.id), []);
  assert.deepEqual(sub.parked.map((parked) => parked.event.seq), [2, 3]);
  assert.equal(sub.parkedCount, 3);
  assert.equal(sub.ackedSeq, 3);
  broker.close();
});

test("redelivered events are counted", async () => {
  const { broker, clock } = brokerOnFakeClock({ ackTimeoutMs: 10 });
  const sub = broker.subscribe({ kind: "required" });
  broker.sendBatch([{ type: "a" }, { type: "a" }]);
  await broker.pull(sub.id);
  clock.advance(10);
  await broker.pull(sub.id);
  assert.equal(sub.delivered, 4);
  assert.equal(sub.redelivered, 2);
  broker.close();
});

test("the rest of a batch split by nack is parked alone once delivered maxDeliveries times, and the ack point stays before it", async () => {
  const { broker } = brokerOnFakeClock();
  const sub = broker.subscribe({ kind: "required", maxDeliveries: 2 });
  broker.sendBatch([{ type: "a" }, { type: "a" }, { type: "a" }]);
  broker.send({ type: "a" });
  assert.deepEqual(seqsOf(await broker.pull(sub.id)), [1, 2, 3, 4]);
  broker.nack(sub.id, 2);
  assert.deepEqual(seqsOf(await broker.pull(sub.id)), [2, 3, 4]);
  broker.nack(sub.id, 2);
  assert.deepEqual(seqsOf(await broker.pull(sub.id)), [], "2-4 were delivered twice: parked, one unit per delivery");
  assert.deepEqual(sub.parked.map((parked) => parked.event.seq), [2, 3, 4]);
  assert.equal(sub.ackedSeq, 0, "seq 1 is still unacknowledged");
  assert.equal(sub.backlog, 1);
  broker.ack(sub.id, 1);
  assert.equal(sub.backlog, 0);
  assert.equal(sub.ackedSeq, 1);
  broker.send({ type: "a" });
  assert.deepEqual(seqsOf(await broker.pull(sub.id)), [5]);
  broker.close();
});
