import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import {
  NeverDeliveredError,
  BacklogFullError,
  BatchTooLargeError,
  BrokerClosedError,
  isNotice,
  NotRequiredError,
  SubscriptionNotFoundError,
  TooManySubscriptionsError,
  ValidationError,
} from "../../src/broker/mod.ts";
import { utf8Bytes } from "../../src/broker/event.ts";
import { brokerOnFakeClock, parsed, seqsOf } from "../support/broker.ts";

test("send() assigns seqs from 1, strictly increasing", () => {
  const { broker } = brokerOnFakeClock();
  assert.deepEqual(broker.send({ type: "a" }), { accepted: 1, first: 1, last: 1 });
  assert.deepEqual(broker.send({ type: "b" }), { accepted: 1, first: 2, last: 2 });
  assert.deepEqual(broker.sendBatch([{ type: "a" }, { type: "b" }, { type: "c" }]), { accepted: 3, first: 3, last: 5 });
  assert.equal(broker.lastSeq, 5);
  broker.close();
});

test("send() applies the defaults: generated id, source /, time now, seq in the JSON", () => {
  const { broker } = brokerOnFakeClock();
  const stream = broker.subscribe({ kind: "stream" });
  broker.send({ type: "order.filled", data: { qty: 3 } });
  const [event] = stream.read();
  assert.ok(!isNotice(event));
  assert.deepEqual(parsed(event), {
    specversion: "1.0",
    id: "id-2",
    source: "/",
    type: "order.filled",
    time: "2026-11-28T15:00:00.000Z",
    datacontenttype: "application/json",
    seq: 1,
    data: { qty: 3 },
  });
  broker.close();
});

test("send() keeps the producer's id, source, time and extension attributes", () => {
  const { broker } = brokerOnFakeClock();
  const stream = broker.subscribe({ kind: "stream" });
  broker.send({ specversion: "1.0", type: "t", id: "e-1", source: "/shop", time: "2020-01-01T00:00:00Z", traceparent: "00-ab", seq: 999 });
  const event = parsed(stream.read()[0] as { json: string });
  assert.equal(event.id, "e-1");
  assert.equal(event.source, "/shop");
  assert.equal(event.time, "2020-01-01T00:00:00Z");
  assert.equal(event.traceparent, "00-ab");
  assert.equal(event.seq, 1, "a producer's seq is ignored");
  broker.close();
});

test("send() encodes the CloudEvent attributes first, then extensions, seq, and the data last", () => {
  const { broker } = brokerOnFakeClock();
  const stream = broker.subscribe({ kind: "stream" });
  const hostile = 'x","seq":0,"y":"\\"seq\\":0';
  broker.send({ data_base64: "AAE=", subject: hostile, type: "t", id: "e-1", source: "/s", time: "2020-01-01T00:00:00Z", seq: 7, traceparent: "00-ab", deliveries: 3 });
  broker.send({ type: "t", id: "e-2", source: "/s", time: "2020-01-01T00:00:00Z", data: { n: [1, "2"] } });
  const [first, second] = stream.read().map((item) => (item as { json: string }).json);
  assert.equal(first, `{"specversion":"1.0","id":"e-1","source":"/s","type":"t","time":"2020-01-01T00:00:00Z","subject":${JSON.stringify(hostile)},"traceparent":"00-ab","seq":1,"data_base64":"AAE="}`);
  assert.equal(second, '{"specversion":"1.0","id":"e-2","source":"/s","type":"t","time":"2020-01-01T00:00:00Z","datacontenttype":"application/json","seq":2,"data":{"n":[1,"2"]}}');
  broker.close();
});

test("data the runtime cannot encode refuses the whole batch, naming the event's /data by its index in the request", () => {
  const { broker } = brokerOnFakeClock();
  const stream = broker.subscribe({ kind: "stream" });
  broker.send({ type: "t", source: "/p", id: "seen" });
  // Nested without end, so neither runtime encodes it: how deep a finite nesting encodes differs by runtime and, on V8, by the event's other strings.
  const data: unknown[] = [];
  data.push(data);
  assert.throws(() => broker.sendBatch([{ type: "t", source: "/p", id: "seen" }, { type: "t", source: "/p", id: "new" }, { type: "t", data }]), (error: ValidationError) => {
    assert.deepEqual(error.issues.map((issue) => issue.path), ["/2/data"], "the duplicate before it still counts in the index");
    return true;
  });
  assert.equal(broker.lastSeq, 1, "nothing is accepted");
  assert.equal(stream.read().length, 1, "nothing is delivered");
  assert.deepEqual(broker.send({ type: "t", source: "/p", id: "new" }), { accepted: 1, first: 2, last: 2 }, "nothing is remembered as seen");
  broker.close();
});

