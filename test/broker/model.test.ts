// A model-based property test: random sequences of operations drive the core, and every
// required subscriber is checked against a simple reference model after each step.
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BacklogFullError, Broker, matchesAny, NeverDeliveredError, type RequiredSubscription } from "../../src/broker/mod.ts";
import { SqliteJournal } from "../../src/storage/sqlite-journal.ts";
import { FakeClock } from "../support/fake-clock.ts";
import { brokerOnFakeClock, seqsOf } from "../support/broker.ts";

const TYPES = ["a", "a.x", "b", "c.d", "e"];
const SLOT_PATTERNS = [["*"], ["a.*", "b"], ["c.*"]];
const MAX_BACKLOG = 8;
const ACK_TIMEOUT_MS = 500;

/** What a required subscriber must see: the unacked events it is owed, in order. */
interface ModelSub {
  sub: RequiredSubscription;
  paused: boolean;
  /** Owed and not yet acknowledged. */
  pending: number[];
  /** Handed out at least once; the highest is the limit for ack and nack. */
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
);
/** With a journal, the broker may also be stopped and started again between any two steps. */
const durableOperation = fc.oneof({ arbitrary: operation, weight: 9 }, { arbitrary: fc.record({ op: fc.constant("restart" as const) }), weight: 1 });
type Operation = typeof durableOperation extends fc.Arbitrary<infer T> ? T : never;

/** The broker under test, and how to restart it: the in-memory one cannot be. */
interface Subject {
  broker: Broker;
  readonly clock: FakeClock;
  restart(): void;
  stop(): void;
}

function inMemory(): Subject {
  const { broker, clock } = brokerOnFakeClock();
  return { broker, clock, restart: () => assert.fail("an in-memory broker is not restarted"), stop: () => broker.close() };
}

