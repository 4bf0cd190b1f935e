import assert from "node:assert/strict";
import { test } from "node:test";
import { pullBody } from "../../routes/subscription-view.ts";
import type { Delivery } from "../../src/broker/mod.ts";
import { problemOf, type TestApp, testApp } from "../support/app.ts";
import { listSubscriptions, pullsWaiting } from "../support/http.ts";
import { within } from "../support/wait.ts";

async function createSubscription(app: TestApp, body: unknown = { types: ["order.*"], name: "ledger" }) {
  const response = await app.post("/subscriptions", body);
  assert.equal(response.status, 201, await response.clone().text());
  return { response, sub: await response.json() };
}

async function pull(app: Pick<TestApp, "post">, id: string, body: unknown = { waitMs: 0 }) {
  const response = await app.post(`/subscriptions/${id}/pull`, body);
  assert.equal(response.status, 200, await response.clone().text());
  assert.equal(response.headers.get("content-type"), "application/json");
  return (await response.json()).events as { seq: number; type: string; deliveries: number }[];
}

/** Bytes of pull answers held by the instances' memory budgets. */
const pullBytesHeld = (app: TestApp) => app.instances.reduce((sum, { engine }) => sum + engine.memory.parts.pulls.used, 0);

test("POST /subscriptions creates a required subscription: 201, Location, and its description", async () => {
  const app = await testApp();
  const { response, sub } = await createSubscription(app);
  assert.equal(response.headers.get("location"), `/subscriptions/${sub.id}`);
  assert.equal(sub.kind, "required");
  assert.equal(sub.name, "ledger");
  assert.deepEqual(sub.types, ["order.*"]);
  assert.equal(sub.paused, false);
  assert.equal(sub.ackTimeoutMs, 30_000);
  assert.equal(sub.maxBacklog, 100_000);
  assert.equal(sub.expireAfterMs, 600_000);
  assert.ok(!Number.isNaN(Date.parse(sub.created)));
  await app.close();
});

test("POST /subscriptions with an array creates several at once, or none", async () => {
  const app = await testApp();
  const { sub: created } = await createSubscription(app, [{ types: ["a"] }, { types: ["b"], ackTimeoutMs: 5 }]);
  assert.equal(created.length, 2);
  assert.equal(created[1].ackTimeoutMs, 5);
  const problem = await problemOf(await app.post("/subscriptions", [{ types: ["a"] }, { typo: 1 }]), 400);
  assert.equal(problem.errors?.[0].path, "/1/typo");
  assert.equal((await app.list()).length, 2);
  await app.close();
});

test("POST /subscriptions answers 400 naming bad fields", async () => {
  const app = await testApp();
  const cases: [unknown, string][] = [
    [{ types: "order.*" }, "/types"],
    [{ types: ["bad type"] }, "/types/0"],
    [{ ackTimeoutMs: -1 }, "/ackTimeoutMs"],
    [{ maxBacklog: 1.5 }, "/maxBacklog"],
    [{ expireAfterMs: "soon" }, "/expireAfterMs"],
    [{ tpyes: ["a"] }, "/tpyes"],
  ];
  for (const [body, path] of cases) {
    const problem = await problemOf(await app.post("/subscriptions", body), 400);
    assert.equal(problem.errors?.[0].path, path, JSON.stringify(body));
  }
  await problemOf(await app.post("/subscriptions", "not json"), 400);
  await problemOf(await app.post("/subscriptions", 7), 400);
  assert.equal((await app.list()).length, 0);
  await app.close();
});

test("pull answers at once with waiting events, each carrying deliveries", async () => {
  const app = await testApp();
  const { sub } = await createSubscription(app);
  await app.post("/events", [{ type: "order.new" }, { type: "other" }, { type: "order.filled", data: { q: 1 } }]);
  const events = await pull(app, sub.id);
  assert.deepEqual(events.map((event) => [event.seq, event.type, event.deliveries]), [[1, "order.new", 1], [3, "order.filled", 1]]);
  assert.deepEqual((events[1] as unknown as { data: unknown }).data, { q: 1 });
  await app.close();
});

test("pull holds the request until an event arrives", async () => {
  const app = await testApp();
  const { sub } = await createSubscription(app);
  const waiting = pull(app, sub.id, { waitMs: 30_000 });
  await pullsWaiting(app);
  await app.post("/events", { type: "order.new" });
  assert.deepEqual((await within(waiting)).map((event) => event.seq), [1]);
  await app.close();
});

