import assert from "node:assert/strict";
import { test } from "node:test";
import { onlyOn } from "../support/engine-kind.ts";
import { problemOf, testApp } from "../support/app.ts";
import { isEvent, openStream } from "../support/sse.ts";
import { within } from "../support/wait.ts";

test("GET /events/stream starts with retry and a named broker.subscribed notice, with SSE headers", async () => {
  const app = await testApp();
  const { response, retry, subscribed, reader, id } = await openStream(app);
  assert.equal(response.headers.get("content-type"), "text/event-stream; charset=utf-8");
  assert.equal(response.headers.get("cache-control"), "no-cache");
  assert.equal(response.headers.get("x-accel-buffering"), "no");
  assert.equal(retry?.retry, 2000);
  assert.equal(subscribed?.event, "broker.subscribed");
  assert.equal((await app.list()).find((sub) => sub.id === id)?.kind, "stream");
  await reader.cancel();
  await app.close();
});

test("GET /events/stream sends each event unnamed, with id = seq and the event JSON on one line", async () => {
  const app = await testApp();
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
  const app = await testApp();
  const { reader } = await openStream(app, "?named=1");
  await app.post("/events", { type: "order.filled" });
  const [message] = await reader.until((m) => m.id !== undefined);
  assert.equal(message.event, "order.filled");
  await reader.cancel();
  await app.close();
});

test("GET /events/stream?types filters by exact type and dotted prefix", async () => {
  const app = await testApp();
  const { reader } = await openStream(app, "?types=order.filled,trade.*");
  await app.post("/events", [{ type: "order.new" }, { type: "order.filled" }, { type: "trade" }, { type: "trade.x.y" }]);
  const messages = await reader.until((m) => m.id === "4");
  assert.deepEqual(messages.filter(isEvent).map((m) => m.id), ["2", "4"]);
  await reader.cancel();
  await app.close();
});

test("each event of a batch reaches a stream as its own CloudEvent, with its own seq", async () => {
  const app = await testApp();
  const { reader } = await openStream(app);
  await app.post("/events", [{ type: "a" }, { type: "b" }, { type: "c" }]);
  const events = (await reader.until((m) => m.id === "3")).filter(isEvent).map((m) => JSON.parse(m.data));
  assert.deepEqual(events.map((event) => [event.specversion, event.type, event.seq]), [["1.0", "a", 1], ["1.0", "b", 2], ["1.0", "c", 3]]);
  await reader.cancel();
  await app.close();
});

