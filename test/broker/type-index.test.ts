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

test("TypeIndex forgets removed subscribers, cached answers included", () => {
  const index = new TypeIndex<string>();
  index.add("s", ["a.*"]);
  assert.deepEqual(index.match("a.b"), ["s"]);
  index.remove("s", ["a.*"]);
  assert.deepEqual(index.match("a.b"), []);
});

test("TypeIndex keeps its cache bounded however many types producers invent", () => {
  const index = new TypeIndex<string>(10);
  index.add("s", ["*"]);
  for (let i = 0; i < 1_000; i++) {
    assert.deepEqual(index.match(`t${i}`), ["s"]);
    assert.ok(index.cached.types <= 10, `${index.cached.types} answers cached`);
  }
  assert.deepEqual(index.match("t0"), ["s"]);
});

test("TypeIndex keeps the items of its cached answers bounded however many subscribers each holds", () => {
  const index = new TypeIndex<number>(10_000, 250);
  for (let i = 0; i < 100; i++) index.add(i, ["*"]);
  for (let i = 0; i < 50; i++) {
    assert.equal(index.match(`t${i}`).length, 100);
    assert.ok(index.cached.items <= 250, `${index.cached.items} items cached`);
  }
});
