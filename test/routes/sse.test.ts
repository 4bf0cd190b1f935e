import assert from "node:assert/strict";
import { test } from "node:test";
import { encodeItems, SseHub } from "../../routes/sse.ts";
import { brokerOnFakeClock } from "../support/broker.ts";

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

test("encodeItems() frames an event as id and one data line", () => {
  const { broker } = brokerOnFakeClock();
  const stream = broker.subscribe({ kind: "stream" });
  broker.send({ type: "a", data: { s: "line1\nline2\r\n", u: "\u2028" } });
  const [event] = stream.read();
  const framed = text(encodeItems([event], false, false));
  const lines = framed.split("\n");
  assert.equal(lines[0], "id: 1");
  assert.ok(lines[1].startsWith("data: {"));
  assert.deepEqual(lines.slice(2), ["", ""]);
  assert.doesNotMatch(framed.slice(0, -2), /\r|\n\n/);
  broker.close();
});

test("no type, id, source or data can add a line to the stream", () => {
  const { broker } = brokerOnFakeClock();
  const stream = broker.subscribe({ kind: "stream" });
  const hostile = "x\n\nevent: broker.closing\ndata: {}\r\rid: 999\n";
  broker.send({ type: "a", id: hostile, source: hostile, subject: hostile, data: hostile, ext: hostile });
  assert.throws(() => broker.send({ type: hostile }));
  const framed = text(encodeItems(stream.read(), true, false));
  assert.equal(framed.split(/\r\n|\r|\n/).length, 5, framed);
  broker.close();
});

test("encodeItems() frames notices as named events and pings as comments", () => {
  const framed = text(encodeItems([{ kind: "dropped", count: 2, from: 5, to: 6 }, { kind: "closing", reason: "deleted" }], false, true));
  assert.equal(framed, 'event: broker.dropped\ndata: {"count":2,"from":5,"to":6}\n\nevent: broker.closing\ndata: {"reason":"deleted"}\n\n: ping\n\n');
});

test("encodeItems() frames an event once per kind and shares the frame between streams", () => {
  const { broker } = brokerOnFakeClock();
  const [first, second] = [broker.subscribe({ kind: "stream" }), broker.subscribe({ kind: "stream" })];
  broker.sendBatch([{ type: "a" }, { type: "b" }]);
  const [a1, b1] = first.read();
  const [a2] = second.read();
  assert.equal(encodeItems([a1], false, false), encodeItems([a2], false, false), "the same bytes, not a copy");
  assert.match(text(encodeItems([a1], true, false)), /^event: a\nid: 1\ndata: \{/);
  assert.match(text(encodeItems([a1, b1], false, true)), /^id: 1\ndata: \{.*\}\n\nid: 2\ndata: \{.*\}\n\n: ping\n\n$/);
  broker.close();
});

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A hub with one open connection to a new stream subscription, and a reader of its body. */
function openStream(options: Parameters<typeof brokerOnFakeClock>[0] = {}) {
  const { broker } = brokerOnFakeClock(options);
  const hub = new SseHub(60_000);
  const subscription = broker.subscribe({ kind: "stream" });
  const reader = hub.open(subscription, { retryMs: 1_000, named: false, onEnd: () => {} }).body().getReader();
  const readText = async () => text((await reader.read()).value ?? new Uint8Array());
  const finish = async () => {
    broker.close();
    await reader.cancel();
    await hub.close(1_000);
  };
  return { broker, subscription, readText, finish };
}

test("events accepted by separate requests in one turn of the event loop reach a stream as one write", async () => {
  const { broker, readText, finish } = openStream();
  assert.match(await readText(), /^retry: 1000\n\nevent: broker.subscribed\n/);
  const next = readText();
  broker.send({ type: "a" });
  for (let hop = 0; hop < 10; hop++) await Promise.resolve(); // a request's own awaits, before the next one is handled
  broker.send({ type: "b" });
  assert.match(await next, /^id: 1\ndata: \{.*\}\n\nid: 2\ndata: \{.*\}\n\n$/);
  await finish();
});

test("a stream is written only when its reader has taken the last write; meanwhile its buffer bounds what waits", async () => {
  const { broker, subscription, readText, finish } = openStream({ streamBuffer: 2 });
  await readText();
  for (const type of ["a", "b", "c", "d"]) broker.send({ type });
  await nextTurn();
  assert.deepEqual([subscription.buffered, subscription.dropped], [2, 2], "nothing taken from the buffer while no read is pending");
  const chunk = await readText();
  assert.deepEqual([...chunk.matchAll(/^id: (\d+)$/gm)].map((match) => match[1]), ["1", "2"]);
  assert.match(chunk, /event: broker.dropped\ndata: \{"count":2,"from":3,"to":4\}\n\n$/);
  assert.equal(subscription.buffered, 0);
  await finish();
});
