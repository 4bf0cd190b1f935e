// The delivery rules against one reference model: random operations through the Engine
// interface, every required subscriber checked after each step, whichever engine keeps the
// state: memory, a SQLite journal restarted at random, or Redis shared by two instances.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import fc from "fast-check";
import { BacklogFullError, type Engine, matchesAny, NeverDeliveredError } from "../../src/broker/mod.ts";
import { memorySide, redisSide, type Side, sqliteSide } from "../support/engine-sides.ts";
import { FakeClock } from "../support/fake-clock.ts";
import { type RunningRedis, startRedis } from "../support/redis-server.ts";

const TYPES = ["a", "a.x", "b", "c.d", "e"];
const SLOT_PATTERNS = [["*"], ["a.*", "b"], ["c.*"]];
const MAX_BACKLOG = 8;
const ACK_TIMEOUT_MS = 500;

interface ModelSub {
  id: string;
  paused: boolean;
  pending: number[];
  delivered: Set<number>;
  lastDelivered: number;
}

const type = fc.constantFrom(...TYPES);
const slot = fc.nat({ max: SLOT_PATTERNS.length - 1 });
const operation = fc.oneof(
  fc.record({ op: fc.constant("send" as const), types: fc.array(type, { minLength: 1, maxLength: 1 }) }),
  fc.record({ op: fc.constant("send" as const), types: fc.array(type, { minLength: 1, maxLength: 5 }) }),
  fc.record({ op: fc.constant("pull" as const), slot, max: fc.integer({ min: 1, max: 6 }) }),
  fc.record({ op: fc.constant("ack" as const), slot, back: fc.integer({ min: -1, max: 3 }) }),
  fc.record({ op: fc.constant("nack" as const), slot, back: fc.integer({ min: -1, max: 3 }) }),
  fc.record({ op: fc.constant("pause" as const), slot, paused: fc.boolean() }),
  fc.record({ op: fc.constant("delete" as const), slot }),
  fc.record({ op: fc.constant("advance" as const), ms: fc.constantFrom(10, 100, ACK_TIMEOUT_MS) }),
  fc.record({ op: fc.constant("restart" as const) }),
);
type Operation = typeof operation extends fc.Arbitrary<infer T> ? T : never;