test("send() refuses an invalid event, naming each bad field, and accepts nothing", () => {
  const { broker } = brokerOnFakeClock();
  assert.throws(() => broker.send({ type: "has space", time: "yesterday", Bad: 1 }), (thrown: ValidationError) => {
    const paths = thrown.issues.map((issue) => issue.path).sort();
    assert.deepEqual(paths, ["/Bad", "/time", "/type"]);
    return true;
  });
  assert.throws(() => broker.send(null), ValidationError);
  assert.throws(() => broker.send({ data: 1 }), ValidationError);
  assert.equal(broker.lastSeq, 0);
  broker.close();
});

test("sendBatch() is atomic: one bad event refuses the batch, with the event's index in the path", () => {
  const { broker } = brokerOnFakeClock();
  const stream = broker.subscribe({ kind: "stream" });
  assert.throws(() => broker.sendBatch([{ type: "ok" }, { type: "" }]), (error: ValidationError) => {
    assert.equal(error.issues[0].path, "/1/type");
    return true;
  });
  assert.equal(broker.lastSeq, 0);
  assert.deepEqual(stream.read(), []);
  broker.close();
});

test("sendBatch() refuses an empty batch and one over maxBatch", () => {
  const { broker } = brokerOnFakeClock({ maxBatch: 2 });
  assert.throws(() => broker.sendBatch([]), ValidationError);
  assert.throws(() => broker.sendBatch([{ type: "a" }, { type: "a" }, { type: "a" }]), BatchTooLargeError);
  assert.equal(broker.lastSeq, 0);
  broker.close();
});

test("sendBatch() routes each event by its own type, not the batch's first", () => {
  const { broker } = brokerOnFakeClock();
  const orders = broker.subscribe({ kind: "required", types: ["order.*"] });
  const trades = broker.subscribe({ kind: "stream", types: ["trade"] });
  broker.sendBatch([{ type: "order.new" }, { type: "trade" }, { type: "order.filled" }, { type: "other" }]);
  return broker.pull(orders.id).then((deliveries) => {
    assert.deepEqual(seqsOf(deliveries), [1, 3]);
    assert.deepEqual(trades.read().map((item) => ("seq" in item ? item.seq : item.kind)), [2]);
    broker.close();
  });
});

test("a required subscriber gets a batch's events as one delivery, in seq order", async () => {
  const { broker } = brokerOnFakeClock();
  const sub = broker.subscribe({ kind: "required" });
  broker.send({ type: "a" });
  broker.sendBatch([{ type: "b" }, { type: "c" }, { type: "d" }]);
  const deliveries = await broker.pull(sub.id, { max: 100 });
  assert.equal(deliveries.length, 2);
  assert.deepEqual(deliveries.map((delivery) => delivery.events.length), [1, 3]);
  assert.deepEqual(seqsOf(deliveries), [1, 2, 3, 4]);
  broker.close();
});

test("pull() never splits a batch, even one larger than max", async () => {
  const { broker } = brokerOnFakeClock();
  const sub = broker.subscribe({ kind: "required" });
  broker.sendBatch([{ type: "a" }, { type: "a" }, { type: "a" }]);
  broker.send({ type: "b" });
  assert.deepEqual(seqsOf(await broker.pull(sub.id, { max: 2 })), [1, 2, 3]);
  assert.deepEqual(seqsOf(await broker.pull(sub.id, { max: 2 })), [4]);
  broker.close();
});

test("a required subscriber sees only events accepted after it was created", async () => {
  const { broker } = brokerOnFakeClock();
  broker.send({ type: "a" });
  const sub = broker.subscribe({ kind: "required" });
  broker.send({ type: "a" });
  assert.deepEqual(seqsOf(await broker.pull(sub.id)), [2]);
  broker.close();
});