test("GET /events/stream resumes after Last-Event-ID or ?since, without duplicates", async () => {
  const app = await testApp();
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

test("GET /events/stream sends broker.gap when the resume point is no longer kept, in memory or on disk", async () => {
  const app = await testApp({ historySize: 2, retainEvents: 2 });
  for (let i = 0; i < 4; i++) await app.post("/events", { type: "a" }); // one by one: a store may keep a publish whole
  app.clock.advance(1_000); // a sweep applies retention
  await app.lastSeq(); // and every instance has followed the log
  const { reader } = await openStream(app, "?since=0");
  const messages = await reader.until((m) => m.id === "4");
  assert.equal(messages[0].event, "broker.gap");
  assert.deepEqual(JSON.parse(messages[0].data), { from: 1, to: 2 });
  await reader.cancel();
  await app.close();
});

test("a stream resumes from anywhere its storage keeps, beyond the in-memory window, without a gap", onlyOn(["sqlite", "redis"], "memory keeps no more than its window"), async () => {
  const app = await testApp({ historySize: 2, streamBuffer: 3 });
  for (let i = 0; i < 8; i++) await app.post("/events", { type: "a", data: i }); // one by one: pages of the buffer's size
  await app.lastSeq();
  const { reader } = await openStream(app, "?since=1");
  const messages = await reader.until((m) => m.id === "8");
  assert.deepEqual(messages.filter(isEvent).map((m) => m.id), ["2", "3", "4", "5", "6", "7", "8"]);
  assert.equal(messages.filter((m) => m.event === "broker.gap").length, 0);
  await app.post("/events", { type: "a" });
  assert.deepEqual((await reader.until((m) => m.id === "9")).filter(isEvent).map((m) => m.id), ["9"], "then live");
  await reader.cancel();
  await app.close();
});

test("GET /events/stream reports drops with a named broker.dropped notice", async () => {
  const app = await testApp({ streamBuffer: 2 });
  const { reader } = await openStream(app);
  await app.post("/events", [{ type: "a" }, { type: "a" }, { type: "a" }, { type: "a" }, { type: "a" }]);
  // The events reach the stream (on Redis, a few ms later) before its reader asks for more: a reader waiting would take them all.
  await app.lastSeq();
  const messages = await reader.until((m) => m.event === "broker.dropped");
  assert.deepEqual(messages.filter(isEvent).map((m) => m.id), ["1", "2"]);
  assert.deepEqual(JSON.parse(messages.at(-1)!.data), { count: 3, from: 3, to: 5 });
  await reader.cancel();
  await app.close();
});

test("a stream whose reader keeps up loses nothing of a 2,000-line NDJSON body sent at once", async () => {
  const app = await testApp();
  const { reader } = await openStream(app);
  const body = Array.from({ length: 2_000 }, (_, n) => `${JSON.stringify({ type: "line", data: n })}\n`).join("");
  // Stops at a drop notice too, so that a loss fails at once rather than at the timeout.
  const read = reader.until((message) => message.id === "2000" || message.event === "broker.dropped", 10_000);
  const response = await app.request("/events", { method: "POST", headers: { "content-type": "application/x-ndjson" }, body });
  assert.equal((await response.json()).accepted, 2_000);
  const messages = await read;
  assert.deepEqual(messages.filter((message) => message.event === "broker.dropped").map((message) => message.data), []);
  assert.deepEqual(messages.filter(isEvent).map((message) => JSON.parse(message.data).data), Array.from({ length: 2_000 }, (_, n) => n));
  await reader.cancel();
  await app.close();
});

test("a stream whose reader keeps up loses nothing of 16 producers posting batches at once, four rounds each", async () => {
  const app = await testApp();
  const { reader } = await openStream(app);
  const read = reader.until((message) => message.id === "6720" || message.event === "broker.dropped", 10_000);
  const produce = async (producer: number) => {
    for (let round = 0; round < 4; round++) {
      const response = await app.post("/events", Array.from({ length: 105 }, (_, n) => ({ type: "burst", data: { producer, round, n } })));
      assert.equal(response.status, 202);
    }
  };
  await Promise.all(Array.from({ length: 16 }, (_, producer) => produce(producer)));
  const messages = await read;
  assert.deepEqual(messages.filter((message) => message.event === "broker.dropped").map((message) => message.data), []);
  assert.equal(messages.filter(isEvent).length, 6_720);
  await reader.cancel();
  await app.close();
});

test("a stream whose reader stalls still drops past its buffer, holds no more than it, and reports the drop", async () => {
  const app = await testApp({ streamBuffer: 100 });
  const { reader, id } = await openStream(app);
  const batch = (count: number) => Array.from({ length: count }, () => ({ type: "a" }));
  // Keeping up: a batch three buffers long, published while the reader waits, reaches it whole.
  const first = reader.until((message) => message.id === "300" || message.event === "broker.dropped");
  await app.post("/events", batch(300));
  assert.equal((await first).filter(isEvent).length, 300);
  // Then the reader stops reading: what comes in later publishes waits within its buffer.
  for (let i = 0; i < 5; i++) await app.post("/events", batch(100));
  await app.lastSeq();
  const view = await (await app.holding(id).request(`/subscriptions/${id}`)).json();
  assert.deepEqual([view.backlog, view.dropped], [100, 400]);
  const rest = await reader.until((message) => message.event === "broker.dropped");
  assert.deepEqual(rest.filter(isEvent).map((message) => Number(message.id)), Array.from({ length: 100 }, (_, n) => 301 + n));
  assert.deepEqual(JSON.parse(rest.at(-1)!.data), { count: 400, from: 401, to: 800 });
  await reader.cancel();
  await app.close();
});

test("GET /events/stream sends a : ping comment every heartbeatMs", async () => {
  const app = await testApp({ heartbeatMs: 100 });
  const { reader } = await openStream(app);
  const [ping] = await reader.until((m) => m.comment !== undefined, 2_000);
  assert.equal(ping.comment, "ping");
  await reader.cancel();
  await app.close();
});

test("DELETE of a stream's subscription sends broker.closing and ends the stream", async () => {
  const app = await testApp();
  const { reader, id } = await openStream(app);
  assert.equal((await app.request(`/subscriptions/${id}`, { method: "DELETE" })).status, 204);
  const [closing] = await reader.until((m) => m.event === "broker.closing");
  assert.deepEqual(JSON.parse(closing.data), { reason: "deleted" });
  assert.equal(await within(reader.next(), 3_000, "the stream's end"), null);
  await app.close();
});

test("a stream's subscription is listed, described, refused a pull and deleted through any instance", async () => {
  const app = await testApp();
  const [holding, other] = app.apart();
  const { reader, subscribed } = await openStream(holding);
  const { id } = JSON.parse(subscribed!.data);
  for (const instance of [other, holding]) {
    const { subscriptions } = await (await instance.request("/subscriptions")).json();
    assert.deepEqual(subscriptions.map((sub: { id: string }) => sub.id), [id], "listed once, by either instance");
  }
  assert.equal((await (await other.request(`/subscriptions/${id}`)).json()).kind, "stream");
  await problemOf(await other.post(`/subscriptions/${id}/pull`, {}), 409);
  assert.equal((await other.request(`/subscriptions/${id}`, { method: "DELETE" })).status, 204);
  const [closing] = await reader.until((m) => m.event === "broker.closing");
  assert.deepEqual(JSON.parse(closing.data), { reason: "deleted" });
  await app.close();
});

test("closing the server sends broker.closing to every stream and ends it", async () => {
  const app = await testApp();
  const { reader } = await openStream(app);
  const closed = app.close();
  const [closing] = await reader.until((m) => m.event === "broker.closing");
  assert.deepEqual(JSON.parse(closing.data), { reason: "shutdown" });
  assert.equal(await within(reader.next(), 3_000, "the stream's end"), null);
  await closed;
});

test("a client that stops reading frees its subscription", async () => {
  const app = await testApp();
  const { reader } = await openStream(app);
  assert.equal((await app.list()).length, 1);
  await reader.cancel();
  assert.equal((await app.list()).length, 0);
  await app.close();
});

test("GET /events/stream answers 400 for bad types, since or Last-Event-ID", async () => {
  const app = await testApp();
  const types = await problemOf(await app.request("/events/stream?types=ok,bad%20one"), 400);
  assert.equal(types.errors?.[0].path, "/types/1");
  await problemOf(await app.request("/events/stream?since=-1"), 400);
  await problemOf(await app.request("/events/stream?named=maybe"), 400);
  await problemOf(await app.request("/events/stream", { headers: { "last-event-id": "abc" } }), 400);
  assert.equal((await app.list()).length, 0);
  await app.close();
});

test("?source, ?subject and ?filter select among the types, ANDed; GET /subscriptions shows the filters", async () => {
  const app = await testApp();
  const filter = encodeURIComponent(JSON.stringify({ any: [{ exact: { region: "eu" } }, { suffix: { subject: "/vip" } }] }));
  const { reader, subscribed } = await openStream(app, `?types=order.*&source=/shop&subject=orders/1&filter=${filter}`);
  await app.post("/events", [
    { type: "order.new", source: "/shop", subject: "orders/1", region: "us" },
    { type: "order.new", source: "/shop", subject: "orders/1", region: "eu" },
    { type: "order.new", source: "/other", subject: "orders/1", region: "eu" },
    { type: "trade.done", source: "/shop", subject: "orders/1", region: "eu" },
    { type: "order.new", source: "/shop", subject: "orders/1", region: "eu" },
  ]);
  const messages = await reader.until((message) => message.id === "5");
  assert.deepEqual(messages.filter(isEvent).map((message) => message.id), ["2", "5"]);
  const { id } = JSON.parse(subscribed!.data);
  const view = await (await app.holding(id).request(`/subscriptions/${id}`)).json();
  assert.deepEqual(view.filters, [{ exact: { source: "/shop" } }, { exact: { subject: "orders/1" } }, { any: [{ exact: { region: "eu" } }, { suffix: { subject: "/vip" } }] }]);
  await reader.cancel();
  await app.close();
});

test("GET /events/stream answers 400 naming each unknown parameter (?type= for ?types=), opening nothing", async () => {
  const app = await testApp();
  const response = await app.request("/events/stream?type=order.filled&named=1&sinse=3");
  if (response.status === 200) await response.body!.cancel(); // an open stream would hang problemOf
  const problem = await problemOf(response, 400);
  assert.deepEqual(problem.errors?.map((error) => error.path), ["/type", "/sinse"]);
  assert.match(problem.errors![0].message, /^is not a parameter of the stream; it takes types, since, named, /);
  assert.equal((await app.list()).length, 0);
  await app.close();
});

test("GET /events/stream accepts access_token, and source, subject and filter (the attribute filters' parameters)", async () => {
  const app = await testApp();
  const filter = encodeURIComponent(JSON.stringify({ prefix: { subject: "orders/" } }));
  const { reader } = await openStream(app, `?types=a&source=/shop&subject=orders/1&filter=${filter}&access_token=t`);
  await reader.cancel();
  await app.close();
});

test("a bad ?filter is 400 naming the parameter, and opens nothing", async () => {
  const app = await testApp();
  const cases: [string, string][] = [
    ["?filter=not-json", "filter"],
    [`?filter=${encodeURIComponent('{"exact":{"Region":"eu"}}')}`, "filter/exact/Region"],
    [`?filter=${encodeURIComponent('[{"exact":{"a":"b"}},{"sql":"x"}]')}`, "filter/1/sql"],
    [`?source=${"s".repeat(2_000)}`, "source/exact/source"],
  ];
  for (const [query, path] of cases) {
    const problem = await problemOf(await app.request(`/events/stream${query}`), 400);
    assert.ok(problem.errors?.some((error) => error.path === path), `${query.slice(0, 40)}: ${JSON.stringify(problem.errors)}`);
  }
  assert.equal(app.openStreams(), 0);
  await app.close();
});

test("Last-Event-ID past the last seq (ids of an earlier run) gets broker.reset, then the kept history from the start", async () => {
  const app = await testApp();
  await app.post("/events", [{ type: "a" }, { type: "b" }]);
  const { reader } = await openStream(app, "", { headers: { "last-event-id": "5000" } });
  const messages = await reader.until((message) => message.id === "2");
  assert.equal(messages[0].event, "broker.reset");
  assert.deepEqual(JSON.parse(messages[0].data), { asked: 5000, lastSeq: 2 });
  assert.deepEqual(messages.filter(isEvent).map((message) => message.id), ["1", "2"]);
  await reader.cancel();
  await app.close();
});

test("GET /events/stream?lastEventId= resumes as Last-Event-ID does (event-source-polyfill's reconnect); the header wins", async () => {
  const app = await testApp();
  await app.post("/events", [{ type: "a" }, { type: "a" }, { type: "a" }]);
  const byQuery = await openStream(app, "?since=0&lastEventId=1");
  assert.deepEqual((await byQuery.reader.until((m) => m.id === "3")).map((m) => m.id), ["2", "3"]);
  const byBoth = await openStream(app, "?lastEventId=1", { headers: { "last-event-id": "2" } });
  assert.deepEqual((await byBoth.reader.until((m) => m.id === "3")).map((m) => m.id), ["3"]);
  await problemOf(await app.request("/events/stream?lastEventId=x"), 400);
  await byQuery.reader.cancel();
  await byBoth.reader.cancel();
  await app.close();
});
