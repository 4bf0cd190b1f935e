// Group commit: with a journal, what one turn of the event loop changed is written in one
// commit, and only then shows and is answered; a failed commit shows and answers none of it.
// The turn is ended by hand here (`endTurn`), on a journal double that counts its commits.
import assert from "node:assert/strict";
import { test } from "node:test";
import { BacklogFullError, LocalEngine, StorageError, ValidationError } from "../../src/broker/mod.ts";
import { FakeClock } from "../support/fake-clock.ts";
import { JournalDouble } from "../support/journal-double.ts";

/** An engine on a journal double whose turns end when the test says. */
function durableEngine(options: { maxBacklog?: number } = {}) {
  const journal = new JournalDouble();
  const turns: (() => void)[] = [];
  let next = 0;
  const engine = new LocalEngine({ clock: new FakeClock(), journal, newId: () => `id-${++next}`, afterTurn: (callback) => void turns.push(callback), ...options });
  /** Ends the turn: runs what waited for it, then lets the answers through. */
  const endTurn = async () => {
    for (const callback of turns.splice(0)) callback();
    await settled();
  };
  /** Makes a change and ends the turn, for the setting up of a test. */
  const now = async <T>(change: Promise<T>) => {
    await endTurn();
    return await change;
  };
  return { engine, journal, endTurn, now };
}

/** Lets every promise that can settle without the turn ending settle. */
const settled = () => new Promise<void>((resolve) => queueMicrotask(() => void Promise.resolve().then(() => resolve())));

/** Whether `promise` has settled, after letting microtasks run. */
async function hasSettled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(() => (done = true), () => (done = true));
  for (let i = 0; i < 10; i++) await Promise.resolve();
  return done;
}

/** Asserts that a call was refused without waiting for the turn to end. */
async function refusedAtOnce(answer: Promise<unknown>, error: new (...args: never[]) => Error): Promise<void> {
  answer.catch(() => {});
  assert.equal(await hasSettled(answer), true, "answered before the turn ends");
  await assert.rejects(answer, error);
}

test("publishes of one turn share one commit, show nothing before it, and are answered after it with consecutive seqs in acceptance order", async () => {
  const { engine, journal, endTurn, now } = durableEngine();
  const sub = await now(engine.subscribe({}));
  const stream = await engine.openStream({});
  const commitsBefore = journal.commits.length;
  const one = engine.send({ type: "a", source: "/p", id: "1" });
  const batch = engine.sendBatch([{ type: "a" }, { type: "b", source: "/p", id: "2" }]);
  const again = engine.send({ type: "a", source: "/p", id: "1" });
  const invalid = engine.send({ type: "" });
  await refusedAtOnce(invalid, ValidationError);
  assert.equal(await hasSettled(Promise.race([one, batch, again])), false, "none answered before the commit");
  assert.equal(engine.broker.lastSeq, 0, "no seq shows");
  assert.deepEqual(stream.read(), [], "no stream sees them");
  assert.equal((await engine.describe(sub.id)).backlog, 0, "no required subscriber holds them");

  await endTurn();
  assert.deepEqual(await one, { accepted: 1, first: 1, last: 1 });
  assert.deepEqual(await batch, { accepted: 2, first: 2, last: 3 });
  assert.deepEqual(await again, { accepted: 0, first: null, last: null, duplicates: 1, duplicateSeqs: [1] }, "a pair staged earlier in the turn is a duplicate");
  assert.equal(journal.commits.length, commitsBefore + 1, "one commit");
  assert.deepEqual(journal.commits.at(-1)!.publishes!.map((events) => events.map((event) => event.seq)), [[1], [2, 3], []]);
  assert.deepEqual(stream.read().map((item) => (item as { seq: number }).seq), [1, 2, 3]);
  assert.equal((await engine.describe(sub.id)).backlog, 3);
  await engine.close();
});

test("a publish staged after others of its turn counts theirs against maxBacklog", async () => {
  const { engine, endTurn, now } = durableEngine();
  const sub = await now(engine.subscribe({ maxBacklog: 3 }));
  const first = engine.sendBatch([{ type: "a" }, { type: "a" }]);
  await refusedAtOnce(engine.sendBatch([{ type: "a" }, { type: "a" }]), BacklogFullError); // 2 staged + 2 > 3
  await endTurn();
  assert.equal((await first).last, 2);
  assert.equal((await engine.describe(sub.id)).backlog, 2);
  await engine.close();
});

