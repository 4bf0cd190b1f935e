// The typed client against the real server, under the runtime running this file.
import assert from "node:assert/strict";
import { test } from "node:test";
import { BrokerClient, BrokerRequestError, type DeliveredEvent, type StreamMessage } from "../../src/client/mod.ts";
import { runtime, startServer } from "../support/server-process.ts";

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

test(`${runtime}: client.stream() yields events and notices, and reconnects with Last-Event-ID`, async () => {
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
  assert.deepEqual(seen.map((m) => (m.kind === "event" ? m.event.seq : m.kind)), [1, "closing", 3]);
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