test("pull answers with no events once waitMs passes", async () => {
  const app = await testApp();
  const { sub } = await createSubscription(app);
  const waiting = pull(app, sub.id, { waitMs: 1_000 });
  await pullsWaiting(app);
  app.clock.advance(999);
  await pullsWaiting(app);
  app.clock.advance(1);
  assert.deepEqual(await within(waiting), []);
  await app.close();
});

test("pull with an empty body uses the defaults", async () => {
  const app = await testApp();
  const { sub } = await createSubscription(app);
  await app.post("/events", { type: "order.new" });
  const response = await app.request(`/subscriptions/${sub.id}/pull`, { method: "POST" });
  assert.equal((await response.json()).events.length, 1);
  await app.close();
});

test("ack is cumulative; below the ack point is a no-op; beyond the delivered is 409", async () => {
  const app = await testApp();
  const { sub } = await createSubscription(app, {});
  await app.post("/events", [{ type: "a" }, { type: "a" }, { type: "a" }]);
  await pull(app, sub.id);
  assert.deepEqual(await (await app.post(`/subscriptions/${sub.id}/ack`, { seq: 1 })).json(), { ackedSeq: 1, backlog: 2 });
  assert.deepEqual(await (await app.post(`/subscriptions/${sub.id}/ack`, { seq: 2 })).json(), { ackedSeq: 2, backlog: 1 }, "a second ack inside the batch");
  assert.deepEqual(await (await app.post(`/subscriptions/${sub.id}/ack`, { seq: 1 })).json(), { ackedSeq: 2, backlog: 1 });
  await problemOf(await app.post(`/subscriptions/${sub.id}/ack`, { seq: 4 }), 409);
  await problemOf(await app.post(`/subscriptions/${sub.id}/ack`, { seq: "3" }), 400);
  const view = await (await app.request(`/subscriptions/${sub.id}`)).json();
  assert.equal(view.ackedSeq, 2);
  assert.equal(view.backlog, 1);
  assert.equal(view.delivered, 3);
  await app.close();
});

test("pull with ack acknowledges first, then pulls", async () => {
  const app = await testApp();
  const { sub } = await createSubscription(app, {});
  await app.post("/events", { type: "a" });
  await pull(app, sub.id);
  await app.post("/events", { type: "a" });
  assert.deepEqual((await pull(app, sub.id, { ack: 1, waitMs: 0 })).map((event) => event.seq), [2]);
  await problemOf(await app.post(`/subscriptions/${sub.id}/pull`, { ack: 99, waitMs: 0 }), 409);
  await app.close();
});

test("a lapsed lease redelivers from the first unacked event with deliveries counted", async () => {
  const app = await testApp();
  const { sub } = await createSubscription(app, { ackTimeoutMs: 1_000 });
  await app.post("/events", [{ type: "a" }, { type: "a" }]);
  await pull(app, sub.id);
  app.clock.advance(1_000);
  assert.deepEqual((await pull(app, sub.id)).map((event) => [event.seq, event.deliveries]), [[1, 2], [2, 2]]);
  await app.close();
});

test("a pull waiting behind a lease is answered with the redelivery once the lease lapses", async () => {
  const app = await testApp();
  const { sub } = await createSubscription(app, { ackTimeoutMs: 1_000 });
  await app.post("/events", { type: "a" });
  await pull(app, sub.id);
  const waiting = pull(app, sub.id, { waitMs: 30_000 });
  await pullsWaiting(app);
  app.clock.advance(1_000);
  assert.deepEqual((await within(waiting)).map((event) => [event.seq, event.deliveries]), [[1, 2]]);
  await app.close();
});

test("pull answers 400 for bad parameters, 404 for unknown ids, 409 for streams", async () => {
  const app = await testApp();
  const { sub } = await createSubscription(app);
  for (const body of [{ max: 0 }, { waitMs: 60_001 }, { max: "10" }, { extra: 1 }]) {
    await problemOf(await app.post(`/subscriptions/${sub.id}/pull`, body), 400);
  }
  await problemOf(await app.post("/subscriptions/nope/pull", {}), 404);
  await problemOf(await app.post("/subscriptions/nope/ack", { seq: 1 }), 404);
  const stream = await app.openStream();
  await problemOf(await app.holding(stream.id).post(`/subscriptions/${stream.id}/pull`, {}), 409);
  await app.close();
});

