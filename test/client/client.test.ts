// The typed client against the real server, under the runtime running this file.
import assert from "node:assert/strict";
import { test } from "node:test";
import { BrokerClient, BrokerRequestError, BrokerUnreachableError, type DeliveredEvent, type StreamMessage } from "../../src/client/mod.ts";
import { runtime, startServer } from "../support/server-process.ts";
import { eventually, sleep } from "../support/wait.ts";

/** Nothing listens on port 1: connecting is refused at once. */
const NOBODY = "http://127.0.0.1:1";

const subscriptionsOf = async (url: string) => (await (await fetch(`${url}/subscriptions`)).json()).subscriptions as { id: string; kind: string; expireAfterMs?: number }[];

test(`${runtime}: client.publish() returns seqs and throws BrokerRequestError with the problem`, async () => {
  const server = await startServer();
  const client = new BrokerClient({ url: server.url });
  assert.deepEqual(await client.publish({ type: "a", data: 1 }), { accepted: 1, first: 1, last: 1 });
  assert.deepEqual(await client.publish([{ type: "a" }, { type: "b" }]), { accepted: 2, first: 2, last: 3 });
  const error = await client.publish({ type: "bad type" }).catch((e) => e);
  assert.ok(error instanceof BrokerRequestError);
  assert.equal(error.status, 400);
  assert.equal(error.problem.errors?.[0].path, "/type");
  assert.equal(error.retryable, false);
  await server.stop();
});

