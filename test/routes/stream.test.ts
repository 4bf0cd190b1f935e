import assert from "node:assert/strict";
import { test } from "node:test";
import { problemOf, testApp } from "../support/app.ts";
import { isEvent, openStream } from "../support/sse.ts";
import { within } from "../support/wait.ts";

test("GET /events/stream starts with retry and a named broker.subscribed notice, with SSE headers", async () => {
  const app = testApp();
  const { response, retry, subscribed, reader, id } = await openStream(app);
  assert.equal(response.headers.get("content-type"), "text/event-stream; charset=utf-8");
  assert.equal(response.headers.get("cache-control"), "no-cache");
  assert.equal(response.headers.get("x-accel-buffering"), "no");
  assert.equal(retry?.retry, 2000);
  assert.equal(subscribed?.event, "broker.subscribed");
  assert.equal(app.broker.get(id).kind, "stream");
  await reader.cancel();
  await app.close();
});

test("GET /events/stream sends each event unnamed, with id = seq and the event JSON on one line", async () => {
  const app = testApp();
  const { reader } = await openStream(app);
  await app.post("/events", { type: "order.filled", data: { text: "two\nlines" } });
  const [message] = await reader.until(isEvent);
  assert.equal(message.id, "1");
  assert.equal(message.event, undefined);
  const event = JSON.parse(message.data);
  assert.equal(event.seq, 1);
  assert.equal(event.data.text, "two\nlines");
  await reader.cancel();
  await app.close();
});

test("GET /events/stream?named=1 adds the event type as the SSE event name", async () => {
  const app = testApp();
  const { reader } = await openStream(app, "?named=1");
  await app.post("/events", { type: "order.filled" });
  const [message] = await reader.until((m) => m.id !== undefined);
  assert.equal(message.event, "order.filled");
  await reader.cancel();
  await app.close();
});

test("GET /events/stream?types filters by exact type and dotted prefix", async () => {
  const app = testApp();
  const { reader } = await openStream(app, "?types=order.filled,trade.*");
  await app.post("/events", [{ type: "order.new" }, { type: "order.filled" }, { type: "trade" }, { type: "trade.x.y" }]);
  const messages = await reader.until((m) => m.id === "4");
  assert.deepEqual(messages.filter(isEvent).map((m) => m.id), ["2", "4"]);
  await reader.cancel();
  await app.close();
});

test("GET /events/stream resumes after Last-Event-ID or ?since, without duplicates", async () => {
  const app = testApp();
  await app.post("/events", [{ type: "a" }, { type: "a" }, { type: "a" }]);
  const bySince = await openStream(app, "?since=1");
  assert.deepEqual((await bySince.reader.until((m) => m.id === "3")).map((m) => m.id), ["2", "3"]);
  const byHeader = await openStream(app, "?since=0", { headers: { "last-event-id": "2" } });
  await app.post("/events", { type: "a" });
  assert.deepEqual((await byHeader.reader.until((m) => m.id === "4")).map((m) => m.id), ["3", "4"]);
  await bySince.reader.cancel();
  await byHeader.reader.cancel();
  await app.close();
});

test("GET /events/stream sends broker.gap when the resume point is no longer kept", async () => {
  const app = testApp({ historySize: 2 });
  await app.post("/events", [{ type: "a" }, { type: "a" }, { type: "a" }, { type: "a" }]);
  const { reader } = await openStream(app, "?since=0");
  const messages = await reader.until((m) => m.id === "4");
  assert.equal(messages[0].event, "broker.gap");
  assert.deepEqual(JSON.parse(messages[0].data), { from: 1, to: 2 });
  await reader.cancel();
  await app.close();
});

test("GET /events/stream reports drops with a named broker.dropped notice", async () => {
  const app = testApp({ streamBuffer: 2 });
  const { reader } = await openStream(app);
  await app.post("/events", [{ type: "a" }, { type: "a" }, { type: "a" }, { type: "a" }, { type: "a" }]);
  const messages = await reader.until((m) => m.event === "broker.dropped");
  assert.deepEqual(messages.filter(isEvent).map((m) => m.id), ["1", "2"]);
  assert.deepEqual(JSON.parse(messages.at(-1)!.data), { count: 3, from: 3, to: 5 });
  await reader.cancel();
  await app.close();
});

test("GET /events/stream sends a : ping comment every heartbeatMs", async () => {
  const app = testApp({ heartbeatMs: 100 });
  const { reader } = await openStream(app);
  const [ping] = await reader.until((m) => m.comment !== undefined, 2_000);
  assert.equal(ping.comment, "ping");
  await reader.cancel();
  await app.close();
});

test("DELETE of a stream's subscription sends broker.closing and ends the stream", async () => {
  const app = testApp();
  const { reader, id } = await openStream(app);
  assert.equal((await app.request(`/subscriptions/${id}`, { method: "DELETE" })).status, 204);
  const [closing] = await reader.until((m) => m.event === "broker.closing");
  assert.deepEqual(JSON.parse(closing.data), { reason: "deleted" });
  assert.equal(await within(reader.next(), 3_000, "the stream's end"), null);
  await app.close();
});

test("closing the server sends broker.closing to every stream and ends it", async () => {
  const app = testApp();
  const { reader } = await openStream(app);
  const closed = app.close();
  const [closing] = await reader.until((m) => m.event === "broker.closing");
  assert.deepEqual(JSON.parse(closing.data), { reason: "shutdown" });
  assert.equal(await within(reader.next(), 3_000, "the stream's end"), null);
  await closed;
});

test("a client that stops reading frees its subscription", async () => {
  const app = testApp();
  const { reader } = await openStream(app);
  assert.equal(app.broker.list().length, 1);
  await reader.cancel();
  assert.equal(app.broker.list().length, 0);
  await app.close();
});

test("GET /events/stream answers 400 for bad types, since or Last-Event-ID", async () => {
  const app = testApp();
  const types = await problemOf(await app.request("/events/stream?types=ok,bad%20one"), 400);
  assert.equal(types.errors?.[0].path, "/types/1");
  await problemOf(await app.request("/events/stream?since=-1"), 400);
  await problemOf(await app.request("/events/stream?named=maybe"), 400);
  await problemOf(await app.request("/events/stream", { headers: { "last-event-id": "abc" } }), 400);
  assert.equal(app.broker.list().length, 0);
  await app.close();
});
