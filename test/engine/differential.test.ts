// One oracle, every engine: random operations run on the in-memory engine and on another
// engine side by side, on one fake clock; after every step every answer (or error), every
// subscription's full view and every parked list must be the same. fast-check shrinks a
// failing run to the shortest one that still disagrees.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import process from "node:process";
import fc from "fast-check";
import { type Engine, type RequiredSpec, Selector } from "../../src/broker/mod.ts";
import { memorySide, redisSide, type Side, sqliteSide } from "../support/engine-sides.ts";
import { FakeClock } from "../support/fake-clock.ts";
import { type RunningRedis, startRedis } from "../support/redis-server.ts";

const SLOTS = 3;
const SWEEP_NEVER_MS = 2 ** 40; // sweeps are steps of their own, at the same instant on both sides

const eventArbitrary = fc.record({
  type: fc.constantFrom("a", "a.x", "b", "c.d"),
  source: fc.constantFrom(undefined, "/s1", "/s2"),
  id: fc.constantFrom(undefined, undefined, "p1", "p2", "p3"),
  subject: fc.constantFrom(undefined, "orders/1", "users/2"),
});

const specArbitrary = fc.record({
  types: fc.constantFrom<string[]>(["*"], ["a.*", "b"], ["c.*"], ["a"]),
  filters: fc.constantFrom<RequiredSpec["filters"]>(undefined, [{ prefix: { subject: "orders/" } }], [{ exact: { source: "/s1" } }]),
  maxDeliveries: fc.integer({ min: 0, max: 3 }),
  maxBacklog: fc.constantFrom(4, 8, 100),
  ackTimeoutMs: fc.constantFrom(200, 1_000),
  expireAfterMs: fc.constantFrom(0, 0, 1_000, 1_500), // 1,000: idle exactly that long after an advance of 1,000
  name: fc.constantFrom(undefined, "ledger"),
});

const slot = fc.nat({ max: SLOTS - 1 });
const stepArbitrary = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant("publish" as const), events: fc.array(eventArbitrary, { minLength: 1, maxLength: 4 }), one: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("burst" as const), publishes: fc.array(fc.array(eventArbitrary, { minLength: 1, maxLength: 3 }), { minLength: 2, maxLength: 4 }) }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant("pull" as const), slot, max: fc.integer({ min: 1, max: 6 }), ackBack: fc.option(fc.integer({ min: -1, max: 3 }), { nil: undefined }) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constantFrom("ack" as const, "nack" as const), slot, back: fc.integer({ min: -1, max: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("extend" as const), slot, ms: fc.constantFrom(100, 2_000) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant("advance" as const), ms: fc.constantFrom(50, 250, 1_000) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("pause" as const), slot, paused: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("resubscribe" as const), slot, spec: specArbitrary }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("sweep" as const) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("read" as const), after: fc.nat({ max: 12 }), max: fc.integer({ min: 1, max: 5 }), types: fc.constantFrom<string[]>(["*"], ["a.*"]) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("restart" as const) }) },
);
type Step = typeof stepArbitrary extends fc.Arbitrary<infer T> ? T : never;

interface Pair {
  readonly clock: FakeClock;
  readonly oracle: Side;
  readonly subject: Side;
}

/** What a call answered, as data: a value, or an error's name and message. */
async function answerOf(call: () => Promise<unknown>): Promise<unknown> {
  try {
    return { value: plain(await call()) };
  } catch (error) {
    return { error: (error as Error).name === "Error" ? String(error) : `${(error as Error).constructor.name}: ${(error as Error).message}` };
  }
}

/** An event without its undefined attributes. */
function defined(event: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(event).filter(([, value]) => value !== undefined));
}

function plain(value: unknown): unknown {
  return value === undefined ? null : JSON.parse(JSON.stringify(value));
}

/** Every subscription and its parked list, as this side describes them. */
async function stateOf(engine: Engine, ids: readonly string[]): Promise<unknown> {
  const views = (await engine.list()).sort((a, b) => a.id.localeCompare(b.id));
  const parked = await Promise.all(ids.map((id) => answerOf(async () => (await engine.parked(id)).map(({ event: { seq, type, json, size }, deliveries }) => ({ seq, type, json, size, deliveries })))));
  return plain({ views, parked });
}

class Run {
  readonly ids: string[] = [];
  readonly trace: string[] = [];

  constructor(readonly pair: Pair) {}

  /** Calls both sides the same way and asserts they answered alike; returns the oracle's answer. */
  async both<T>(label: string, call: (engine: Engine) => Promise<T>): Promise<unknown> {
    const expected = await answerOf(() => call(this.pair.oracle.pick()));
    const actual = await answerOf(() => call(this.pair.subject.pick()));
    this.trace.push(`${label} → ${JSON.stringify(expected)}`);
    assert.deepEqual(actual, expected, `${label} answered differently\n${this.trace.join("\n")}`);
    return expected;
  }

  async compareState(): Promise<void> {
    const expected = await stateOf(this.pair.oracle.pick(), this.ids);
    for (let instance = 0; instance < 2; instance++) {
      const actual = await stateOf(this.pair.subject.pick(), this.ids);
      assert.deepEqual(actual, expected, `the state differs\n${this.trace.join("\n")}`);
    }
  }

  async subscribe(index: number, spec: RequiredSpec): Promise<void> {
    const answer = (await this.both(`subscribe ${index} ${JSON.stringify(spec)}`, (engine) => engine.subscribe(spec))) as { value?: { id: string } };
    this.ids[index] = answer.value!.id;
  }

