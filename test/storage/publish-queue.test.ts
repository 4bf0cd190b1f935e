// The queue that carries a Redis instance's publishes: those that arrive together share a
// call, two calls at most are under way, and each call names the one it must follow.
import assert from "node:assert/strict";
import { test } from "node:test";
import { type CallOrder, PublishQueue } from "../../src/storage/redis/publish-queue.ts";

/** A send whose calls are answered when the test says, each recorded with what it carried. */
function controlledSend() {
  const calls: { publishes: readonly string[]; order: CallOrder; answer: (fail?: boolean) => void }[] = [];
  const send = (publishes: readonly string[], order: CallOrder) =>
    new Promise<string[]>((resolve, reject) => {
      calls.push({ publishes, order, answer: (fail) => (fail ? reject(new Error("Redis is gone")) : resolve(publishes.map((p) => `${p}!`))) });
    });
  return { calls, send };
}

const turn = () => new Promise((resolve) => setTimeout(resolve, 0));

test("publishes that arrive while two calls are under way go together in the next, each answered on its own", async () => {
  const { calls, send } = controlledSend();
  const queue = new PublishQueue<string, string>(send);
  const answers = ["a", "b", "c", "d"].map((p) => queue.enqueue(p, 1));
  await turn();
  assert.deepEqual(calls.map((call) => call.publishes), [["a"], ["b"]], "two calls at once");
  calls[0].answer();
  await turn();
  assert.deepEqual(calls.map((call) => call.publishes), [["a"], ["b"], ["c", "d"]]);
  calls[1].answer();
  calls[2].answer();
  assert.deepEqual(await Promise.all(answers), ["a!", "b!", "c!", "d!"]);
});

test("each call names the one before it; after a failed call, the next names none", async () => {
  const { calls, send } = controlledSend();
  const queue = new PublishQueue<string, string>(send);
  const first = queue.enqueue("a", 1);
  const second = queue.enqueue("b", 1);
  await turn();
  assert.deepEqual(calls.map(({ order }) => [order.number, order.after]), [[1, null], [2, 1]]);
  calls[0].answer(true);
  await assert.rejects(first, /Redis is gone/);
  assert.equal(await calls[1].order.previous, false, "the call before failed");
  const third = queue.enqueue("c", 1);
  await turn();
  assert.deepEqual([calls[2].order.number, calls[2].order.after], [3, null], "nothing known to follow");
  calls[1].answer();
  calls[2].answer();
  assert.equal(await calls[2].order.previous, true);
  assert.deepEqual(await Promise.all([second, third]), ["b!", "c!"]);
});

test("a call carries at most 2,000 events, exactly 2,000 included, and always one publish", async () => {
  const { calls, send } = controlledSend();
  const queue = new PublishQueue<string, string>(send);
  const answers = [queue.enqueue("x", 1), queue.enqueue("y", 1), queue.enqueue("big", 5_000), queue.enqueue("a", 1_500), queue.enqueue("b", 500), queue.enqueue("c", 1)];
  await turn();
  calls[0].answer();
  calls[1].answer();
  await turn();
  calls[2].answer();
  await turn();
  calls[3].answer();
  await turn();
  calls[4]?.answer();
  await Promise.all(answers);
  assert.deepEqual(calls.map((call) => call.publishes), [["x"], ["y"], ["big"], ["a", "b"], ["c"]]);
});
