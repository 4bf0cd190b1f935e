import assert from "node:assert/strict";
import { test } from "node:test";
import { type AcceptedEvent, JournaledHistory, MemoryPart, RingHistory, utf8Bytes } from "../../src/broker/mod.ts";

const eventOf = (seq: number, type = "t", data = ""): AcceptedEvent => {
  const json = JSON.stringify({ seq, type, data });
  return { seq, type, json, size: utf8Bytes(json) };
};
const events = (from: number, to: number): AcceptedEvent[] => Array.from({ length: to - from + 1 }, (_, i) => eventOf(from + i));

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

test("RingHistory appended past a jump in seqs keeps what follows it, with the gap", () => {
  const history = new RingHistory(10);
  history.append(events(1, 3));
  history.append(events(10, 11));
  assert.deepEqual(history.readAfter(0, 10), { events: events(10, 11), gap: { from: 1, to: 9 } });
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

test("RingHistory gives back each event as it was appended, whatever its characters", () => {
  const history = new RingHistory(10);
  const odd = [eventOf(1, "order.filled:v2", "é 𝄞 emoji 😀"), eventOf(2, "t", "\u2028 line\nbreak \"quoted\""), eventOf(3, "A_b-C.d:e", "中文 " + "x".repeat(70_000))];
  history.append(odd);
  assert.deepEqual(history.readAfter(0, 10).events, odd);
});

/** Appends `count` events of random sizes one by one, checking after each that the ring holds the newest that fit, as appended. */
function appendAtRandom(capacity: number, maxBytes: number, count: number, largest: number) {
  const memory = new MemoryPart("history", capacity * RingHistory.SLOT_BYTES + maxBytes);
  const history = new RingHistory(capacity, memory);
  const appended: AcceptedEvent[] = [];
  let random = 42;
  const next = () => (random = (Math.imul(random, 1_103_515_245) + 12_345) >>> 0) / 2 ** 32;
  for (let seq = 1; seq <= count; seq++) {
    const event = eventOf(seq, next() < 0.1 ? "a-longer.type_name:v" + seq : "t", "é".repeat(Math.floor(next() * (next() < 0.05 ? largest : 300))));
    appended.push(event);
    history.append([event]);
    const { events, gap } = history.readAfter(0, capacity + 1);
    const fits = event.type.length + event.size <= maxBytes;
    assert.equal(events.at(-1)?.seq, fits ? seq : undefined, `seq ${seq}: the newest is kept when it fits`);
    assert.deepEqual(events, appended.slice(appended.length - events.length), `seq ${seq}: a suffix of what was appended`);
    assert.equal(gap?.to ?? 0, seq - events.length, `seq ${seq}: the gap ends where the kept events start`);
    assert.ok(events.length <= capacity && events.reduce((sum, e) => sum + e.size, 0) <= maxBytes);
  }
  assert.ok(memory.used <= memory.limit, `${memory.used} > ${memory.limit}`);
  return history;
}

test("RingHistory within a small byte bound: always the newest events that fit, in order, never more bytes than its part", () => {
  appendAtRandom(64, 4_000, 3_000, 5_000);
});

test("RingHistory growing while its events wrap round the buffer keeps them in order", () => {
  appendAtRandom(500, 200_000, 4_000, 60_000);
});

test("RingHistory that grows while its events have wrapped round moves them, oldest first", () => {
  const history = new RingHistory(3, new MemoryPart("history", 1_048_576));
  const sized = (seq: number, kib: number) => eventOf(seq, "t", "x".repeat(kib * 1_024 - 40));
  const appended = [sized(1, 20), sized(2, 20), sized(3, 20), sized(4, 20)]; // the 4th wraps to the start of the 64 KiB buffer
  history.append(appended);
  const grown = sized(5, 40); // 80 KiB kept then: the buffer doubles
  history.append([grown]);
  assert.deepEqual(history.readAfter(0, 10), { events: [appended[2], appended[3], grown], gap: { from: 1, to: 2 } });
});

test("RingHistory keeps no event larger than its bound, nor one whose type no publish could have, and keeps the next ones", () => {
  const history = new RingHistory(10, new MemoryPart("history", 10 * RingHistory.SLOT_BYTES + 1_000));
  history.append([eventOf(1), eventOf(2, "t", "x".repeat(2_000)), eventOf(3)]);
  assert.deepEqual(history.readAfter(0, 10), { events: [eventOf(3)], gap: { from: 1, to: 2 } });
  history.append([eventOf(4, "é"), eventOf(5)]);
  assert.deepEqual(history.readAfter(0, 10), { events: [eventOf(5)], gap: { from: 1, to: 4 } });
});