test("GET /subscriptions lists both kinds with their counters", async () => {
  const app = await testApp({ streamBuffer: 1 });
  const { sub } = await createSubscription(app, { name: "r" });
  const stream = await app.openStream({ types: ["a"] });
  await app.post("/events", [{ type: "a" }, { type: "a" }]);
  await app.lastSeq(); // the stream's instance has them
  const byKind = Object.fromEntries((await listSubscriptions(app.holding(stream.id))).map((listed) => [listed.kind, listed]));
  assert.equal(byKind.required.id, sub.id);
  assert.equal(byKind.required.backlog, 2);
  assert.equal(byKind.stream.id, stream.id);
  assert.equal(byKind.stream.dropped, 1);
  assert.equal(byKind.stream.backlog, 1);
  await app.close();
});

test("PATCH pauses and resumes: events accepted while paused never arrive", async () => {
  const app = await testApp();
  const { sub } = await createSubscription(app, {});
  const paused = await app.request(`/subscriptions/${sub.id}`, { method: "PATCH", headers: { "content-type": "application/json" }, body: '{"paused":true}' });
  assert.equal((await paused.json()).paused, true);
  await app.post("/events", { type: "a" });
  await app.request(`/subscriptions/${sub.id}`, { method: "PATCH", body: '{"paused":false}' });
  await app.post("/events", { type: "a" });
  assert.deepEqual((await pull(app, sub.id)).map((event) => event.seq), [2]);
  await problemOf(await app.request(`/subscriptions/${sub.id}`, { method: "PATCH", body: '{"paused":"yes"}' }), 400);
  await problemOf(await app.request("/subscriptions/nope", { method: "PATCH", body: '{"paused":true}' }), 404);
  await app.close();
});

test("DELETE answers 204, then 404; a pull waiting on any instance is answered", async () => {
  const app = await testApp();
  const [pulling, deleting] = app.apart();
  const { sub } = await createSubscription(app);
  const waiting = pull(pulling, sub.id, { waitMs: 30_000 });
  await pullsWaiting(pulling);
  assert.equal((await deleting.request(`/subscriptions/${sub.id}`, { method: "DELETE" })).status, 204);
  assert.deepEqual(await within(waiting), []);
  await problemOf(await app.request(`/subscriptions/${sub.id}`, { method: "DELETE" }), 404);
  await problemOf(await app.request(`/subscriptions/${sub.id}`), 404);
  await app.close();
});

test("a required subscription receives every event accepted after it, none skipped, past any stream buffer", async () => {
  const app = await testApp({ streamBuffer: 1 });
  const { sub } = await createSubscription(app, {});
  for (let i = 0; i < 20; i++) await app.post("/events", [{ type: "a" }, { type: "b" }]);
  const events = await pull(app, sub.id, { max: 1_000, waitMs: 0 });
  assert.deepEqual(events.map((event) => event.seq), Array.from({ length: 40 }, (_, i) => i + 1));
  await app.close();
});

test("POST extend keeps the lease; nack redelivers from a seq; both answer 409 beyond the delivered", async () => {
  const app = await testApp();
  const { sub } = await createSubscription(app, { ackTimeoutMs: 1_000 });
  await app.post("/events", [{ type: "a" }, { type: "a" }]);
  await pull(app, sub.id);
  const extended = await app.post(`/subscriptions/${sub.id}/extend`, { ms: 10_000 });
  assert.equal(extended.status, 200);
  assert.equal(Date.parse((await extended.json()).leaseExpiresAt), app.clock.now() + 10_000);
  app.clock.advance(5_000);
  assert.deepEqual(await pull(app, sub.id), [], "still leased");
  assert.equal((await app.post(`/subscriptions/${sub.id}/nack`, { seq: 2 })).status, 200);
  assert.deepEqual((await pull(app, sub.id)).map((event) => [event.seq, event.deliveries]), [[2, 2]]);
  await problemOf(await app.post(`/subscriptions/${sub.id}/nack`, { seq: 3 }), 409);
  await problemOf(await app.post(`/subscriptions/${sub.id}/extend`, { ms: 0 }), 400);
  await problemOf(await app.post(`/subscriptions/${sub.id}/nack`, {}), 400);
  await problemOf(await app.post("/subscriptions/nope/extend", { ms: 5 }), 404);
  await app.close();
});

