import assert from "node:assert/strict";
import { test } from "node:test";
import { type AcceptedEvent, JournaledHistory, RingHistory } from "../../src/broker/mod.ts";

const events = (from: number, to: number): AcceptedEvent[] =>
  Array.from({ length: to - from + 1 }, (_, i) => ({ seq: from + i, type: "t", source: "/", id: `${from + i}`, json: "{}", size: 2 }));

test("RingHistory.readAfter() returns events after a seq, up to max", () => {
  const history = new RingHistory(10);
  history.append(events(1, 5));
  assert.deepEqual(history.readAfter(2, 10).events.map((e) => e.seq), [3, 4, 5]);
  assert.deepEqual(history.readAfter(0, 2).events.map((e) => e.seq), [1, 2]);
  assert.deepEqual(history.readAfter(5, 10), { events: [] });
  assert.deepEqual(history.readAfter(99, 10), { events: [] });
});

test("RingHistory keeps only the newest capacity events and reports the gap", () => {
  const history = new RingHistory(3);
  history.append(events(1, 4));
  history.append(events(5, 8));
  const read = history.readAfter(2, 10);
  assert.deepEqual(read.gap, { from: 3, to: 5 });
  assert.deepEqual(read.events.map((e) => e.seq), [6, 7, 8]);
  assert.equal(history.readAfter(5, 10).gap, undefined);
});

test("RingHistory with capacity 0 keeps nothing", () => {
  const history = new RingHistory(0);
  history.append(events(1, 3));
  assert.deepEqual(history.readAfter(0, 10), { events: [], gap: { from: 1, to: 3 } });
});

/** A journal holding seqs `oldest`..`last`, as JournaledHistory reads it. */
const archive = (oldest: number, last: number) => ({
  oldestSeq: () => oldest,
  readAfter: (afterSeq: number, max: number) => events(Math.max(afterSeq + 1, oldest), Math.min(last, Math.max(afterSeq + 1, oldest) + max - 1)),
});

test("JournaledHistory reads older events from the journal and recent ones from the ring, with the gap of what neither keeps", () => {
  const ring = new RingHistory(3);
  ring.append(events(1, 10)); // the ring keeps 8..10
  const history = new JournaledHistory(ring, archive(4, 10));
  assert.deepEqual(history.readAfter(0, 2), { events: events(4, 5), gap: { from: 1, to: 3 } });
  assert.deepEqual(history.readAfter(5, 100).events.map((e) => e.seq), [6, 7], "the journal, up to where the ring starts");
  assert.deepEqual(history.readAfter(7, 100).events.map((e) => e.seq), [8, 9, 10]);
});

test("JournaledHistory whose journal kept less than the ring (retention shorter than historySize) serves the ring after the gap", () => {
  const ring = new RingHistory(3);
  ring.append(events(1, 4)); // the ring keeps 2..4
  const history = new JournaledHistory(ring, archive(3, 4)); // retention trimmed the journal to 3..4
  assert.deepEqual(history.readAfter(0, 100), { events: events(2, 4), gap: { from: 1, to: 1 } });
});
