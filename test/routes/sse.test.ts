import assert from "node:assert/strict";
import { test } from "node:test";
import { encodeItems } from "../../routes/sse.ts";
import { brokerOnFakeClock } from "../support/broker.ts";

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

test("encodeItems() frames an event as id and one data line, reusing its JSON bytes", () => {
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