test("ack() is cumulative, and acking below the ack point is a no-op", async () => {
  const { broker } = brokerOnFakeClock();
  const sub = broker.subscribe({ kind: "required" });
  for (let i = 0; i < 5; i++) broker.send({ type: "a" });
  await broker.pull(sub.id);
  broker.ack(sub.id, 3);
  assert.equal(sub.ackedSeq, 3);
  assert.equal(sub.backlog, 2);
  broker.ack(sub.id, 1);
  assert.equal(sub.ackedSeq, 3);
  assert.equal(sub.backlog, 2);
  broker.close();
});

test("ack() of a seq never delivered throws NeverDeliveredError and changes nothing", async () => {
  const { broker } = brokerOnFakeClock();
  const sub = broker.subscribe({ kind: "required" });
  broker.send({ type: "a" });
  broker.send({ type: "a" });
  await broker.pull(sub.id, { max: 1 });
  assert.throws(() => broker.ack(sub.id, 2), NeverDeliveredError);
  assert.equal(sub.ackedSeq, 0);
  assert.equal(sub.backlog, 2);
  broker.close();
});

test("ack() inside a batch keeps the rest of the batch for redelivery", async () => {
  const { broker, clock } = brokerOnFakeClock({ ackTimeoutMs: 100 });
  const sub = broker.subscribe({ kind: "required" });
  broker.sendBatch([{ type: "a" }, { type: "a" }, { type: "a" }]);
  await broker.pull(sub.id);
  broker.ack(sub.id, 2);
  clock.advance(100);
  const again = await broker.pull(sub.id);
  assert.deepEqual(seqsOf(again), [3]);
  assert.equal(again[0].deliveries, 2);
  broker.close();
});

test("pull() with ack acknowledges first, then pulls", async () => {
  const { broker } = brokerOnFakeClock();
  const sub = broker.subscribe({ kind: "required" });
  broker.send({ type: "a" });
  await broker.pull(sub.id);
  broker.send({ type: "a" });
  assert.deepEqual(seqsOf(await broker.pull(sub.id, { ack: 1 })), [2]);
  assert.equal(sub.ackedSeq, 1);
  broker.close();
});

test("a lapsed lease makes the next pull deliver again from the first unacked event", async () => {
  const { broker, clock } = brokerOnFakeClock({ ackTimeoutMs: 1_000 });
  const sub = broker.subscribe({ kind: "required" });
  broker.send({ type: "a" });
  broker.send({ type: "a" });
  assert.deepEqual(seqsOf(await broker.pull(sub.id, { max: 1 })), [1]);
  assert.deepEqual(seqsOf(await broker.pull(sub.id, { max: 1 })), [2]);
  clock.advance(999);
  assert.deepEqual(seqsOf(await broker.pull(sub.id)), [], "leases still held");
  clock.advance(1);
  const again = await broker.pull(sub.id);
  assert.deepEqual(seqsOf(again), [1, 2]);
  assert.deepEqual(again.map((delivery) => delivery.deliveries), [2, 2]);
  broker.close();
});

test("a waiting pull is answered when a lease lapses", async () => {
  const { broker, clock } = brokerOnFakeClock({ ackTimeoutMs: 500 });
  const sub = broker.subscribe({ kind: "required" });
  broker.send({ type: "a" });
  await broker.pull(sub.id);
  const waiting = broker.pull(sub.id, { waitMs: 10_000 });
  clock.advance(500);
  assert.deepEqual(seqsOf(await waiting), [1]);
  broker.close();
});

test("a waiting pull is answered by the next matching event", async () => {
  const { broker } = brokerOnFakeClock();
  const sub = broker.subscribe({ kind: "required", types: ["b"] });
  const waiting = broker.pull(sub.id, { waitMs: 10_000 });
  broker.send({ type: "a" });
  broker.send({ type: "b" });
  assert.deepEqual(seqsOf(await waiting), [2]);
  broker.close();
});

test("a waiting pull answers with no events when waitMs passes, or its signal aborts", async () => {
  const { broker, clock } = brokerOnFakeClock();
  const sub = broker.subscribe({ kind: "required" });
  const waiting = broker.pull(sub.id, { waitMs: 2_000 });
  let answered = false;
  waiting.then(() => (answered = true));
  clock.advance(1_999);
  await Promise.resolve();
  assert.equal(answered, false);
  clock.advance(1);
  assert.deepEqual(await waiting, []);
  const controller = new AbortController();
  const aborted = broker.pull(sub.id, { waitMs: 2_000, signal: controller.signal });
  controller.abort();
  assert.deepEqual(await aborted, []);
  assert.equal(sub.waiters.length, 0);
  broker.close();
});

