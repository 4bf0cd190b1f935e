import assert from "node:assert/strict";
import { test } from "node:test";
import { isNotice, type StreamItem, type StreamNotice } from "../../src/broker/mod.ts";
import { brokerOnFakeClock } from "../support/broker.ts";

const MiB = 1_048_576;

/** The seqs of the events read, and the notices among them as they came. */
function seqsAndNotices(items: readonly StreamItem[]): (number | StreamNotice)[] {
  return items.map((item) => (isNotice(item) ? item : item.seq));
}

test("a reader waiting for events takes everything offered before it reads again, past its buffer", () => {
  const { broker } = brokerOnFakeClock({ streamBuffer: 2 });
  const stream = broker.subscribe({ kind: "stream" });
  assert.deepEqual(stream.read(), [], "nothing yet: the reader waits");
  for (let i = 0; i < 5; i++) broker.send({ type: "a" });
  broker.sendBatch([{ type: "a" }, { type: "a" }, { type: "a" }]);
  assert.deepEqual(seqsAndNotices(stream.read()), [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.equal(stream.dropped, 0);
  broker.close();
});

test("a reader that took a burst whole, then has events left unread or a write unfinished, gets drop-on-full again", () => {
  const { broker } = brokerOnFakeClock({ streamBuffer: 2 });
  const behind = broker.subscribe({ kind: "stream" });
  const handing = broker.subscribe({ kind: "stream" });
  assert.deepEqual([behind.read(), handing.read()], [[], []]);
  broker.sendBatch([{ type: "a" }, { type: "a" }, { type: "a" }]);
  assert.deepEqual([seqsAndNotices(behind.read(1)), seqsAndNotices(handing.read())], [[1], [1, 2, 3]], "both waited: the burst is whole");
  assert.deepEqual(handing.read(), [], "it took all: waiting again");
  handing.handed(10); // a ping written: its runtime holds it until the reader comes back
  for (let i = 0; i < 5; i++) broker.send({ type: "a" });
  assert.deepEqual([behind.buffered, behind.dropped], [2, 5], "the two it left unread fill its buffer");
  assert.deepEqual(seqsAndNotices(behind.read()), [2, 3, { kind: "dropped", count: 5, from: 4, to: 8 }]);
  assert.deepEqual([handing.buffered, handing.dropped], [2, 3]);
  broker.close();
});

test("what a waiting reader takes past its buffer stays within the streams' part, stalled buffers emptied first", () => {
  const { broker } = brokerOnFakeClock({ memoryBudgetBytes: 4 * MiB, streamBuffer: 4 });
  const streams = broker.memory.parts.streams;
  const stalled = broker.subscribe({ kind: "stream", types: ["old"] });
  for (let i = 0; i < 4; i++) broker.send({ type: "old", data: "x".repeat(100_000) });
  const waiting = broker.subscribe({ kind: "stream", types: ["new"] });
  assert.deepEqual(waiting.read(), []);
  for (let i = 0; i < 20; i++) {
    broker.send({ type: "new", data: "x".repeat(100_000) });
    assert.ok(streams.used <= streams.limit, `${streams.used} of ${streams.limit} bytes after event ${i + 1}`);
  }
  assert.deepEqual(seqsAndNotices(stalled.read()), [{ kind: "dropped", count: 4, from: 1, to: 4 }], "emptied to make room");
  const items = waiting.read();
  const kept = items.filter((item) => !isNotice(item)).length;
  assert.ok(kept > 4, `${kept} events kept, more than its buffer's 4`);
  assert.deepEqual(seqsAndNotices(items).slice(kept), [{ kind: "dropped", count: 20 - kept, from: 5 + kept, to: 24 }]);
  broker.close();
});

test("a released stream keeps to its buffer until it is removed, though its reader was waiting", () => {
  const { broker } = brokerOnFakeClock({ streamBuffer: 2 });
  const stream = broker.subscribe({ kind: "stream" });
  assert.deepEqual(stream.read(), []);
  broker.sendBatch([{ type: "a" }, { type: "a" }, { type: "a" }]);
  assert.equal(stream.read().length, 3, "a waiting reader takes a burst whole");
  assert.deepEqual(stream.read(), [], "and waits again");
  stream.release();
  for (let i = 0; i < 5; i++) broker.send({ type: "a" });
  assert.deepEqual([stream.buffered, stream.dropped], [2, 3]);
  broker.close();
});