/** The engine under test: `pick()` is the one a request goes to (at random, with several instances). */
interface Subject {
  readonly clock: FakeClock;
  pick(): Engine;
  /** Stops and starts the engine on its state, where it keeps any. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** The last seq the model has seen accepted: every accepted publish follows on from it. */
let lastAccepted = 0;

async function agreesWithModel(subject: Subject, operations: Operation[]): Promise<void> {
  const model: ModelSub[] = [];
  lastAccepted = 0;
  try {
    for (let index = 0; index < SLOT_PATTERNS.length; index++) model.push(await subscribeSlot(subject.pick(), index));
    for (const operation of operations) {
      await step(subject, model, operation);
      for (const m of model) assert.equal((await subject.pick().describe(m.id)).backlog, m.pending.length, `backlog after ${JSON.stringify(operation)}`);
    }
    await drain(subject, model);
  } finally {
    await subject.stop();
  }
}

async function subscribeSlot(engine: Engine, index: number): Promise<ModelSub> {
  const view = await engine.subscribe({ types: SLOT_PATTERNS[index], maxBacklog: MAX_BACKLOG, ackTimeoutMs: ACK_TIMEOUT_MS, expireAfterMs: 0 });
  return { id: view.id, paused: false, pending: [], delivered: new Set(), lastDelivered: view.required!.ackedSeq };
}

async function step(subject: Subject, model: ModelSub[], operation: Operation): Promise<void> {
  const engine = subject.pick();
  switch (operation.op) {
    case "send": return publish(engine, model, operation.types);
    case "pull": return pull(engine, model[operation.slot], operation.max);
    case "ack":
    case "nack": return settle(engine, model[operation.slot], operation.op, operation.back);
    case "pause":
      await engine.setPaused(model[operation.slot].id, operation.paused);
      model[operation.slot].paused = operation.paused;
      return;
    case "delete":
      await engine.remove(model[operation.slot].id);
      model[operation.slot] = await subscribeSlot(engine, operation.slot);
      return;
    case "advance": return subject.clock.advance(operation.ms);
    case "restart": return subject.restart();
  }
}

async function publish(engine: Engine, model: ModelSub[], types: string[]): Promise<void> {
  const owed = model.map((m) => (m.paused ? [] : types.flatMap((t, i) => (matchesAny(SLOT_PATTERNS[model.indexOf(m)], t) ? [i] : []))));
  const overflows = model.some((m, i) => m.pending.length + owed[i].length > MAX_BACKLOG);
  if (overflows) {
    await assert.rejects(engine.sendBatch(types.map((t) => ({ type: t }))), BacklogFullError);
    return;
  }
  const { first, last } = await engine.sendBatch(types.map((t) => ({ type: t })));
  assert.equal(first, lastAccepted + 1, "seqs follow on, and a refused publish took none");
  lastAccepted = last!;
  model.forEach((m, i) => m.pending.push(...owed[i].map((index) => first! + index)));
}

async function pull(engine: Engine, m: ModelSub, max: number): Promise<void> {
  const events = (await engine.pull(m.id, { max })).flatMap((delivery) => delivery.events);
  for (const event of events) assert.equal(JSON.parse(event.json).seq, event.seq, "an event's JSON carries its own seq");
  const seqs = events.map((event) => event.seq);
  if (seqs.length === 0) {
    assert.ok(!m.pending.some((seq) => !m.delivered.has(seq)), `nothing pulled though ${m.pending} are owed and some never delivered`);
    return;
  }
  const start = m.pending.indexOf(seqs[0]);
  assert.ok(start !== -1, `pulled ${seqs[0]}, which is not owed (${m.pending})`);
  assert.deepEqual(seqs, m.pending.slice(start, start + seqs.length), "a pull is an in-order run of what is owed");
  for (const seq of m.pending.slice(0, start)) assert.ok(m.delivered.has(seq), `${seq} was skipped`);
  for (const seq of seqs) m.delivered.add(seq);
  m.lastDelivered = Math.max(m.lastDelivered, seqs.at(-1)!);
}

async function settle(engine: Engine, m: ModelSub, kind: "ack" | "nack", back: number): Promise<void> {
  const seq = Math.max(0, m.lastDelivered - back);
  const call = () => (kind === "ack" ? engine.ack(m.id, seq) : engine.nack(m.id, seq));
  if (seq > m.lastDelivered) {
    await assert.rejects(call(), NeverDeliveredError);
    return;
  }
  await call();
  if (kind === "ack") m.pending = m.pending.filter((pending) => pending > seq);
}

async function drain(subject: Subject, model: ModelSub[]): Promise<void> {
  subject.clock.advance(ACK_TIMEOUT_MS);
  for (const m of model) {
    const drained: number[] = [];
    for (;;) {
      const seqs = (await subject.pick().pull(m.id, { max: 100 })).flatMap((delivery) => delivery.events.map((event) => event.seq));
      if (seqs.length === 0) break;
      drained.push(...seqs);
      await subject.pick().ack(m.id, seqs.at(-1)!);
    }
    assert.deepEqual(drained, m.pending, "nothing lost, nothing out of order, nothing extra");
  }
}

/** An engine of `make`'s on a fake clock, with ids from a counter; a journal's restart lets this turn's progress reach it first. */
async function subjectOf(make: (options: { clock: FakeClock; newId: () => string }) => Side | Promise<Side>): Promise<Subject> {
  const clock = new FakeClock();
  let next = 0;
  const side = await make({ clock, newId: () => `id-${++next}` });
  return { clock, pick: () => side.pick(), stop: () => side.stop(), restart: () => (clock.advance(0), side.restart()) };
}

let redis: RunningRedis | undefined;
before(async () => {
  redis = await startRedis({ appendonly: false });
});
after(async () => {
  await redis?.stop({ removeDir: true });
});

const inMemory = () => subjectOf(memorySide);
const onJournal = () => subjectOf(sqliteSide);
const onRedis = () => subjectOf((options) => redisSide(redis!.url, options, { instances: 2, pick: "random" }));

// size "max": runs of up to 60 operations, not fast-check's usual 10 or so, which seldom hold a
// batch, a pull and an ack inside it on one slot (an ack point kept at the batch's start passed 4 runs in 10).
const operations = (restarts: boolean) => fc.array(restarts ? operation : operation.filter((op) => op.op !== "restart"), { maxLength: 60, size: "max" });

test("the in-memory engine matches the reference model", async () => {
  await fc.assert(fc.asyncProperty(operations(false), async (run) => agreesWithModel(await inMemory(), run)), { numRuns: 300 });
});

test("the engine on a SQLite journal matches the reference model, restarted at random", { timeout: 120_000 }, async () => {
  await fc.assert(fc.asyncProperty(operations(true), async (run) => agreesWithModel(await onJournal(), run)), { numRuns: 100 });
});

test("two engines sharing one Redis match the reference model, each call to either, one restarted at random", { timeout: 120_000 }, async () => {
  await fc.assert(fc.asyncProperty(operations(true), async (run) => agreesWithModel(await onRedis(), run)), { numRuns: 40 });
});