test("a publish that would overflow a required backlog is refused whole", async () => {
  const { broker } = brokerOnFakeClock();
  const sub = broker.subscribe({ kind: "required", types: ["a"], maxBacklog: 3 });
  const stream = broker.subscribe({ kind: "stream" });
  broker.sendBatch([{ type: "a" }, { type: "a" }]);
  assert.throws(() => broker.sendBatch([{ type: "b" }, { type: "a" }, { type: "a" }]), (error: BacklogFullError) => {
    assert.equal(error.subscriptionId, sub.id);
    return true;
  });
  assert.equal(broker.lastSeq, 2);
  assert.equal(stream.read().length, 2, "the stream saw nothing of the refused batch");
  broker.send({ type: "b" });
  await broker.pull(sub.id);
  broker.ack(sub.id, 2);
  assert.deepEqual(broker.sendBatch([{ type: "a" }, { type: "a" }, { type: "a" }]), { accepted: 3, first: 4, last: 6 });
  broker.close();
});

test("a paused subscriber is skipped: what is accepted meanwhile never reaches it", async () => {
  const { broker } = brokerOnFakeClock();
  const sub = broker.subscribe({ kind: "required" });
  const stream = broker.subscribe({ kind: "stream" });
  broker.send({ type: "a" });
  broker.setPaused(sub.id, true);
  broker.setPaused(stream.id, true);
  broker.send({ type: "a" });
  broker.setPaused(sub.id, false);
  broker.setPaused(stream.id, false);
  broker.send({ type: "a" });
  assert.deepEqual(seqsOf(await broker.pull(sub.id)), [1, 3]);
  assert.deepEqual(stream.read().map((item) => ("seq" in item ? item.seq : 0)), [1, 3]);
  broker.close();
});

test("a paused required subscriber does not hold back publishers", () => {
  const { broker } = brokerOnFakeClock();
  const sub = broker.subscribe({ kind: "required", maxBacklog: 1 });
  broker.setPaused(sub.id, true);
  broker.sendBatch([{ type: "a" }, { type: "a" }]);
  assert.equal(broker.lastSeq, 2);
  broker.close();
});

test("a required subscriber neither pulled nor acked for expireAfterMs is removed", async () => {
  const { broker, clock } = brokerOnFakeClock({ expireAfterMs: 5_000 });
  const idle = broker.subscribe({ kind: "required" });
  const busy = broker.subscribe({ kind: "required" });
  const forever = broker.subscribe({ kind: "required", expireAfterMs: 0 });
  broker.send({ type: "a" });
  clock.advance(3_000);
  await broker.pull(busy.id);
  clock.advance(3_000);
  assert.throws(() => broker.get(idle.id), SubscriptionNotFoundError);
  assert.equal(broker.get(busy.id), busy);
  assert.equal(broker.get(forever.id), forever);
  assert.equal(idle.backlog, 0, "its backlog is released");
  broker.close();
});

test("a subscriber waiting in a pull does not expire", () => {
  const { broker, clock } = brokerOnFakeClock({ expireAfterMs: 1_000, maxWaitMs: 60_000 });
  const sub = broker.subscribe({ kind: "required" });
  void broker.pull(sub.id, { waitMs: 30_000 });
  clock.advance(20_000);
  assert.equal(broker.get(sub.id), sub);
  broker.close();
});

test("a stream drops events when its buffer is full, counts them, and reports them in order", () => {
  const { broker } = brokerOnFakeClock({ streamBuffer: 2 });
  const slow = broker.subscribe({ kind: "stream" });
  const fast = broker.subscribe({ kind: "stream" });
  for (let i = 0; i < 5; i++) {
    broker.send({ type: "a" });
    assert.equal(fast.read().length, 1);
  }
  assert.equal(slow.dropped, 3);
  const items = slow.read();
  assert.deepEqual(items.map((item) => ("seq" in item ? item.seq : item)), [1, 2, { kind: "dropped", count: 3, from: 3, to: 5 }]);
  assert.equal(fast.dropped, 0);
  broker.close();
});