test("a second nack, lower in the same batch, redelivers from the lower seq", async () => {
  const app = await testApp();
  const { sub } = await createSubscription(app, {});
  await app.post("/events", [{ type: "a" }, { type: "a" }, { type: "a" }, { type: "a" }]);
  await pull(app, sub.id);
  for (const seq of [4, 2]) assert.equal((await app.post(`/subscriptions/${sub.id}/nack`, { seq })).status, 200);
  assert.deepEqual((await pull(app, sub.id)).map((event) => [event.seq, event.deliveries]), [[2, 2], [3, 2], [4, 2]]);
  await app.close();
});

test("GET parked lists events given up on after maxDeliveries, counted in the subscription", async () => {
  const app = await testApp();
  const { sub } = await createSubscription(app, { maxDeliveries: 1 });
  assert.equal(sub.maxDeliveries, 1);
  await app.post("/events", { type: "poison", data: 1 });
  await app.post("/events", { type: "fine" });
  await pull(app, sub.id, { max: 1, waitMs: 0 });
  await app.post(`/subscriptions/${sub.id}/nack`, { seq: 1 });
  assert.deepEqual((await pull(app, sub.id)).map((event) => event.seq), [2]);
  const { events } = await (await app.request(`/subscriptions/${sub.id}/parked`)).json();
  assert.deepEqual(events.map((event: { seq: number; type: string; deliveries: number }) => [event.seq, event.type, event.deliveries]), [[1, "poison", 1]]);
  const view = await (await app.request(`/subscriptions/${sub.id}`)).json();
  assert.equal(view.parked, 1);
  assert.equal(view.ackedSeq, 1);
  await problemOf(await app.request("/subscriptions/nope/parked"), 404);
  await app.close();
});

test("a batch partly acknowledged whose lease lapses at maxDeliveries 1 has the rest parked, and the subscription goes on", async () => {
  const app = await testApp();
  const { sub } = await createSubscription(app, { maxDeliveries: 1, ackTimeoutMs: 100 });
  await app.post("/events", [{ type: "a" }, { type: "a" }, { type: "a" }]);
  assert.deepEqual((await pull(app, sub.id)).map((event) => event.seq), [1, 2, 3]);
  assert.equal((await app.post(`/subscriptions/${sub.id}/ack`, { seq: 1 })).status, 200);
  app.clock.advance(200);
  assert.deepEqual(await pull(app, sub.id), [], "2 and 3 had their one delivery");
  const view = await (await app.request(`/subscriptions/${sub.id}`)).json();
  assert.deepEqual([view.ackedSeq, view.backlog, view.parked], [3, 0, 2]);
  await app.post("/events", { type: "a" });
  assert.deepEqual((await pull(app, sub.id)).map((event) => event.seq), [4], "not wedged");
  await app.close();
});

test("events parked one after another at the ack point each move it past them", async () => {
  const app = await testApp();
  const { sub } = await createSubscription(app, { maxDeliveries: 1, ackTimeoutMs: 100 });
  for (let i = 0; i < 3; i++) await app.post("/events", { type: "a" });
  assert.deepEqual((await pull(app, sub.id, { max: 2, waitMs: 0 })).map((event) => event.seq), [1, 2]);
  app.clock.advance(200);
  assert.deepEqual((await pull(app, sub.id)).map((event) => [event.seq, event.deliveries]), [[3, 1]]);
  const view = await (await app.request(`/subscriptions/${sub.id}`)).json();
  assert.deepEqual([view.ackedSeq, view.backlog, view.parked], [2, 1, 2]);
  await app.close();
});

