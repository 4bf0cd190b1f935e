// Long-lived connections against the real server: idle timeouts, slow readers, aborts.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { EventSource } from "eventsource";
import { listSubscriptions } from "../support/http.ts";
import { openStream } from "../support/sse.ts";
import { postJson, runtime, startServer } from "../support/server-process.ts";
import { eventually, sleep } from "../support/wait.ts";

test(`${runtime}: an idle stream and a waiting pull both outlive the runtime's 10 s idle timeout`, { timeout: 30_000 }, async () => {
  const server = await startServer();
  const { reader } = await openStream(server.url);
  const sub = await (await postJson(`${server.url}/subscriptions`, {})).json();
  const started = Date.now();
  const pull = await postJson(`${server.url}/subscriptions/${sub.id}/pull`, { waitMs: 12_500 });
  assert.equal(pull.status, 200);
  assert.deepEqual(await pull.json(), { events: [] });
  assert.ok(Date.now() - started >= 12_000, "the pull waited its full waitMs");
  await postJson(`${server.url}/events`, { type: "late" });
  const [message] = await reader.until((m) => m.id !== undefined);
  assert.equal(JSON.parse(message.data).type, "late");
  await reader.cancel();
  await server.stop();
});

test(`${runtime}: a stalled reader gets drops, holding no more than its buffer, while a fast reader and the publishers are unaffected`, { timeout: 30_000 }, async () => {
  const server = await startServer({ BROKER_STREAM_BUFFER: "200" });
  const { port } = new URL(server.url);
  // A client that sends its request and then never reads: the kernel buffers fill up.
  const stalled = connect(Number(port), "127.0.0.1", () => {
    stalled.write(`GET /events/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n`);
  });
  stalled.pause();
  const { reader: fast } = await openStream(server.url);
  await eventually(async () => (await listSubscriptions(server.url)).length === 2, 3_000, "both streams open");

  const payload = "x".repeat(8_000);
  const batch = Array.from({ length: 100 }, () => ({ type: "bulk", data: payload }));
  let slowestPublishMs = 0;
  let received = 0;
  for (let round = 0; round < 60; round++) {
    const started = Date.now();
    const response = await postJson(`${server.url}/events`, batch);
    slowestPublishMs = Math.max(slowestPublishMs, Date.now() - started);
    assert.equal(response.status, 202);
    const messages = await fast.until((m) => m.id === String((round + 1) * 100), 10_000);
    received += messages.filter((m) => m.id !== undefined).length;
    assert.equal(messages.some((m) => m.event === "broker.dropped"), false);
  }
  assert.equal(received, 6_000, "the fast reader got every event");
  assert.ok(slowestPublishMs < 2_000, `a publish took ${slowestPublishMs} ms`);
  const counters = (await listSubscriptions(server.url)).sort((a, b) => a.dropped - b.dropped);
  assert.equal(counters[0].dropped, 0, "the fast reader dropped nothing");
  assert.ok(counters[1].dropped > 0, "the stalled reader dropped events");
  assert.ok(counters[1].backlog <= 200, `the stalled reader holds ${counters[1].backlog} events, more than its buffer`);
  stalled.destroy();
  await fast.cancel();
  await server.stop();
});

test(`${runtime}: a client that goes away frees its subscription`, async () => {
  const server = await startServer();
  const controller = new AbortController();
  await openStream(server.url, "", { signal: controller.signal });
  assert.equal((await listSubscriptions(server.url)).length, 1);
  controller.abort();
  await eventually(async () => (await listSubscriptions(server.url)).length === 0, 3_000, "subscription freed");
  // An abrupt TCP reset frees it too.
  const socket = connect(Number(new URL(server.url).port), "127.0.0.1", () => socket.write("GET /events/stream HTTP/1.1\r\nHost: x\r\n\r\n"));
  await eventually(async () => (await listSubscriptions(server.url)).length === 1, 3_000, "raw stream open");
  socket.resetAndDestroy();
  await eventually(async () => (await listSubscriptions(server.url)).length === 0, 3_000, "subscription freed after reset");
  await sleep(10);
  await server.stop();
});

/** A local EventSource on every type: how many events it got, in order, and the drops it was told of. */
async function watch(url: string) {
  const source = new EventSource(`${url}/events/stream`);
  const seen = { events: 0, lastSeq: 0, outOfOrder: 0, drops: [] as string[] };
  source.onmessage = (message) => {
    const seq = Number(message.lastEventId);
    if (seq !== seen.lastSeq + 1) seen.outOfOrder++;
    seen.events++;
    seen.lastSeq = seq;
  };
  source.addEventListener("broker.dropped", (message) => seen.drops.push(message.data));
  await new Promise((resolve) => (source.onopen = resolve));
  /** Waits until the event `seq` came, or a drop was told. */
  const reached = (seq: number) => eventually(() => seen.lastSeq >= seq || seen.drops.length > 0, 20_000, `event ${seq}`);
  return { seen, reached, close: () => source.close() };
}

test(`${runtime}: a local EventSource loses nothing of a 2,000-line NDJSON body posted at once`, { timeout: 30_000 }, async () => {
  const server = await startServer();
  const watcher = await watch(server.url);
  const body = Array.from({ length: 2_000 }, (_, n) => `${JSON.stringify({ type: "line", data: n })}\n`).join("");
  const response = await fetch(`${server.url}/events`, { method: "POST", headers: { "content-type": "application/x-ndjson" }, body });
  assert.equal((await response.json()).accepted, 2_000);
  await watcher.reached(2_000);
  assert.deepEqual(watcher.seen, { events: 2_000, lastSeq: 2_000, outOfOrder: 0, drops: [] });
  watcher.close();
  await server.stop();
});

test(`${runtime}: 16 producers bursting into a durable broker: a local EventSource loses nothing`, { timeout: 30_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "broker-e2e-"));
  const server = await startServer({ BROKER_DATA_DIR: dir });
  try {
    const watcher = await watch(server.url);
    // Batches of 105, four rounds each: 6,720 events, many producers' requests handled in each turn.
    const produce = async (producer: number) => {
      for (let round = 0; round < 4; round++) {
        const response = await postJson(`${server.url}/events`, Array.from({ length: 105 }, (_, n) => ({ type: "burst", data: { producer, round, n } })));
        assert.equal(response.status, 202, await response.text());
      }
    };
    await Promise.all(Array.from({ length: 16 }, (_, producer) => produce(producer)));
    await watcher.reached(6_720);
    assert.deepEqual(watcher.seen, { events: 6_720, lastSeq: 6_720, outOfOrder: 0, drops: [] });
    watcher.close();
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