/** A broker on a SQLite journal in a fresh directory; a restart closes both and opens them again. */
function durable(): Subject {
  const dir = mkdtempSync(join(tmpdir(), "broker-model-"));
  const clock = new FakeClock();
  let next = 0;
  const open = () => {
    const journal = new SqliteJournal(dir, { sync: "normal" });
    return { journal, broker: new Broker({ clock, journal, newId: () => `id-${++next}` }) };
  };
  let current = open();
  return {
    get broker() {
      return current.broker;
    },
    clock,
    restart() {
      clock.advance(0); // the turn ends: its progress is written
      current.broker.close();
      current.journal.close();
      current = open();
    },
    stop() {
      current.broker.close();
      current.journal.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function subscribeSlot(broker: Broker, index: number): ModelSub {
  const sub = broker.subscribe({ kind: "required", types: SLOT_PATTERNS[index], maxBacklog: MAX_BACKLOG, ackTimeoutMs: ACK_TIMEOUT_MS, expireAfterMs: 0 });
  return { sub, paused: false, pending: [], delivered: new Set(), lastDelivered: broker.lastSeq };
}

function publish(broker: Broker, model: ModelSub[], types: string[]): void {
  const owed = model.map((m) => (m.paused ? [] : types.flatMap((t, i) => (matchesAny(m.sub.types, t) ? [broker.lastSeq + 1 + i] : []))));
  const overflows = model.some((m, i) => m.pending.length + owed[i].length > MAX_BACKLOG);
  const before = broker.lastSeq;
  if (overflows) {
    assert.throws(() => broker.sendBatch(types.map((t) => ({ type: t }))), BacklogFullError);
    assert.equal(broker.lastSeq, before, "a refused publish accepts nothing");
    return;
  }
  assert.equal(broker.sendBatch(types.map((t) => ({ type: t }))).first, before + 1);
  model.forEach((m, i) => m.pending.push(...owed[i]));
}

async function pull(broker: Broker, m: ModelSub, max: number): Promise<void> {
  const seqs = seqsOf(await broker.pull(m.sub.id, { max }));
  const undelivered = m.pending.some((seq) => !m.delivered.has(seq));
  if (seqs.length === 0) {
    assert.ok(!undelivered, `nothing pulled though ${m.pending} are owed and some never delivered`);
    return;
  }
  const start = m.pending.indexOf(seqs[0]);
  assert.ok(start !== -1, `pulled ${seqs[0]}, which is not owed (${m.pending})`);
  assert.deepEqual(seqs, m.pending.slice(start, start + seqs.length), "a pull is an in-order run of what is owed");
  for (const seq of m.pending.slice(0, start)) assert.ok(m.delivered.has(seq), `${seq} was skipped`);
  for (const seq of seqs) m.delivered.add(seq);
  m.lastDelivered = Math.max(m.lastDelivered, seqs.at(-1)!);
}

/** Acks or nacks a seq near the last delivered one; beyond it must be refused. */
function settle(broker: Broker, m: ModelSub, kind: "ack" | "nack", back: number): void {
  const seq = Math.max(0, m.lastDelivered - back);
  const call = () => (kind === "ack" ? broker.ack(m.sub.id, seq) : broker.nack(m.sub.id, seq));
  if (seq > m.lastDelivered) {
    assert.throws(call, NeverDeliveredError);
    return;
  }
  call();
  if (kind === "ack") m.pending = m.pending.filter((pending) => pending > seq);
}

async function step(subject: Subject, model: ModelSub[], operation: Operation): Promise<void> {
  const { broker, clock } = subject;
  switch (operation.op) {
    case "send": return publish(broker, model, operation.types);
    case "pull": return pull(broker, model[operation.slot], operation.max);
    case "ack":
    case "nack": return settle(broker, model[operation.slot], operation.op, operation.back);
    case "pause":
      broker.setPaused(model[operation.slot].sub.id, operation.paused);
      model[operation.slot].paused = operation.paused;
      return;
    case "delete":
      broker.unsubscribe(model[operation.slot].sub.id);
      model[operation.slot] = subscribeSlot(broker, operation.slot);
      return;
    case "advance": return clock.advance(operation.ms);
    case "restart":
      subject.restart();
      // The same subscriptions, as new objects; what was delivered and not acked is owed again.
      for (const m of model) m.sub = subject.broker.get(m.sub.id) as RequiredSubscription;
      return;
  }
}

/** After the run: with every lease lapsed, draining each subscriber yields exactly what it is owed. */
async function drain(broker: Broker, clock: FakeClock, model: ModelSub[]): Promise<void> {
  clock.advance(ACK_TIMEOUT_MS);
  for (const m of model) {
    const drained: number[] = [];
    for (let seqs = seqsOf(await broker.pull(m.sub.id, { max: 100 })); seqs.length > 0; seqs = seqsOf(await broker.pull(m.sub.id, { max: 100 }))) {
      drained.push(...seqs);
      broker.ack(m.sub.id, seqs.at(-1)!);
    }
    assert.deepEqual(drained, m.pending, "nothing lost, nothing out of order, nothing extra");
    assert.equal(m.sub.backlog, 0);
  }
}

async function agreesWithModel(subject: Subject, operations: Operation[]): Promise<void> {
  const model = SLOT_PATTERNS.map((_, index) => subscribeSlot(subject.broker, index));
  try {
    for (const operation of operations) {
      await step(subject, model, operation);
      for (const m of model) assert.equal(m.sub.backlog, m.pending.length, "backlog counts what is owed");
    }
    await drain(subject.broker, subject.clock, model);
  } finally {
    subject.stop();
  }
}

test("required subscribers match the reference model under random operations", async () => {
  await fc.assert(
    // size "max": runs of up to 60 operations, not fast-check's usual 10 or so, which seldom hold a
    // batch, a pull and an ack inside it on one slot (an ack point kept at the batch's start passed 4 runs in 10).
    fc.asyncProperty(fc.array(operation, { maxLength: 60, size: "max" }), (operations) => agreesWithModel(inMemory(), operations)),
    { numRuns: 300 },
  );
});

test("required subscribers on a journal match the reference model, restarted at random between operations", async () => {
  await fc.assert(fc.asyncProperty(fc.array(durableOperation, { maxLength: 60, size: "max" }), (operations) => agreesWithModel(durable(), operations)), { numRuns: 100 });
});
