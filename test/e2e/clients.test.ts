// The real server, under the runtime running this file, driven by real clients.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { test } from "node:test";
import { promisify } from "node:util";
import { CloudEvent, HTTP } from "cloudevents";
import { EventSource } from "eventsource";
import { postJson, runtime, startServer } from "../support/server-process.ts";

const run = promisify(execFile);

test(`${runtime}: the server prints one line with its address and its memory budget (then any warnings), and answers /healthz`, async () => {
  const server = await startServer({ BROKER_MEMORY_BUDGET_BYTES: "67108864" });
  assert.match(server.output, /^event-broker listening on http:\/\/127\.0\.0\.1:\d+ \(state in memory; memory budget 64 MiB: required 26 MiB, streams 16 MiB, history 10 MiB, dedupe 6 MiB, pulls 6 MiB\)\n(warning: .*\n)*$/);
  assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
  assert.equal(await server.stop(), 0);
});

test(`${runtime}: curl -d publishes with curl's default content type`, async () => {
  const server = await startServer();
  const { stdout } = await run("curl", ["-s", "-w", "\n%{http_code}", "-d", '{"type":"order.filled","data":{"qty":1}}', `${server.url}/events`]);
  assert.deepEqual(stdout.split("\n"), ['{"accepted":1,"first":1,"last":1}', "202"]);
  const { stdout: problem } = await run("curl", ["-s", "-i", "-d", '{"type":"bad type"}', `${server.url}/events`]);
  assert.match(problem, /^HTTP\/1\.1 400/);
  assert.match(problem, /content-type: application\/problem\+json/i);
  assert.match(problem, /"path":"\/type"/);
  await server.stop();
});

test(`${runtime}: the cloudevents SDK publishes in binary and structured mode`, async () => {
  const server = await startServer();
  const sub = await (await postJson(`${server.url}/subscriptions`, { types: ["com.example.*"] })).json();
  const event = new CloudEvent({ type: "com.example.order", source: "/sdk", data: { n: 1 } });
  for (const message of [HTTP.binary(event), HTTP.structured(event.cloneWith({ id: "second" }))]) {
    const response = await fetch(`${server.url}/events`, { method: "POST", headers: message.headers as Record<string, string>, body: message.body as string });
    assert.equal(response.status, 202, await response.text());
  }
  const { events } = await (await postJson(`${server.url}/subscriptions/${sub.id}/pull`, { waitMs: 0 })).json();
  assert.deepEqual(events.map((e: { id: string; source: string; data: unknown }) => [e.id, e.source, e.data]), [
    [event.id, "/sdk", { n: 1 }],
    ["second", "/sdk", { n: 1 }],
  ]);
  const received = HTTP.toEvent({ headers: { "content-type": "application/cloudevents+json" }, body: JSON.stringify(events[0]) }) as CloudEvent;
  assert.equal(received.type, "com.example.order");
  await server.stop();
});

test(`${runtime}: an EventSource gets events in onmessage, notices as named events, and resumes with Last-Event-ID`, async () => {
  const server = await startServer({ BROKER_RETRY_MS: "100" });
  const source = new EventSource(`${server.url}/events/stream?types=order.*`);
  const seen: number[] = [];
  const subscribedIds: string[] = [];
  let closings = 0;
  source.addEventListener("broker.subscribed", (message) => subscribedIds.push(JSON.parse(message.data).id));
  source.addEventListener("broker.closing", () => closings++);
  const messageCount = (n: number) => new Promise<void>((resolve) => {
    source.onmessage = (message) => {
      seen.push(JSON.parse(message.data).seq);
      assert.equal(message.lastEventId, String(seen.at(-1)));
      if (seen.length === n) resolve();
    };
  });
  await new Promise((resolve) => (source.onopen = resolve));
  const firstTwo = messageCount(2);
  await postJson(`${server.url}/events`, [{ type: "order.new" }, { type: "trade" }, { type: "order.filled" }]);
  await firstTwo;
  // Deleting the subscription closes the stream; EventSource reconnects with Last-Event-ID.
  const rest = messageCount(3);
  await fetch(`${server.url}/subscriptions/${subscribedIds[0]}`, { method: "DELETE" });
  await postJson(`${server.url}/events`, { type: "order.late" });
  await rest;
  const live = messageCount(4);
  await postJson(`${server.url}/events`, { type: "order.live" });
  await live;
  source.close();
  assert.deepEqual(seen, [1, 3, 4, 5], "nothing lost or repeated across the reconnect");
  assert.equal(closings, 1);
  assert.equal(subscribedIds.length, 2);
  await server.stop();
});

test(`${runtime}: a consumer that crashes mid-batch gets the same events again once the lease lapses`, async () => {
  const server = await startServer();
  const sub = await (await postJson(`${server.url}/subscriptions`, { types: ["job"], ackTimeoutMs: 300 })).json();
  await postJson(`${server.url}/events`, [{ type: "job", data: 1 }, { type: "job", data: 2 }, { type: "job", data: 3 }]);
  const pull = async () => (await (await postJson(`${server.url}/subscriptions/${sub.id}/pull`, { waitMs: 5_000 })).json()).events;
  const first = await pull();
  assert.deepEqual(first.map((e: { seq: number }) => e.seq), [1, 2, 3]);
  // The consumer handles event 1, acks it, and dies before the rest.
  await postJson(`${server.url}/subscriptions/${sub.id}/ack`, { seq: 1 });
  const started = Date.now();
  const again = await pull();
  assert.ok(Date.now() - started >= 200, "redelivered only after the lease lapsed");
  assert.deepEqual(again.map((e: { seq: number; deliveries: number }) => [e.seq, e.deliveries]), [[2, 2], [3, 2]]);
  await server.stop();
});
