import assert from "node:assert/strict";
import { test } from "node:test";
import { ConnectionWatch } from "../src/connection-watch.ts";
import type { ConnectionTimer } from "../src/connection-watch.ts";
import { sleep } from "./support/wait.ts";

const TIMEOUT_MS = 100;

/** A watch whose closes and cuts are recorded with the time they came. */
function watched() {
  const started = Date.now();
  const events: string[] = [];
  const watch = new ConnectionWatch(TIMEOUT_MS, () => events.push(`close ${Date.now() - started}`), () => events.push(`cut ${Date.now() - started}`));
  return { watch, events, when: (event: string) => Number(events.find((e) => e.startsWith(event))?.split(" ")[1]) };
}

/** What happened, without the times. */
const kinds = (events: readonly string[]) => events.map((event) => event.split(" ")[0]);
const request = () => new Request("http://broker.test/");
const never = () => new Promise<unknown>(() => {});

test("a connection that brings no request within the timeout is closed", async () => {
  const { watch, events, when } = watched();
  await sleep(TIMEOUT_MS * 2);
  assert.equal(events.length, 1, events.join());
  assert.ok(when("close") >= TIMEOUT_MS - 5, events.join());
  watch.stop();
});

test("a connection idle after its answer is closed a timeout later, not before", async () => {
  const { watch, events, when } = watched();
  await sleep(TIMEOUT_MS / 2);
  await watch.answer(request(), never, async () => new Response("ok"));
  await sleep(TIMEOUT_MS * 2);
  assert.ok(when("close") >= TIMEOUT_MS * 1.5 - 5, events.join());
  watch.stop();
});

test("a request unanswered past the timeout cuts the connection, unless held", async () => {
  const slow = watched();
  slow.watch.answer(request(), never, () => sleep(TIMEOUT_MS * 2).then(() => new Response("late")));
  await sleep(TIMEOUT_MS * 3);
  assert.deepEqual(kinds(slow.events), ["cut"]);
  slow.watch.stop();

  const held = watched();
  let delivered!: () => void;
  held.watch.answer(request(), () => new Promise<void>((resolve) => (delivered = resolve)), async (req: Request, timer: ConnectionTimer) => {
    timer.hold(req);
    await sleep(TIMEOUT_MS * 2);
    return new Response("a stream");
  });
  await sleep(TIMEOUT_MS * 4);
  assert.equal(held.events.length, 0, "nothing while the held answer is being delivered");
  delivered();
  await sleep(TIMEOUT_MS * 2);
  assert.deepEqual(kinds(held.events), ["close"]);
  held.watch.stop();
});

test("a released request is timed again", async () => {
  const { watch, events } = watched();
  watch.answer(request(), never, async (req: Request, timer: ConnectionTimer) => {
    timer.hold(req);
    await sleep(TIMEOUT_MS * 2);
    timer.release(req);
    await sleep(TIMEOUT_MS * 3);
    return new Response("late");
  });
  await sleep(TIMEOUT_MS * 4);
  assert.deepEqual(kinds(events), ["cut"]);
  watch.stop();
});

test("an answer with Connection: close to a request without a body closes the connection gracefully once delivered", async () => {
  const { watch, events } = watched();
  await watch.answer(request(), async () => {}, async () => new Response("bye", { headers: { Connection: "close" } }));
  await sleep(10);
  assert.deepEqual(kinds(events), ["close"]);
  watch.stop();
});

test("an answer with Connection: close to a request with a body cuts the connection a second after it is delivered, never closing it gracefully", async () => {
  const { watch, events } = watched();
  const upload = new Request("http://broker.test/events", { method: "POST", body: "[" });
  await watch.answer(upload, async () => {}, async () => new Response("refused", { status: 503, headers: { Connection: "close" } }));
  await sleep(500);
  assert.deepEqual(kinds(events), [], "the client has a moment to read the answer; a graceful close would wait for the rest of the body");
  await sleep(700);
  assert.deepEqual(kinds(events), ["cut"]);
  watch.stop();
});

test("closeWhenIdle() closes an idle connection at once, and a busy one after its answer", async () => {
  const idle = watched();
  idle.watch.closeWhenIdle();
  assert.deepEqual(kinds(idle.events), ["close"]);
  idle.watch.stop();

  const busy = watched();
  const answered = busy.watch.answer(request(), never, () => sleep(20).then(() => new Response("ok")));
  assert.ok(busy.watch.idleSince === undefined);
  busy.watch.closeWhenIdle();
  assert.equal(busy.events.length, 0);
  await answered;
  assert.deepEqual(kinds(busy.events), ["close"]);
  busy.watch.stop();
});
