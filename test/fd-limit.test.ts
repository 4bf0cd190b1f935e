import assert from "node:assert/strict";
import { test } from "node:test";
import { connectionBudget, filesNeeded, openFileLimit } from "../src/fd-limit.ts";

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            1024                 524288               files
`;

test("openFileLimit() reads the soft limit from /proc, and says nothing when it is high enough", () => {
  assert.equal(openFileLimit(2_000, () => LIMITS), 1_024);
  assert.equal(openFileLimit(1_024, () => LIMITS), undefined);
});

test("openFileLimit() counts the files it can open where /proc may not be read (Deno without --allow-all)", () => {
  const unreadable = () => {
    throw new Error("Requires all access");
  };
  assert.equal(openFileLimit(1_000, unreadable, () => 300), 300);
  assert.equal(openFileLimit(1_000, unreadable, () => 1_000), undefined);
  assert.equal(openFileLimit(1_000, unreadable, () => undefined), undefined);
  assert.equal(openFileLimit(500, unreadable), undefined, "this process can open 500 more files");
});

test("connectionBudget() leaves the configuration alone when the limit is unknown or high", () => {
  const wanted = { maxStreams: 20_000, maxWaitingPulls: 10_000 };
  assert.deepEqual(connectionBudget(undefined, wanted), { maxConnections: Infinity, ...wanted });
  const high = connectionBudget(filesNeeded(wanted), wanted);
  assert.equal(high.maxStreams, 20_000);
  assert.equal(high.maxWaitingPulls, 10_000);
  assert.equal(high.warning, undefined);
});

test("connectionBudget() shrinks streams and waiting pulls in proportion to three quarters of what the limit allows, and warns", () => {
  const budget = connectionBudget(1_024, { maxStreams: 20_000, maxWaitingPulls: 10_000 });
  assert.equal(budget.maxConnections, 960);
  assert.equal(budget.maxStreams, 480);
  assert.equal(budget.maxWaitingPulls, 240);
  assert.ok(budget.maxStreams + budget.maxWaitingPulls <= (budget.maxConnections * 3) / 4);
  assert.match(budget.warning!, /open-file limit \(ulimit -n\) is about 1024, so at most 480 streams and 240 waiting pulls/);
});

test("connectionBudget() keeps at least one of each however low the limit", () => {
  const budget = connectionBudget(10, { maxStreams: 20_000, maxWaitingPulls: 10_000 });
  assert.ok(budget.maxConnections >= 1 && budget.maxStreams >= 1 && budget.maxWaitingPulls >= 1, JSON.stringify(budget));
});
