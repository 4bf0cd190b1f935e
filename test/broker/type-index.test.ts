import assert from "node:assert/strict";
import { test } from "node:test";
import { TypeIndex } from "../../src/broker/type-index.ts";
import { matchesPattern } from "../../src/broker/mod.ts";

test("TypeIndex.match() finds the same subscribers as scanning every pattern", () => {
  const index = new TypeIndex<string>();
  const subscribers: Record<string, string[]> = {
    all: ["*"], orders: ["order.*"], filled: ["order.filled"], legs: ["order.leg.*", "trade"], trades: ["trade.*"],
  };
  for (const [name, patterns] of Object.entries(subscribers)) index.add(name, patterns);
  for (const type of ["order.filled", "order.leg.x", "order", "trade", "trade.x", "other", "order.legs"]) {
    const expected = Object.keys(subscribers).filter((name) => subscribers[name].some((p) => matchesPattern(p, type))).sort();
    assert.deepEqual([...index.match(type)].sort(), expected, type);
  }
});

test("TypeIndex.match() lists a subscriber once even when several of its patterns match", () => {
  const index = new TypeIndex<string>();
  index.add("s", ["*", "a.*", "a.b"]);
  assert.deepEqual(index.match("a.b"), ["s"]);
});

test("TypeIndex forgets removed subscribers and finds added ones, for types whose answer is cached", () => {
  const index = new TypeIndex<string>();
  index.add("s", ["a.*"]);
  assert.deepEqual(index.match("a.b"), ["s"]);
  index.remove("s", ["a.*"]);
  assert.deepEqual(index.match("a.b"), []);
  index.add("exact", ["a.b"]);
  index.add("prefix", ["a.*"]);
  assert.deepEqual(index.match("a.b").sort(), ["exact", "prefix"]);
});

test("TypeIndex keeps its cache bounded however many types producers invent", () => {
  const index = new TypeIndex<string>(10);
  index.add("s", ["a.*"]);
  for (let i = 0; i < 1_000; i++) {
    assert.deepEqual(index.match(`a.t${i}`), ["s"]);
    assert.ok(index.cachedTypes <= 10, `${index.cachedTypes} answers cached`);
  }
  assert.deepEqual(index.match("a.t0"), ["s"]);
});

test("TypeIndex gives a type the buckets that select it, each shared by every type it selects", () => {
  const index = new TypeIndex<string>();
  index.add("all", ["*"]);
  index.add("orders", ["order.*", "order.filled"]);
  index.add("filled", ["order.filled"]);
  index.add("legs", ["order.leg.*"]);
  const [exact, prefix] = index.bucketsOf("order.filled");
  assert.deepEqual([[...exact], [...prefix]], [["filled"], ["orders"]], "a pattern another of the same subscriber covers is not indexed");
  assert.equal(index.bucketsOf("order.new")[0], prefix, "the same bucket, not a copy");
  assert.deepEqual(index.bucketsOf("order.leg.x").map((bucket) => [...bucket]), [["orders"], ["legs"]]);
  assert.deepEqual([...index.everything], ["all"]);
  assert.deepEqual(index.bucketsOf("other"), []);
});
