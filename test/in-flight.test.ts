import assert from "node:assert/strict";
import { test } from "node:test";
import { InFlight } from "../src/in-flight.ts";

test("InFlight counts answers until they settle, and settled() waits for them", async () => {
  const inFlight = new InFlight<string>();
  let finish!: (answer: string) => void;
  const answer = inFlight.track(new Promise<string>((resolve) => (finish = resolve)));
  assert.equal(inFlight.count, 1);
  assert.equal(await inFlight.settled(20), false, "still in flight after 20 ms");
  const settled = inFlight.settled(1_000);
  finish("done");
  assert.equal(await answer, "done");
  assert.equal(await settled, true);
  assert.equal(inFlight.count, 0);
});

test("InFlight.answerAll() answers what is still in flight at once, and its own answer is then ignored", async () => {
  const inFlight = new InFlight<string>();
  let finish!: (answer: string) => void;
  const slow = inFlight.track(new Promise<string>((resolve) => (finish = resolve)));
  const failing = inFlight.track(Promise.reject(new Error("boom")));
  await assert.rejects(failing, /boom/);
  inFlight.answerAll(() => "refused");
  assert.equal(await slow, "refused");
  finish("late");
  assert.equal(await inFlight.settled(0), true);
});