test("a stream's byte bound drops too", () => {
  const { broker } = brokerOnFakeClock({ streamBufferBytes: 300 });
  const stream = broker.subscribe({ kind: "stream" });
  broker.send({ type: "a", data: "x".repeat(150) });
  broker.send({ type: "a", data: "x".repeat(150) });
  assert.equal(stream.dropped, 1);
  broker.close();
});

test("a stream's byte bound counts the UTF-8 bytes of each event's JSON, not its characters", () => {
  const dropsWithin = (streamBufferBytes: number) => {
    const { broker } = brokerOnFakeClock({ streamBufferBytes });
    const stream = broker.subscribe({ kind: "stream" });
    broker.send({ type: "a", id: "e", source: "/", time: "2020-01-01T00:00:00Z", data: "€😀é" });
    const dropped = stream.dropped;
    broker.close();
    return dropped;
  };
  const json = '{"specversion":"1.0","id":"e","source":"/","type":"a","time":"2020-01-01T00:00:00Z","datacontenttype":"application/json","seq":1,"data":"€😀é"}';
  const bytes = new TextEncoder().encode(json).length;
  assert.equal(bytes, json.length + 2 + 2 + 1); // € 3 bytes in 1 unit, 😀 4 in 2, é 2 in 1
  assert.equal(dropsWithin(bytes), 0);
  assert.equal(dropsWithin(bytes - 1), 1);
});

test("utf8Bytes() is the length of the event's JSON in UTF-8, whatever it holds and however long", () => {
  const agrees = (json: string) => assert.equal(utf8Bytes(json), new TextEncoder().encode(json).length);
  fc.assert(fc.property(fc.string({ unit: "binary" }), (text) => agrees(JSON.stringify({ data: text }))), { numRuns: 500 });
  fc.assert(fc.property(fc.string({ unit: "binary", minLength: 1, maxLength: 4 }), (text) => agrees(JSON.stringify({ data: text.repeat(40_000) }))), { numRuns: 20 });
});

test("a stream resumed with since replays kept history, then continues live without duplicates", () => {
  const { broker } = brokerOnFakeClock();
  for (let i = 0; i < 5; i++) broker.send({ type: i % 2 ? "odd" : "even" });
  const stream = broker.subscribe({ kind: "stream", types: ["even"], since: 1 });
  broker.send({ type: "even" });
  const seqs: number[] = [];
  for (let items = stream.read(); items.length > 0; items = stream.read()) {
    for (const item of items) if (!isNotice(item)) seqs.push(item.seq);
  }
  assert.deepEqual(seqs, [3, 5, 6]);
  broker.close();
});

test("a stream resumed past the kept history gets a gap notice first", () => {
  const { broker } = brokerOnFakeClock({ historySize: 3 });
  for (let i = 0; i < 10; i++) broker.send({ type: "a" });
  const stream = broker.subscribe({ kind: "stream", since: 2 });
  const items = stream.read();
  assert.deepEqual(items[0], { kind: "gap", from: 3, to: 7 });
  assert.deepEqual(items.slice(1).map((item) => ("seq" in item ? item.seq : 0)), [8, 9, 10]);
  broker.close();
});

test("unsubscribe() closes a stream with a closing notice after what it buffered", () => {
  const { broker } = brokerOnFakeClock();
  const stream = broker.subscribe({ kind: "stream" });
  broker.send({ type: "a" });
  assert.equal(broker.unsubscribe(stream.id), true);
  broker.send({ type: "a" });
  const items = stream.read();
  assert.deepEqual(items.map((item) => ("seq" in item ? item.seq : item)), [1, { kind: "closing", reason: "deleted" }]);
  assert.equal(stream.finished, true);
  assert.equal(broker.unsubscribe(stream.id), false);
  broker.close();
});

test("unsubscribe() answers a required subscriber's waiting pull", async () => {
  const { broker } = brokerOnFakeClock();
  const sub = broker.subscribe({ kind: "required" });
  const waiting = broker.pull(sub.id, { waitMs: 60_000 });
  broker.unsubscribe(sub.id);
  assert.deepEqual(await waiting, []);
  assert.throws(() => broker.get(sub.id), SubscriptionNotFoundError);
  broker.close();
});

