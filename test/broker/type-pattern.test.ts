import assert from "node:assert/strict";
import { test } from "node:test";
import { isTypePattern, matchesPattern } from "../../src/broker/mod.ts";

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