test(`${runtime}: client.stream() yields events and notices, says it reconnects, and resumes with Last-Event-ID`, async () => {
  const server = await startServer({ BROKER_RETRY_MS: "50" });
  const client = new BrokerClient({ url: server.url });
  const controller = new AbortController();
  const seen: StreamMessage[] = [];
  const done = (async () => {
    for await (const message of client.stream({ types: ["order.*"], signal: controller.signal })) {
      seen.push(message);
      if (message.kind === "event" && message.event.type === "order.filled") break;
    }
  })();
  const streamId = async () => ((await (await fetch(`${server.url}/subscriptions`)).json()).subscriptions[0]?.id as string | undefined);
  while (!(await streamId())) await new Promise((resolve) => setTimeout(resolve, 10));
  await client.publish([{ type: "order.new" }, { type: "trade" }]);
  while (seen.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
  await fetch(`${server.url}/subscriptions/${await streamId()}`, { method: "DELETE" });
  await client.publish({ type: "order.filled" });
  await done;
  controller.abort();
  assert.deepEqual(seen.map((m) => (m.kind === "event" ? m.event.seq : m.kind)), ["subscribed", 1, "closing", "reconnecting", "subscribed", 3]);
  assert.deepEqual(seen[3], { kind: "reconnecting", attempt: 1, delayMs: 50, reason: "the broker ended the stream" });
  await server.stop();
});

test(`${runtime}: client.consume() handles in order, acks, nacks a failure, and stops on abort`, async () => {
  const server = await startServer();
  const client = new BrokerClient({ url: server.url });
  const sub = await client.subscribe({ types: ["job"], ackTimeoutMs: 300 });
  await client.publish([{ type: "job", data: 1 }, { type: "job", data: 2 }, { type: "job", data: 3 }]);
  const controller = new AbortController();
  const handled: [number, number | undefined][] = [];
  let failOnce = true;
  await client.consume({
    subscription: sub.id,
    waitMs: 200,
    signal: controller.signal,
    handler: async (event: DeliveredEvent) => {
      if (event.data === 2 && failOnce) {
        failOnce = false;
        throw new Error("transient");
      }
      // Slower than the lease: the client must extend it, or event 3 would come twice.
      if (event.data === 3) await new Promise((resolve) => setTimeout(resolve, 700));
      handled.push([event.seq, event.deliveries]);
      if (handled.length === 3) controller.abort();
    },
  });
  assert.deepEqual(handled, [[1, 1], [2, 2], [3, 2]]);
  const view = await (await fetch(`${server.url}/subscriptions/${sub.id}`)).json();
  assert.equal(view.ackedSeq, 3, "the last handled event was acknowledged on stop");
  assert.equal(view.backlog, 0);
  await server.stop();
});

test(`${runtime}: an unreachable broker is a BrokerUnreachableError naming its URL, for calls and for a stream's first connection`, async () => {
  const client = new BrokerClient({ url: NOBODY });
  const published = await client.publish({ type: "a" }).catch((e) => e);
  assert.ok(published instanceof BrokerUnreachableError, String(published));
  assert.match(published.message, /^cannot reach the broker at http:\/\/127\.0\.0\.1:1: \S/);
  const streamed = await client.stream().next().catch((e) => e);
  assert.ok(streamed instanceof BrokerUnreachableError, String(streamed));
});

test(`${runtime}: client.stream() gives up after maxReconnects failed reconnects in a row, saying each attempt`, async () => {
  const server = await startServer({ BROKER_RETRY_MS: "20" });
  const client = new BrokerClient({ url: server.url });
  const attempts: number[] = [];
  const ended = (async () => {
    for await (const message of client.stream({ maxReconnects: 3 })) {
      if (message.kind === "subscribed") void server.stop("SIGKILL");
      if (message.kind === "reconnecting") attempts.push(message.attempt);
    }
  })().catch((e) => e);
  const error = await ended;
  assert.ok(error instanceof BrokerUnreachableError, String(error));
  assert.match(error.message, /lost the stream from http:\/\/127\.0\.0\.1:\d+ and 3 reconnects in a row failed/);
  assert.deepEqual(attempts, [1, 2, 3]);
});

test("client.stream() maps every broker notice of the contract, broker.reset included", async () => {
  const body = [
    "retry: 10\n\n",
    'event: broker.subscribed\ndata: {"id":"s1"}\n\n',
    'event: broker.reset\ndata: {"asked":100,"lastSeq":1}\n\n',
    'id: 1\ndata: {"type":"a","seq":1}\n\n',
    'event: broker.gap\ndata: {"from":2,"to":3}\n\n',
    'event: broker.dropped\ndata: {"count":1,"from":4,"to":4}\n\n',
    'event: broker.closing\ndata: {"reason":"shutdown"}\n\n',
  ].join("");
  const client = new BrokerClient({ url: "http://broker.test", fetch: () => Promise.resolve(new Response(body, { headers: { "content-type": "text/event-stream" } })) });
  const seen: StreamMessage[] = [];
  for await (const message of client.stream({ since: 100 })) {
    seen.push(message);
    if (message.kind === "closing") break;
  }
  assert.deepEqual(seen, [
    { kind: "subscribed", id: "s1" },
    { kind: "reset", asked: 100, lastSeq: 1 },
    { kind: "event", event: { type: "a", seq: 1 } },
    { kind: "gap", from: 2, to: 3 },
    { kind: "dropped", count: 1, from: 4, to: 4 },
    { kind: "closing", reason: "shutdown" },
  ]);
});

test(`${runtime}: client.consume() with types makes an ephemeral subscription, short-lived if orphaned, deleted when the consume ends`, async () => {
  const server = await startServer();
  const client = new BrokerClient({ url: server.url });
  const controller = new AbortController();
  const handled: number[] = [];
  const consuming = client.consume({
    types: ["job"],
    waitMs: 5_000,
    signal: controller.signal,
    handler: (event) => {
      handled.push(event.seq);
      if (handled.length === 2) controller.abort();
    },
  });
  await eventually(async () => (await subscriptionsOf(server.url)).some((sub) => sub.kind === "required"), 3_000, "the ephemeral subscription");
  const [ephemeral] = (await subscriptionsOf(server.url)).filter((sub) => sub.kind === "required");
  assert.equal(ephemeral.expireAfterMs, 30_000);
  await client.publish([{ type: "job" }, { type: "job" }]);
  await consuming;
  assert.deepEqual(handled, [1, 2]);
  assert.deepEqual(await subscriptionsOf(server.url), [], "nothing left behind to hold publishers back");
  await server.stop();
});

test(`${runtime}: client.consume() with a durable subscription leaves it in place; with both subscription and types it refuses`, async () => {
  const server = await startServer();
  const client = new BrokerClient({ url: server.url });
  const durable = await client.subscribe({ types: ["job"], name: "ledger" });
  await client.consume({ subscription: durable.id, waitMs: 100, signal: AbortSignal.timeout(300), handler: () => {} });
  assert.deepEqual((await subscriptionsOf(server.url)).map((sub) => sub.id), [durable.id]);
  const both = await client.consume({ subscription: durable.id, types: ["job"], signal: AbortSignal.timeout(300), handler: () => {} }).catch((e) => e);
  assert.ok(both instanceof TypeError, String(both));
  assert.deepEqual((await subscriptionsOf(server.url)).map((sub) => sub.id), [durable.id], "nothing created");
  await server.stop();
});

test(`${runtime}: client.consume() keeps a subscription whose idle expiry is shorter than its lease alive while the handler works`, async () => {
  const server = await startServer();
  const client = new BrokerClient({ url: server.url });
  const sub = await client.subscribe({ types: ["job"], ackTimeoutMs: 60_000, expireAfterMs: 1_000 });
  await client.publish({ type: "job" });
  const controller = new AbortController();
  await client.consume({
    subscription: sub.id,
    waitMs: 0,
    signal: controller.signal,
    handler: async () => {
      await sleep(2_500); // the broker sweeps every second: without an extend it would expire meanwhile
      controller.abort();
    },
  });
  assert.equal((await client.subscription(sub.id)).ackedSeq, 1);
  await server.stop();
});