test("each subscription and each event without an id gets a new id from newId; a producer's id is kept", () => {
  const issued = new Set<string>();
  const newId = () => {
    const id = `n-${issued.size + 1}`;
    issued.add(id);
    return id;
  };
  const { broker } = brokerOnFakeClock({ newId });
  const subscriptions = Array.from({ length: 50 }, (_, i) => broker.subscribe({ kind: i % 2 ? "stream" : "required" }));
  const stream = broker.subscribe({ kind: "stream" });
  broker.sendBatch([{ type: "a" }, { type: "a", id: "mine" }, { type: "a" }]);
  for (let i = 0; i < 50; i++) broker.send({ type: "a" });
  const [first, producers, ...rest] = stream.read().map((item) => parsed(item as { json: string }).id as string);
  assert.equal(producers, "mine");
  const ids = [...subscriptions.map((sub) => sub.id), stream.id, first, ...rest];
  assert.equal(ids.length, 103);
  assert.equal(new Set(ids).size, ids.length, "no id given twice");
  assert.deepEqual(ids.filter((id) => !issued.has(id)), [], "every id came from newId");
  broker.close();
});

test("pull() and ack() on a stream throw NotRequiredError; unknown ids throw SubscriptionNotFoundError", async () => {
  const { broker } = brokerOnFakeClock();
  const stream = broker.subscribe({ kind: "stream" });
  assert.throws(() => broker.pull(stream.id), NotRequiredError);
  assert.throws(() => broker.ack(stream.id, 0), NotRequiredError);
  assert.throws(() => broker.pull("nope"), SubscriptionNotFoundError);
  broker.close();
});

test("subscribe() refuses bad type patterns and past the configured limits", () => {
  const { broker } = brokerOnFakeClock({ maxStreams: 1, maxRequired: 1 });
  assert.throws(() => broker.subscribe({ kind: "stream", types: ["a b"] }), ValidationError);
  assert.throws(() => broker.subscribe({ kind: "required", types: [] }), ValidationError);
  broker.subscribe({ kind: "stream" });
  broker.subscribe({ kind: "required" });
  assert.throws(() => broker.subscribe({ kind: "stream" }), TooManySubscriptionsError);
  assert.throws(() => broker.subscribe({ kind: "required" }), TooManySubscriptionsError);
  broker.close();
});

test("subscribeBatch() creates all or none", () => {
  const { broker } = brokerOnFakeClock();
  assert.throws(() => broker.subscribeBatch([{ types: ["a"] }, { types: ["bad pattern"] }]), (error: ValidationError) => {
    assert.equal(error.issues[0].path, "/1/types/0");
    return true;
  });
  assert.equal(broker.list().length, 0);
  assert.equal(broker.subscribeBatch([{ types: ["a"] }, { types: ["b.*"] }]).length, 2);
  broker.close();
});

test("close() ends streams, answers waiting pulls, and refuses further publishing", async () => {
  const { broker } = brokerOnFakeClock();
  const stream = broker.subscribe({ kind: "stream" });
  const sub = broker.subscribe({ kind: "required" });
  const waiting = broker.pull(sub.id, { waitMs: 60_000 });
  broker.close();
  assert.deepEqual(await waiting, []);
  assert.deepEqual(stream.read(), [{ kind: "closing", reason: "shutdown" }]);
  assert.throws(() => broker.send({ type: "a" }), BrokerClosedError);
});

test("a stream resumed past the last seq is told broker.reset, then gets all kept history and what comes live", () => {
  const { broker } = brokerOnFakeClock();
  broker.send({ type: "a" });
  broker.send({ type: "b" });
  const stream = broker.subscribe({ kind: "stream", since: 5_000 });
  broker.send({ type: "c" });
  const items = [...stream.read(), ...stream.read(), ...stream.read()];
  assert.deepEqual(items[0], { kind: "reset", asked: 5_000, lastSeq: 2 });
  assert.deepEqual(items.slice(1).map((item) => (item as { seq: number }).seq), [1, 2, 3]);
  broker.close();
});

test("a stream resumed at the last seq is not reset: it waits for what comes next", () => {
  const { broker } = brokerOnFakeClock();
  broker.send({ type: "a" });
  const stream = broker.subscribe({ kind: "stream", since: 1 });
  assert.deepEqual(stream.read(), []);
  broker.close();
});