test("subscriptions made, paused or resumed in a turn take its earlier publishes as a restart would", async () => {
  const { engine, journal, endTurn, now } = durableEngine();
  const [paused, resumed] = await now(engine.subscribeBatch([{}, {}]));
  await now(engine.setPaused(resumed.id, true));
  const publish = engine.send({ type: "a" });
  const changes = [engine.subscribe({}), engine.setPaused(paused.id, true), engine.setPaused(resumed.id, false)] as const;
  await endTurn();
  await publish;
  const made = await changes[0];
  const backlogs = async (target: LocalEngine) => Promise.all([made.id, paused.id, resumed.id].map(async (id) => (await target.describe(id)).backlog));
  assert.deepEqual(await backlogs(engine), [1, 0, 1], "made before the commit: it holds the event; paused: not; resumed: it does");
  await engine.close();
  const restarted = new LocalEngine({ clock: new FakeClock(), journal, afterTurn: () => {} });
  assert.deepEqual(await backlogs(restarted), [1, 0, 1], "the same after a restart");
  await restarted.close();
});

test("an ack, a nack, a pause and a removal are answered after the commit that writes them", async () => {
  const { engine, journal, endTurn, now } = durableEngine();
  const [sub, other, gone] = await now(engine.subscribeBatch([{}, {}, {}]));
  await now(engine.sendBatch([{ type: "a" }, { type: "a" }, { type: "a" }]));
  await engine.pull(sub.id, { max: 10 });
  const changes = [engine.ack(sub.id, 1), engine.nack(sub.id, 2), engine.setPaused(other.id, true), engine.remove(gone.id)];
  assert.equal(await hasSettled(Promise.race(changes)), false, "none answered before the commit");
  await endTurn();
  assert.deepEqual(await Promise.all(changes).then((answers) => answers.length), 4);
  const written = journal.commits.at(-1)!;
  assert.deepEqual(written.subscriptions!.map((record) => [record.id, record.ackedSeq, record.paused]).sort(), [[sub.id, 1, false], [other.id, 0, true]]);
  assert.deepEqual(written.removed, [gone.id]);
  await engine.close();
});

test("a commit that fails refuses every publish and change of its turn: no publish shows, a subscription made goes away, the rest is written by the next commit", async () => {
  const { engine, journal, endTurn, now } = durableEngine();
  const [sub, other, gone] = await now(engine.subscribeBatch([{}, {}, {}]));
  const stream = await engine.openStream({});
  await now(engine.sendBatch([{ type: "a" }, { type: "a" }]));
  stream.read();
  await engine.pull(sub.id, { max: 10 });

  journal.failing = true;
  const refused = [
    engine.send({ type: "a", source: "/p", id: "x" }),
    engine.sendBatch([{ type: "a" }, { type: "a" }]),
    engine.ack(sub.id, 2),
    engine.setPaused(other.id, true),
    engine.remove(gone.id),
    engine.subscribe({ name: "made in the failed turn" }),
  ];
  refused.forEach((answer) => answer.catch(() => {}));
  await endTurn();
  for (const answer of refused) await assert.rejects(answer, StorageError);
  assert.equal(journal.refused, 1, "one commit, refused");
  assert.equal(engine.broker.lastSeq, 2, "no seq of the refused publishes shows");
  assert.deepEqual(stream.read(), [], "no stream saw them");
  assert.deepEqual((await engine.list()).filter((view) => view.kind === "required").map((view) => view.id).sort(), [sub.id, other.id].sort(), "the subscription made in that turn is gone");
  assert.equal((await engine.health()).serving, false);

  journal.failing = false;
  const retried = engine.send({ type: "a", source: "/p", id: "x" });
  const removedAgain = engine.remove(gone.id);
  await endTurn();
  assert.deepEqual(await retried, { accepted: 1, first: 3, last: 3 }, "its seq is the next one, and its producer pair was never remembered");
  assert.equal(await removedAgain, true, "a removal whose commit failed is answered by the next one");
  const written = journal.commits.at(-1)!;
  assert.deepEqual(written.subscriptions!.map((record) => [record.id, record.ackedSeq, record.paused]).sort(), [[sub.id, 2, false], [other.id, 0, true]], "the ack and the pause, kept in memory, written now");
  assert.deepEqual(written.removed, [gone.id]);
  assert.equal((await engine.health()).serving, true);
  await engine.close();
});

test("without a journal nothing waits for a turn", async () => {
  const engine = new LocalEngine({ clock: new FakeClock(), afterTurn: () => assert.fail("no turn is waited for in memory") });
  const sub = await engine.subscribe({});
  assert.deepEqual(await engine.send({ type: "a" }), { accepted: 1, first: 1, last: 1 });
  await engine.pull(sub.id);
  assert.equal((await engine.ack(sub.id, 1)).ackedSeq, 1);
  await engine.close();
});
