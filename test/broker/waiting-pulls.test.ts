import assert from "node:assert/strict";
import { test } from "node:test";
import { TooManyWaitingPullsError } from "../../src/broker/mod.ts";
import { brokerOnFakeClock } from "../support/broker.ts";

test("pull() refuses to wait beyond maxWaitingPulls; a pull counts as waiting until it is answered", async () => {
  const { broker, clock } = brokerOnFakeClock({ maxWaitingPulls: 2 });
  const sub = broker.subscribe({ kind: "required" });
  const first = broker.pull(sub.id, { waitMs: 1_000 });
  const second = broker.pull(sub.id, { waitMs: 5_000 });
  assert.throws(() => broker.pull(sub.id, { waitMs: 1_000 }), TooManyWaitingPullsError);
  assert.deepEqual(await broker.pull(sub.id, { waitMs: 0 }), [], "a pull that does not wait is not refused");
  clock.advance(1_000);
  assert.deepEqual(await first, []);
  const third = broker.pull(sub.id, { waitMs: 1_000 });
  broker.close();
  assert.deepEqual([await second, await third], [[], []]);
});

test("pull() answers at once when events are ready, however many pulls wait", async () => {
  const { broker } = brokerOnFakeClock({ maxWaitingPulls: 1 });
  const idle = broker.subscribe({ kind: "required", types: ["idle"] });
  const busy = broker.subscribe({ kind: "required", types: ["busy"] });
  const waiting = broker.pull(idle.id, { waitMs: 1_000 });
  broker.send({ type: "busy" });
  assert.equal((await broker.pull(busy.id, { waitMs: 1_000 })).length, 1);
  assert.throws(() => broker.pull(busy.id, { waitMs: 1_000 }), TooManyWaitingPullsError);
  broker.close();
  await waiting;
});
