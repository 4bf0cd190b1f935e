import assert from "node:assert/strict";
import { test } from "node:test";
import { InFlight } from "../src/in-flight.ts";

/** `answer`, or a failure when it is still unanswered after a second. */
async function answered<T>(answer: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const unanswered = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error("a request was left unanswered")), 1_000)));
  try {
    return await Promise.race([answer, unanswered]);
  } finally {
    clearTimeout(timer);
  }
}

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
  assert.equal(inFlight.count, 1, "a failed answer is no longer in flight");
  inFlight.answerAll(() => "refused");
  assert.equal(await answered(slow), "refused");
  finish("late");
  await new Promise((resolve) => setTimeout(resolve, 0)); // the late answer arrives
  assert.equal(inFlight.count, 0, "the late answer is not counted off a second time");
  assert.equal(await inFlight.settled(0), true);
});

test("InFlight keeps each request apart however they settle: answerAll() answers only those left", async () => {
  const inFlight = new InFlight<string>();
  const finishes: ((answer: string) => void)[] = [];
  const answers = Array.from({ length: 6 }, () => inFlight.track(new Promise<string>((resolve) => finishes.push(resolve))));
  for (const index of [3, 2, 5]) finishes[index](`own ${index}`); // between, its older neighbour, the newest
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(inFlight.count, 3);
  let early = 0;
  inFlight.answerAll(() => `early ${early++}`);
  assert.deepEqual((await answered(Promise.all(answers))).map((answer) => answer.split(" ")[0]), ["early", "early", "own", "own", "early", "own"]);
  assert.equal(early, 3, "each of the three left was answered once");
  assert.equal(inFlight.count, 0);
});

test("InFlight.answerAll() whose early answer throws leaves the request counted, to be answered by the next", async () => {
  const inFlight = new InFlight<string>();
  const answer = inFlight.track(new Promise<string>(() => {}));
  assert.throws(() => inFlight.answerAll(() => {
    throw new Error("no answer");
  }), /no answer/);
  assert.equal(inFlight.count, 1);
  inFlight.answerAll(() => "refused");
  assert.equal(await answered(answer), "refused");
  assert.equal(inFlight.count, 0);
});
