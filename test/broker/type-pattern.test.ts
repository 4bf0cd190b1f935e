import assert from "node:assert/strict";
import { test } from "node:test";
import { isTypePattern, matchesPattern } from "../../src/broker/mod.ts";
import { withoutSubsumed } from "../../src/broker/type-pattern.ts";

test("isTypePattern() accepts *, exact types and dotted prefixes, and nothing else", () => {
  for (const good of ["*", "order.filled", "order.*", "a", "A1:b-c_d.e", "x".repeat(128)]) assert.ok(isTypePattern(good), good);
  for (const bad of ["", ".order", "order*", "*.order", "a b", "-a", "a.**", "x".repeat(129), "é"]) {
    assert.ok(!isTypePattern(bad), bad);
  }
});

test("matchesPattern(): * matches all, prefix.* matches below the prefix only, exact matches itself", () => {
  assert.ok(matchesPattern("*", "anything"));
  assert.ok(matchesPattern("order.*", "order.filled"));
  assert.ok(matchesPattern("order.*", "order.leg.filled"));
  assert.ok(!matchesPattern("order.*", "order"));
  assert.ok(!matchesPattern("order.*", "orders.filled"));
  assert.ok(matchesPattern("order", "order"));
  assert.ok(!matchesPattern("order", "order.filled"));
});

test("withoutSubsumed() keeps only the patterns no other of them covers", () => {
  assert.deepEqual(withoutSubsumed(["order.*", "order.filled", "order.leg.*", "order", "trade"]), ["order.*", "order", "trade"]);
  assert.deepEqual(withoutSubsumed(["a", "*", "b.*"]), ["*"]);
  assert.deepEqual(withoutSubsumed(["a.*", "a.*", "a.b.*"]), ["a.*"]);
  assert.deepEqual(withoutSubsumed(["a.b.*", "a.bc"]), ["a.b.*", "a.bc"]);
});