test("a pull body splices each stored event with its delivery count, across delivery units", () => {
  const stored = (seq: number) => ({ seq, type: "a", source: "/s", id: `e-${seq}`, json: `{"id":"e-${seq}","data":{"n":[${seq}]},"seq":${seq}}`, size: 40 });
  const units: Delivery[] = [{ events: [stored(1), stored(2)], deliveries: 1 }, { events: [stored(3)], deliveries: 12 }];
  const body = JSON.parse(pullBody(units));
  assert.deepEqual(body, { events: [
    { id: "e-1", data: { n: [1] }, seq: 1, deliveries: 1 },
    { id: "e-2", data: { n: [2] }, seq: 2, deliveries: 1 },
    { id: "e-3", data: { n: [3] }, seq: 3, deliveries: 12 },
  ] });
  assert.deepEqual(JSON.parse(pullBody([])), { events: [] });
});

test("POST /subscriptions and the other management bodies answer 413 over maxBodyBytes, and change nothing", async () => {
  const app = await testApp({ maxBodyBytes: 100 });
  await problemOf(await app.post("/subscriptions", { name: "n".repeat(200) }), 413);
  assert.equal((await app.list()).length, 0);
  const { id } = await (await app.post("/subscriptions", { name: "small" })).json();
  await problemOf(await app.post(`/subscriptions/${id}/ack`, { seq: 0, padding: "p".repeat(200) }), 413);
  await app.close();
});

test("a pull of large events answers within maxPullBytes as valid JSON, streamed, and the consumer progresses", async () => {
  const app = await testApp({ maxBodyBytes: 2_000_000, maxPullBytes: 3_000_000 });
  const { sub } = await createSubscription(app, {});
  for (let i = 0; i < 20; i++) assert.equal((await app.post("/events", { type: "big", data: "x".repeat(1_000_000) })).status, 202);
  const seen: number[] = [];
  for (let events = await pull(app, sub.id, { max: 10_000, waitMs: 0 }); events.length > 0; events = await pull(app, sub.id, { max: 10_000, waitMs: 0, ack: seen.at(-1) })) {
    assert.ok(events.length <= 3, `${events.length} events of 1 MB in one pull`);
    assert.ok(events.every((event) => event.deliveries === 1), "each delivered once");
    seen.push(...events.map((event) => event.seq));
  }
  assert.deepEqual(seen, Array.from({ length: 20 }, (_, i) => i + 1));
  assert.equal(pullBytesHeld(app), 0, "every answer was taken whole");
  await app.close();
});

test("an answer the client does not take in full is delivered again by the next pull", async () => {
  const app = await testApp({ maxBodyBytes: 2_000_000 });
  const { sub } = await createSubscription(app, {});
  await app.post("/events", [{ type: "big", data: "x".repeat(300_000) }, { type: "big", data: "y".repeat(300_000) }]);
  const response = await app.post(`/subscriptions/${sub.id}/pull`, { waitMs: 0 });
  const reader = response.body!.getReader();
  await reader.read();
  await reader.cancel();
  const again = await pull(app, sub.id);
  assert.deepEqual(again.map((event) => event.seq), [1, 2]);
  assert.equal(pullBytesHeld(app), 0, "the abandoned answer's chunk was let go");
  await app.close();
});

test("a pull is refused with 503 while the pull answers' part of the memory budget is spent", async () => {
  const app = await testApp();
  const { sub } = await createSubscription(app, {});
  const answers = app.instances.map(({ engine }) => engine.memory.parts.pulls);
  for (const part of answers) part.take(part.limit);
  const problem = await problemOf(await app.post(`/subscriptions/${sub.id}/pull`, { waitMs: 0 }), 503);
  assert.equal(problem.type, "/problems/memory-full");
  for (const part of answers) part.release(part.limit);
  assert.deepEqual(await pull(app, sub.id), []);
  await app.close();
});

test("POST /subscriptions with filters delivers only what they select, and shows them", async () => {
  const app = await testApp();
  const filters = [{ prefix: { subject: "orders/" } }, { not: { exact: { region: "us" } } }];
  const { sub } = await createSubscription(app, { types: ["order.*"], filters });
  assert.deepEqual(sub.filters, filters);
  await app.post("/events", [{ type: "order.new", subject: "orders/1" }, { type: "order.new", subject: "orders/2", region: "us" }, { type: "order.new", subject: "x/3" }]);
  assert.deepEqual((await pull(app, sub.id)).map((event) => event.seq), [1]);
  const problem = await problemOf(await app.post("/subscriptions", { filters: [{ prefix: { subject: 5 } }] }), 400);
  assert.equal(problem.errors?.[0].path, "/filters/0/prefix/subject");
  await app.close();
});
