import assert from "node:assert/strict";
import { test } from "node:test";
import { nonFinitePaths } from "../../src/broker/json-numbers.ts";

test("nonFinitePaths() names every Infinity and NaN by its path, in document order", () => {
  const value = JSON.parse('{"a":[1,1e400,{"b":-1e400}],"c":null,"d":"1e400","e":1.7e308}');
  value.f = NaN;
  assert.deepEqual(nonFinitePaths(value), [["a", 1], ["a", 2, "b"], ["f"]]);
  assert.deepEqual(nonFinitePaths(Infinity), [[]]);
});

test("nonFinitePaths() finds nothing in finite values, primitives included", () => {
  for (const value of [null, 0, "x", [], {}, { a: [1e-400, -0, Number.MAX_VALUE, null] }]) assert.deepEqual(nonFinitePaths(value), []);
});

test("nonFinitePaths() walks nesting deeper than the call stack", () => {
  const depth = 200_000;
  const deep = JSON.parse(`${"[".repeat(depth)}1e400${"]".repeat(depth)}`);
  const [path] = nonFinitePaths(deep);
  assert.equal(path.length, depth);
});