  /** The seq `back` below what slot `index` was last delivered, by the oracle's account. */
  async seqFor(index: number, back: number): Promise<number> {
    const view = await this.pair.oracle.pick().describe(this.ids[index]).catch(() => undefined); // expired
    return Math.max(0, (view?.required!.lastDeliveredSeq ?? 0) - back);
  }

  async step(step: Step): Promise<void> {
    const { clock, oracle, subject } = this.pair;
    const label = JSON.stringify(step);
    switch (step.op) {
      case "publish": {
        const events = step.events.map(defined);
        await this.both(label, (engine) => (step.one && events.length === 1 ? engine.send(events[0]) : engine.sendBatch(events)));
        return;
      }
      case "burst": {
        // Publishes in flight together (an engine may carry them in one call), answered as if one after the other.
        const batches = step.publishes.map((events) => events.map(defined));
        const expected = [];
        for (const batch of batches) expected.push(await answerOf(() => oracle.pick().sendBatch(batch)));
        const engine = subject.pick();
        const actual = await Promise.all(batches.map((batch) => answerOf(() => engine.sendBatch(batch))));
        this.trace.push(`${label} → ${JSON.stringify(expected)}`);
        assert.deepEqual(actual, expected, `${label} answered differently\n${this.trace.join("\n")}`);
        return;
      }
      case "pull": {
        const ack = step.ackBack === undefined ? undefined : await this.seqFor(step.slot, step.ackBack);
        await this.both(`${label}${ack === undefined ? "" : ` ack ${ack}`}`, async (engine) => (await engine.pull(this.ids[step.slot], { max: step.max, ack })).map(({ events, deliveries }) => ({ deliveries, events: events.map(({ seq, json }) => ({ seq, json })) })));
        return;
      }
      case "ack":
      case "nack": {
        const seq = await this.seqFor(step.slot, step.back);
        await this.both(`${label} seq ${seq}`, (engine) => engine[step.op](this.ids[step.slot], seq));
        return;
      }
      case "extend":
        await this.both(label, (engine) => engine.extend(this.ids[step.slot], step.ms));
        return;
      case "advance":
        clock.advance(step.ms);
        this.trace.push(label);
        return;
      case "pause":
        await this.both(label, (engine) => engine.setPaused(this.ids[step.slot], step.paused));
        return;
      case "resubscribe":
        await this.both(`remove ${step.slot}`, (engine) => engine.remove(this.ids[step.slot]));
        await this.subscribe(step.slot, step.spec);
        return;
      case "read":
        await this.both(label, (engine) => engine.read(step.after, step.max, new Selector(step.types)));
        return;
      case "sweep":
        await oracle.pick().sweep();
        await subject.pick().sweep();
        this.trace.push(label);
        return;
      case "restart":
        // After a restart everything unacknowledged is due at once: the oracle's leases lapse first (2 s: the longest extend).
        clock.advance(2_000);
        await subject.restart();
        this.trace.push(label);
        return;
    }
  }
}

async function agree(pair: Pair, specs: RequiredSpec[], steps: Step[]): Promise<void> {
  const run = new Run(pair);
  try {
    for (let index = 0; index < SLOTS; index++) await run.subscribe(index, specs[index]);
    for (const step of steps) {
      await run.step(step);
      await run.compareState();
    }
  } finally {
    await pair.oracle.stop();
    await pair.subject.stop();
  }
}

/** Settings a run gives both sides. */
interface RunSettings {
  readonly dedupeWindowMs: number;
  /** Small, so that parked lists are trimmed; 0 keeps none (Redis once refused to trim to -0). */
  readonly maxParked: number;
}

/** Engine settings both sides share: ids from a counter of each side's own, so both make the same. */
function settings(clock: FakeClock, run: RunSettings) {
  let next = 0;
  return { clock, newId: () => `id-${++next}`, sweepIntervalMs: SWEEP_NEVER_MS, ...run };
}

let redis: RunningRedis | undefined;
before(async () => {
  redis = await startRedis({ appendonly: false });
});
after(async () => {
  await redis?.stop({ removeDir: true });
});

const runArbitrary = fc.tuple(
  fc.record({ dedupeWindowMs: fc.constantFrom(2_000, 2_000, 0), maxParked: fc.constantFrom(3, 1, 0) }),
  fc.array(specArbitrary, { minLength: SLOTS, maxLength: SLOTS }),
  fc.array(stepArbitrary, { maxLength: 40, size: "max" }),
);

async function property(makeSubject: (clock: FakeClock, run: RunSettings) => Side | Promise<Side>, numRuns: number): Promise<void> {
  numRuns = Math.round(numRuns * Number(process.env.DIFFERENTIAL_SCALE ?? 1));
  await fc.assert(
    fc.asyncProperty(runArbitrary, async ([run, specs, steps]) => {
      const clock = new FakeClock();
      await agree({ clock, oracle: memorySide(settings(clock, run)), subject: await makeSubject(clock, run) }, specs, steps);
    }),
    { numRuns },
  );
}

test("a SQLite journal, restarted at random, answers every call as memory does", { timeout: 240_000 }, async () => {
  await property((clock, run) => sqliteSide(settings(clock, run)), 150);
});

test("one Redis engine answers every call as memory does", { timeout: 240_000 }, async () => {
  await property((clock, run) => redisSide(redis!.url, settings(clock, run), { instances: 1, pick: "turns" }), 100);
});

test("two Redis engines on one Redis, called in turn, answer every call as memory does", { timeout: 240_000 }, async () => {
  await property((clock, run) => redisSide(redis!.url, settings(clock, run), { instances: 2, pick: "turns" }), 100);
});
