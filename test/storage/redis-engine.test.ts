// The Redis engine says what a failure is: a script's own error is a 500 naming its file and
// line, never a 503; limits that hold across instances are decided inside the script; and
// a failing sweep is logged and shown by /healthz and /metrics until it works again. Also
// what the differential test cannot reach: retention against what subscriptions hold, a
// pull's one round trip, and a pull waiting on one instance keeping its subscription in
// use for the sweeps of all.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, test } from "node:test";
import { Redis } from "ioredis";
import { Selector, TooManySubscriptionsError } from "../../src/broker/mod.ts";
import { settingsSchema } from "../../src/config.ts";
import { brokerOptionsOf, createBrokerServer } from "../../src/server.ts";
import { RedisKeys } from "../../src/storage/redis/keys.ts";
import { RedisEngine } from "../../src/storage/redis/redis-engine.ts";
import { ScriptError } from "../../src/storage/redis/redis-errors.ts";
import { Scripts } from "../../src/storage/redis/scripts.ts";
import { problemOf } from "../support/app.ts";
import { FakeClock } from "../support/fake-clock.ts";
import { sharedRedis } from "../support/redis-server.ts";
import { eventually, within } from "../support/wait.ts";

const clients: Redis[] = [];
after(() => clients.forEach((client) => client.disconnect()));

async function setUp(overrides: Record<string, unknown> = {}) {
  const { url } = await sharedRedis();
  const prefix = `engine:${crypto.randomUUID()}:`;
  const settings = settingsSchema.parse({ hosts: "broker.test", ...overrides });
  const clock = new FakeClock();
  const open = (options: { sweepIntervalMs?: number } = {}) => RedisEngine.open({ ...brokerOptionsOf(settings, clock), url, prefix, commandTimeoutMs: 10_000, ...options });
  const client = new Redis(url);
  clients.push(client);
  return { settings, clock, open, client, keys: new RedisKeys(prefix) };
}

/** Runs `work` with console.error captured. */
async function capturingErrors<T>(work: () => Promise<T>): Promise<{ result: T; logged: string[] }> {
  const logged: string[] = [];
  const original = console.error;
  console.error = (...parts: unknown[]) => void logged.push(parts.map(String).join(" "));
  try {
    return { result: await work(), logged };
  } finally {
    console.error = original;
  }
}

