// The dedupe window against a plain model of it: a list of pairs in acceptance order.
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { DedupeWindow } from "../../src/broker/dedupe-window.ts";

const WINDOW_MS = 1_000;

class ModelWindow {
  readonly pairs: { key: string; units: number; seq: number; at: number; fresh: boolean }[] = [];
  constructor(readonly maxEntries: number, readonly maxUnits = Infinity) {}

  seqOf(key: string, now: number): number | undefined {
    while (this.pairs.length > 0 && now - this.pairs[0].at >= WINDOW_MS) this.pairs.shift();
    return this.pairs.findLast((pair) => pair.key === key)?.seq;
  }

  remember(key: string, units: number, seq: number, now: number): void {
    const fresh = this.pairs.every((pair) => pair.key !== key);
    if (this.pairs.length === this.maxEntries) this.pairs.shift();
    while (this.pairs.reduce((sum, pair) => sum + pair.units, 0) + units > this.maxUnits) this.pairs.shift();
    this.pairs.push({ key, units, seq, at: now, fresh });
  }

  /** Whether the last `count` pairs were each new when remembered: `forgetNewest` is for those alone. */
  canForget(count: number): boolean {
    return this.pairs.slice(-count).every((pair) => pair.fresh);
  }

  forgetNewest(count: number): void {
    this.pairs.splice(Math.max(0, this.pairs.length - count));
  }
}

// A pair is a short text split into source and id at `split`, so pairs with the same
// characters but another split are different pairs.
const operationFields = {
  text: fc.oneof(fc.integer({ min: 0, max: 60 }).map(String), fc.string({ maxLength: 8 })),
  split: fc.integer({ min: 0, max: 2 }),
  remember: fc.boolean(),
  preload: fc.boolean(),
  elapsed: fc.integer({ min: 0, max: 40 }),
};
const operation = fc.record(operationFields);

// `preload` is only a hint about what is read next: the model has no counterpart to it.
type Operation = { text: string; split: number; remember: boolean; preload: boolean; elapsed: number; forget?: number };

function agreesWithModel(maxEntries: number, operations: Operation[], maxBytes?: number): void {
  const window = new DedupeWindow(WINDOW_MS, maxEntries, maxBytes);
  const model = new ModelWindow(window.capacity, (window.bytes - window.capacity * DedupeWindow.ENTRY_BYTES) / 2);
  let now = 0;
  operations.forEach(({ text, split, remember, preload, elapsed, forget = 0 }, seq) => {
    now += elapsed;
    const [source, id] = [`/${text.slice(0, split)}`, text.slice(split)];
    const pair = JSON.stringify([source, id]);
    if (preload) window.preload([DedupeWindow.keyOf(source, id), undefined, DedupeWindow.keyOf(id, source)]);
    assert.equal(window.seqOf(DedupeWindow.keyOf(source, id), now), model.seqOf(pair, now), `seqOf(${pair}) at step ${seq}`);
    if (remember) {
      window.remember(DedupeWindow.keyOf(source, id), seq, now);
      model.remember(pair, source.length + id.length, seq, now);
    }
    if (forget > 0 && model.canForget(forget)) {
      const forgotten = model.pairs.slice(-forget);
      window.forgetNewest(forget);
      model.forgetNewest(forget);
      for (const { key } of [...forgotten, ...model.pairs]) {
        const [source, id] = JSON.parse(key) as [string, string];
        assert.equal(window.seqOf(DedupeWindow.keyOf(source, id), now), model.seqOf(key, now), `seqOf(${key}) after forgetting ${forget} at step ${seq}`);
      }
    }
  });
  for (const { key } of model.pairs) {
    const [source, id] = JSON.parse(key) as [string, string];
    assert.equal(window.seqOf(DedupeWindow.keyOf(source, id), now), model.seqOf(key, now), `seqOf(${key}) at the end`);
  }
}

/** Operations that now and then forget the pairs remembered last, as a failed commit does. */
const forgetting = fc.record({ ...operationFields, forget: fc.oneof({ weight: 5, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 6 }) }) });

test("DedupeWindow.forgetNewest() forgets the pairs remembered last as if they never were, and the window goes on", () => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 40 }), fc.array(forgetting, { minLength: 100, maxLength: 300 }), (max, ops) => agreesWithModel(max, ops)), { numRuns: 300 });
  fc.assert(fc.property(fc.integer({ min: 1, max: 30 }), fc.array(forgetting.map((op) => ({ ...op, text: op.text.repeat(40) })), { minLength: 100, maxLength: 300 }), (max, ops) => agreesWithModel(max, ops, 4_000)), { numRuns: 200 });
});

test("DedupeWindow answers as a list of pairs would, for small windows", () => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 40 }), fc.array(operation, { maxLength: 300 }), (max, ops) => agreesWithModel(max, ops)), { numRuns: 300 });
});

test("DedupeWindow answers as a list of pairs would when its ring of entries wraps round many times", () => {
  fc.assert(fc.property(fc.integer({ min: 1_025, max: 2_200 }), fc.array(operation, { minLength: 3_000, maxLength: 6_000 }), (max, ops) => agreesWithModel(max, ops)), { numRuns: 8 });
});

test("DedupeWindow within a byte bound forgets its oldest pairs when a key does not fit, as a list bounded in key length would", () => {
  // Ten keys of 60 to 240 units, which differ at every place, so an overwritten key cannot pass for another.
  const text = (n: number) => Array.from({ length: 60 + 20 * n }, (_, i) => String.fromCharCode(97 + ((i * 7 + n) % 26))).join("");
  const longKeys = operation.chain((op) => fc.integer({ min: 0, max: 9 }).map((n) => ({ ...op, text: text(n) })));
  fc.assert(fc.property(fc.integer({ min: 1, max: 60 }), fc.array(longKeys, { maxLength: 400 }), (max, ops) => agreesWithModel(max, ops, 4_000)), { numRuns: 200 });
});

test("DedupeWindow holds what its byte bound allows, however long the keys", () => {
  const window = new DedupeWindow(60_000, 100_000, 1_000_000);
  assert.ok(window.bytes <= 1_000_000 + 2 * 1_280, `${window.bytes} bytes`);
  assert.ok(window.capacity < 100_000, "fewer entries fit than asked");
  const key = (i: number) => DedupeWindow.keyOf("/".padEnd(1_024, "s"), `${i}`.padStart(256, "0"));
  for (let i = 0; i < 2_000; i++) window.remember(key(i), i, 0);
  assert.equal(window.seqOf(key(1_999), 0), 1_999);
  assert.equal(window.seqOf(key(0), 0), undefined, "the oldest long keys were forgotten to make room");
  assert.ok(window.size * 1_280 * 2 <= window.bytes);
});

test("DedupeWindow finds every pair of a full window and forgets them in acceptance order", () => {
  const window = new DedupeWindow(60_000, 5_000);
  const key = (i: number) => DedupeWindow.keyOf("/producer", `id-${i}`);
  for (let i = 0; i < 12_000; i++) window.remember(key(i), i, 0);
  assert.equal(window.size, 5_000);
  for (let i = 0; i < 12_000; i++) assert.equal(window.seqOf(key(i), 0), i >= 7_000 ? i : undefined);
});
