import assert from "node:assert/strict";
import { test } from "node:test";
import { encodeItems, FrameCache, MAX_WRITE_BYTES, SseHub } from "../../routes/sse.ts";
import { MemoryPart } from "../../src/broker/mod.ts";
import { brokerOnFakeClock } from "../support/broker.ts";

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const frames = new FrameCache();

test("encodeItems() frames an event as id and one data line", () => {
  const { broker } = brokerOnFakeClock();
  const stream = broker.subscribe({ kind: "stream" });
  broker.send({ type: "a", data: { s: "line1\nline2\r\n", u: "\u2028" } });
  const [event] = stream.read();
  const framed = text(encodeItems([event], false, false, frames));
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
  const framed = text(encodeItems(stream.read(), true, false, frames));
  assert.equal(framed.split(/\r\n|\r|\n/).length, 5, framed);
  broker.close();
});

test("encodeItems() frames notices as named events and pings as comments", () => {
  const framed = text(encodeItems([{ kind: "dropped", count: 2, from: 5, to: 6 }, { kind: "closing", reason: "deleted" }], false, true, frames));
  assert.equal(framed, 'event: broker.dropped\ndata: {"count":2,"from":5,"to":6}\n\nevent: broker.closing\ndata: {"reason":"deleted"}\n\n: ping\n\n');
});

test("encodeItems() frames an event once per kind and shares the frame between streams", () => {
  const { broker } = brokerOnFakeClock();
  const [first, second] = [broker.subscribe({ kind: "stream" }), broker.subscribe({ kind: "stream" })];
  broker.sendBatch([{ type: "a" }, { type: "b" }]);
  const [a1, b1] = first.read();
  const [a2] = second.read();
  assert.equal(encodeItems([a1], false, false, frames), encodeItems([a2], false, false, frames), "the same bytes, not a copy");
  assert.match(text(encodeItems([a1], true, false, frames)), /^event: a\nid: 1\ndata: \{/);
  assert.match(text(encodeItems([a1, b1], false, true, frames)), /^id: 1\ndata: \{.*\}\n\nid: 2\ndata: \{.*\}\n\n: ping\n\n$/);
  broker.close();
});

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A hub with one open connection to a new stream subscription, and a reader of its body. */
function hubStream(options: Parameters<typeof brokerOnFakeClock>[0] = {}) {
  const { broker } = brokerOnFakeClock(options);
  const hub = new SseHub(60_000, broker.memory.parts.streams);
  const subscription = broker.subscribe({ kind: "stream" });
  const reader = hub.open(subscription, { retryMs: 1_000, named: false, onEnd: () => {} }).body().getReader();
  const readBytes = async () => (await reader.read()).value ?? new Uint8Array();
  const readText = async () => text(await readBytes());
  const finish = async () => {
    broker.close();
    await reader.cancel();
    await hub.close(1_000);
  };
  return { broker, subscription, readBytes, readText, finish };
}

test("events accepted by separate requests in one turn of the event loop reach a stream as one write", async () => {
  const { broker, readText, finish } = hubStream();
  assert.match(await readText(), /^retry: 1000\n\nevent: broker.subscribed\n/);
  const next = readText();
  broker.send({ type: "a" });
  for (let hop = 0; hop < 10; hop++) await Promise.resolve(); // a request's own awaits, before the next one is handled
  broker.send({ type: "b" });
  assert.match(await next, /^id: 1\ndata: \{.*\}\n\nid: 2\ndata: \{.*\}\n\n$/);
  await finish();
});

test("a stream is written only when its reader has taken the last write; meanwhile its buffer bounds what waits", async () => {
  const { broker, subscription, readText, finish } = hubStream({ streamBuffer: 2 });
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

test("an event larger than one write goes out in slices of at most MAX_WRITE_BYTES that join into its frame", async () => {
  const { broker, readBytes, finish } = hubStream();
  await readBytes();
  const data = "€😀é-".repeat(100_000); // multi-byte characters, 1 MB of them
  broker.sendBatch([{ type: "small" }, { type: "big", data }, { type: "after" }]);
  const chunks: Uint8Array[] = [];
  let joined = "";
  while (!joined.includes('"type":"after"')) {
    const chunk = await readBytes();
    assert.ok(chunk.length <= MAX_WRITE_BYTES, `a write of ${chunk.length} bytes`);
    chunks.push(chunk);
    joined = text(new Uint8Array(chunks.flatMap((c) => [...c])));
  }
  const frames = joined.split("\n\n").filter(Boolean);
  assert.deepEqual(frames.map((f) => JSON.parse(f.slice(f.indexOf("data: ") + 6)).type), ["small", "big", "after"]);
  assert.equal(JSON.parse(frames[1].slice(frames[1].indexOf("data: ") + 6)).data, data);
  assert.ok(chunks.length > 3, `${chunks.length} writes`);
  await finish();
});

test("a connection whose reader stalls has handed on one write at most, and gives it back when it ends", async () => {
  const { broker, readBytes, finish } = hubStream();
  await readBytes();
  const pending = readBytes();
  for (let i = 0; i < 20; i++) broker.send({ type: "big", data: "x".repeat(100_000) });
  await nextTurn();
  await pending;
  await nextTurn();
  assert.ok(broker.streamHandedBytes > 0 && broker.streamHandedBytes <= MAX_WRITE_BYTES, `${broker.streamHandedBytes} bytes handed`);
  await finish();
  assert.equal(broker.streamHandedBytes, 0);
});

test("FrameCache keeps at most a quarter of the streams' part in frames, counted there", () => {
  const memory = new MemoryPart("streams", 16 * 1_048_576);
  const cache = new FrameCache(memory);
  const { broker } = brokerOnFakeClock();
  const stream = broker.subscribe({ kind: "stream" });
  for (let i = 0; i < 200; i++) {
    broker.send({ type: "a", data: "x".repeat(60_000) });
    for (const item of stream.read()) cache.frameOf(item as never, false);
    assert.ok(memory.used <= 4 * 1_048_576, `${memory.used} bytes of frames`);
  }
  assert.ok(memory.used > 3 * 1_048_576);
  broker.close();
});