test("a script that fails on its own answers 500 naming its file and line, logged, not 503", async () => {
  const { settings, clock, open, client, keys } = await setUp();
  const engine = await open();
  const server = createBrokerServer(settings, clock, engine);
  const post = async (path: string, body: unknown) => await server.fetch(new Request(`http://broker.test${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) }));
  try {
    const { id } = await (await post("/subscriptions", {})).json();
    await post("/events", { type: "a" });
    await client.hset(keys.state(id), "runs", "not json"); // what no script writes: the next take's decode fails
    await assert.rejects(engine.pull(id), (error: Error) => error instanceof ScriptError && /common\.lua:\d+ \(in take\)/.test(error.message), "names the file and line");
    const { result: response, logged } = await capturingErrors(() => post(`/subscriptions/${id}/pull`, { waitMs: 0 }));
    const problem = await problemOf(response, 500);
    assert.equal(problem.type, "/problems/internal");
    assert.equal(response.headers.get("retry-after"), null, "not an outage to wait out");
    assert.ok(logged.some((line) => /ScriptError: Redis script common\.lua:\d+ \(in take\)/.test(line)), logged.join("\n"));
  } finally {
    await server.close();
  }
});

test("a key of the broker's holding another type is a storage failure: 503, saying so", async () => {
  const { settings, clock, open, client, keys } = await setUp();
  const engine = await open();
  const server = createBrokerServer(settings, clock, engine);
  try {
    const { id } = await (await server.fetch(new Request("http://broker.test/subscriptions", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" }))).json();
    await client.del(keys.queue(id));
    await client.set(keys.queue(id), "a string where a list belongs");
    const response = await server.fetch(new Request("http://broker.test/events", { method: "POST", headers: { "content-type": "application/json" }, body: '{"type":"a"}' }));
    const problem = await problemOf(response, 503);
    assert.match(String(problem.detail), /holds another type/);
  } finally {
    await server.close();
  }
});

test("maxRequired holds across instances: subscribing past it on two at once is refused inside the decision", async () => {
  const { open } = await setUp({ maxRequired: 3 });
  const [one, two] = [await open(), await open()];
  try {
    const made = await Promise.allSettled([one.subscribeBatch([{}, {}]), two.subscribeBatch([{}, {}])]);
    assert.deepEqual(made.map((result) => result.status).sort(), ["fulfilled", "rejected"]);
    const refused = made.find((result) => result.status === "rejected") as PromiseRejectedResult;
    assert.ok(refused.reason instanceof TooManySubscriptionsError);
    assert.equal((await one.list()).length, 2);
    await assert.rejects(two.subscribe({}).then(() => two.subscribe({})), TooManySubscriptionsError, "the third fits, a fourth does not");
    assert.equal((await two.list()).length, 3);
  } finally {
    await Promise.all([one.close(), two.close()]);
  }
});

test("a failing sweep is logged once, shown by /healthz and /metrics, and clears when it works again", async () => {
  const { settings, clock, open, client, keys } = await setUp();
  const engine = await open();
  const server = createBrokerServer(settings, clock, engine);
  const get = async (path: string) => await server.fetch(new Request(`http://broker.test${path}`));
  try {
    const { id } = await (await server.fetch(new Request("http://broker.test/subscriptions", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" }))).json();
    await client.rpush(keys.parked(id), "oops", "oops"); // what no script writes: retention asks every subscription what it holds
    const { logged } = await capturingErrors(async () => {
      for (let sweep = 0; sweep < 3; sweep++) {
        clock.advance(1_000); // the sweep interval
        await eventually(async () => (await engine.stats()).backgroundFailures!.sweep > sweep, 3_000, `sweep ${sweep + 1} failing`);
      }
    });
    assert.equal(logged.filter((line) => /error: the sweep of the Redis engine fails/.test(line)).length, 1, "logged once while it lasts");
    const health = await get("/healthz");
    assert.equal(health.status, 200, "still serving");
    const body = await health.json();
    assert.equal(body.status, "degraded");
    assert.equal(body.faults[0].task, "sweep");
    const line = Number(/held\.lua:(\d+)/.exec(body.faults[0].error)?.[1]);
    const held = readFileSync(new URL("../../src/storage/redis/lua/held.lua", import.meta.url), "utf8").split("\n");
    assert.match(held[line - 1] ?? "", /seq < oldest/, `held.lua:${line} is the line that compares the parked entry's seq`);
    assert.match(await (await get("/metrics")).text(), /broker_background_failures_total\{task="sweep"\} [3-9]/);
    await client.del(keys.parked(id));
    const { logged: later } = await capturingErrors(async () => {
      clock.advance(1_000); // the sweep interval
      await eventually(async () => (await (await get("/healthz")).json()).status === "ok", 3_000, "health ok again");
    });
    assert.ok(later.some((line) => /info: the sweep of the Redis engine works again/.test(line)), later.join("\n"));
  } finally {
    await server.close();
  }
});

test("retention by age never removes what a required subscription has not acknowledged", async () => {
  const { open, clock } = await setUp({ retainMs: 1_000, retainEvents: 2 });
  const engine = await open();
  try {
    const { id } = await engine.subscribe({});
    for (let i = 0; i < 5; i++) await engine.send({ type: "a" });
    clock.advance(2_000);
    await engine.sweep();
    assert.deepEqual((await engine.read(0, 10, new Selector(["*"]))).events.map((event) => event.seq), [1, 2, 3, 4, 5], "all kept in Redis");
    const seqs = (await engine.pull(id, { max: 10 })).flatMap((delivery) => delivery.events.map((event) => event.seq));
    assert.deepEqual(seqs, [1, 2, 3, 4, 5]);
    await engine.ack(id, 5);
    await engine.sweep();
    const page = await engine.read(0, 10, new Selector(["*"]));
    assert.deepEqual(page.events.map((event) => event.seq), [], "once acknowledged, they go");
    await engine.sendBatch([{ type: "a" }, { type: "a" }, { type: "a" }]);
    assert.deepEqual((await engine.pull(id, { max: 10 })).flatMap((delivery) => delivery.events.map((event) => event.seq)), [6, 7, 8]);
    await engine.ack(id, 7);
    clock.advance(2_000);
    await engine.sweep();
    assert.deepEqual((await engine.read(5, 10, new Selector(["*"]))).events.map((event) => event.seq), [6, 7, 8], "a publish is kept whole while its last event is held");
  } finally {
    await engine.close();
  }
});

test("a publish call that names a call before it not yet carried out is refused as stale, and goes once that one has", async () => {
  const { client, keys } = await setUp();
  const scripts = new Scripts(client, keys);
  await client.set(keys.calls("i"), 0); // as an instance does when it starts
  const publish = (number: number, after: number | null) => scripts.publish("0", Date.now(), { windowMs: 0, maxEntries: 10 }, { instance: "i", number, after }, [{ events: [{ type: "a", head: '{"seq":', tail: "}", size: 8, producerKey: "" }], targets: [] }]);
  assert.equal(await publish(2, 1), "stale", "call 1 has not been carried out");
  assert.equal((await client.xlen(keys.log())), 0, "nothing of it was");
  assert.deepEqual(await publish(1, null), [{ kind: "ok", first: 1, last: 1, duplicates: [] }]);
  assert.deepEqual(await publish(2, 1), [{ kind: "ok", first: 2, last: 2, duplicates: [] }]);
  assert.equal(await publish(3, 1), "stale", "the last carried out is 2");
  await client.del(keys.calls("i"));
  assert.equal((await publish(3, 1) as unknown[]).length, 1, "a number Redis lost orders nothing");
});

test("retention keeps the events a subscription has parked, with nothing else unacknowledged", async () => {
  const { open, clock } = await setUp({ retainEvents: 1 });
  const engine = await open();
  try {
    const { id } = await engine.subscribe({ types: ["a"], maxDeliveries: 1, ackTimeoutMs: 100 });
    await engine.send({ type: "a" });
    assert.equal((await engine.pull(id)).length, 1);
    clock.advance(200);
    assert.deepEqual(await engine.pull(id), [], "its one delivery had lapsed: parked, the ack point past it");
    await engine.sendBatch([{ type: "b" }, { type: "b" }]);
    await engine.sweep();
    assert.deepEqual((await engine.parked(id)).map(({ event }) => event.seq), [1]);
  } finally {
    await engine.close();
  }
});

test("a pull brings the events its instance has not read in the same round trip", async () => {
  const { open } = await setUp();
  const engine = await open();
  const read = Scripts.prototype.read;
  let reads = 0;
  try {
    const { id } = await engine.subscribe({});
    await engine.sendBatch([{ type: "a" }, { type: "a" }]);
    await engine.send({ type: "a" }); // no stream or waiting pull: this instance does not read the log back
    Scripts.prototype.read = function (this: Scripts, ...args: Parameters<Scripts["read"]>) {
      reads++;
      return read.apply(this, args);
    };
    assert.deepEqual((await engine.pull(id, { max: 10 })).flatMap((delivery) => delivery.events.map((event) => event.seq)), [1, 2, 3]);
    assert.equal(reads, 0, "the take returned their log entries");
  } finally {
    Scripts.prototype.read = read;
    await engine.close();
  }
});

test("a pull waiting on one instance keeps its subscription in use for every instance's sweep", async () => {
  const { open, clock } = await setUp();
  const [one, two] = [await open({ sweepIntervalMs: 2 ** 40 }), await open({ sweepIntervalMs: 2 ** 40 })]; // sweeps run here, in turn
  try {
    const { id } = await one.subscribe({ expireAfterMs: 1_000 });
    const waiting = one.pull(id, { waitMs: 30_000 });
    await eventually(async () => (await one.describe(id)).required!.waiting === 1, 3_000, "the pull waiting");
    for (const engine of [one, two, one, two]) {
      clock.advance(600);
      await engine.sweep();
    }
    assert.equal((await two.describe(id)).id, id, "not expired");
    await two.send({ type: "a" });
    assert.deepEqual((await within(waiting)).flatMap((delivery) => delivery.events.map((event) => event.seq)), [1]);
  } finally {
    await Promise.all([one.close(), two.close()]);
  }
});
