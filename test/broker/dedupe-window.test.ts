// The dedupe window against a plain model of it: a list of pairs in acceptance order.
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { DedupeWindow } from "../../src/broker/dedupe-window.ts";

const WINDOW_MS = 1_000;

class ModelWindow {
  readonly pairs: { key: string; seq: number; at: number }[] = [];
  constructor(readonly maxEntries: number) {}

  seqOf(key: string, now: number): number | undefined {
    while (this.pairs.length > 0 && now - this.pairs[0].at >= WINDOW_MS) this.pairs.shift();
    return this.pairs.findLast((pair) => pair.key === key)?.seq;
  }

  remember(key: string, seq: number, now: number): void {
    if (this.pairs.length === this.maxEntries) this.pairs.shift();
    this.pairs.push({ key, seq, at: now });
  }
}

// A pair is a short text split into source and id at `split`, so pairs with the same
// characters but another split are different pairs.
const operation = fc.record({
  text: fc.oneof(fc.integer({ min: 0, max: 60 }).map(String), fc.string({ maxLength: 8 })),
  split: fc.integer({ min: 0, max: 2 }),
  remember: fc.boolean(),
  preload: fc.boolean(),
  elapsed: fc.integer({ min: 0, max: 40 }),
});

// `preload` is only a hint about what is read next: the model has no counterpart to it.
function agreesWithModel(maxEntries: number, operations: { text: string; split: number; remember: boolean; preload: boolean; elapsed: number }[]): void {
  const window = new DedupeWindow(WINDOW_MS, maxEntries);
  const model = new ModelWindow(maxEntries);
  let now = 0;
  operations.forEach(({ text, split, remember, preload, elapsed }, seq) => {
    now += elapsed;
    const [source, id] = [`/${text.slice(0, split)}`, text.slice(split)];
    const pair = JSON.stringify([source, id]);
    if (preload) window.preload([DedupeWindow.keyOf(source, id), undefined, DedupeWindow.keyOf(id, source)]);
    assert.equal(window.seqOf(DedupeWindow.keyOf(source, id), now), model.seqOf(pair, now), `seqOf(${pair}) at step ${seq}`);
    if (remember) {
      window.remember(DedupeWindow.keyOf(source, id), seq, now);
      model.remember(pair, seq, now);
    }
  });
}

test("DedupeWindow answers as a list of pairs would, for small windows", () => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 40 }), fc.array(operation, { maxLength: 300 }), agreesWithModel), { numRuns: 300 });
});

test("DedupeWindow answers as a list of pairs would across its packed key blocks", () => {
  fc.assert(fc.property(fc.integer({ min: 1_025, max: 2_200 }), fc.array(operation, { minLength: 3_000, maxLength: 6_000 }), agreesWithModel), { numRuns: 8 });
});

test("DedupeWindow finds every pair of a full window and forgets them in acceptance order", () => {
  const window = new DedupeWindow(60_000, 5_000);
  const key = (i: number) => DedupeWindow.keyOf("/producer", `id-${i}`);
  for (let i = 0; i < 12_000; i++) window.remember(key(i), i, 0);
  assert.equal(window.size, 5_000);
  for (let i = 0; i < 12_000; i++) assert.equal(window.seqOf(key(i), 0), i >= 7_000 ? i : undefined);
});
