// The memory budget holds for a real server process: the adversarial run's scenarios at a
// smaller scale, with a small budget, measured as the process's resident memory.
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { test } from "node:test";
import { MAX_WRITE_BYTES } from "../../routes/sse.ts";
import { postJson, runtime, type RunningServer, startServer } from "../support/server-process.ts";
import { sleep } from "../support/wait.ts";

const MiB = 1_048_576;
const BUDGET = 32 * MiB;
/**
 * What the process may grow by beyond the budget: garbage the collector has not yet
 * returned (request bodies, answers) and the runtime's own heap growth, measured here at
 * up to 50 MiB on Bun and 90 MiB on Deno after 100 MiB of requests (113 MiB once, on Deno,
 * with another benchmark running).
 */
const SLACK = (runtime === "bun" ? 64 : 128) * MiB;
/**
 * What a stream whose reader stalled costs beyond the budget: the runtime's own, measured
 * with a bare server writing fresh 64 KiB chunks to readers that never read until their
 * sockets fill (Bun ≈ 80-150 KiB; Deno ≈ 650 KiB on an idle machine and up to twice that
 * under load, most of it chunks written before the stall that its collector has not yet
 * freed), and the one write the broker handed it.
 */
const PER_CONNECTION = (runtime === "bun" ? 160 : 1_280) * 1_024 + MAX_WRITE_BYTES;

const settings = { BROKER_MEMORY_BUDGET_BYTES: String(BUDGET), BROKER_MAX_BODY_BYTES: String(2 * MiB) };

async function residentBytes(server: RunningServer): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  return Number(/^process_resident_memory_bytes (\S+)$/m.exec(text)![1]);
}

/** Publishes `count` events of `bytes` each, `perRequest` to a request; returns the statuses seen. */
async function publish(server: RunningServer, count: number, bytes: number, perRequest = 1): Promise<Set<number>> {
  const statuses = new Set<number>();
  const data = "x".repeat(bytes);
  for (let i = 0; i < count; i += perRequest) {
    const batch = Array.from({ length: perRequest }, () => ({ type: "load", data }));
    const response = await postJson(`${server.url}/events`, batch);
    await response.body?.cancel();
    statuses.add(response.status);
  }
  return statuses;
}

/** Opens a stream and never reads it: the stalled reader of the adversarial run. */
function stalledStream(server: RunningServer): Promise<Socket> {
  const { hostname, port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => {
      socket.write("GET /events/stream HTTP/1.1\r\nHost: x\r\n\r\n");
      socket.pause();
      resolve(socket);
    });
    socket.once("error", reject);
  });
}

async function growthWithin(server: RunningServer, base: number, connections: number, what: string): Promise<void> {
  await sleep(500);
  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  for (const [, part, used] of metrics.matchAll(/^broker_memory_used_bytes\{part="(\w+)"\} (\S+)$/gm)) {
    const limit = Number(new RegExp(`^broker_memory_limit_bytes\\{part="${part}"\\} (\\S+)$`, "m").exec(metrics)![1]);
    assert.ok(Number(used) <= limit, `${what}: the broker counts ${used} bytes in ${part}, over its ${limit}`);
  }
  const grown = (await residentBytes(server)) - base;
  const allowed = BUDGET + SLACK + connections * PER_CONNECTION;
  assert.ok(grown <= allowed, `${what}: resident memory grew by ${(grown / MiB).toFixed(0)} MiB, more than ${(allowed / MiB).toFixed(0)} MiB`);
}

async function warmedUp(): Promise<{ server: RunningServer; base: number }> {
  const server = await startServer(settings);
  await publish(server, 20, 100_000);
  return { server, base: await residentBytes(server) };
}

test(`${runtime}: 200 MiB of large events with nobody subscribed keep no more history than the budget allows`, { timeout: 60_000 }, async () => {
  const { server, base } = await warmedUp();
  try {
    assert.deepEqual(await publish(server, 200, 1_000_000), new Set([202]));
    await growthWithin(server, base, 0, "history");
  } finally {
    await server.stop();
  }
});

test(`${runtime}: 50 required subscriptions that never ack are refused new events with 503 before the budget is spent`, { timeout: 60_000 }, async () => {
  const { server, base } = await warmedUp();
  try {
    for (let i = 0; i < 50; i++) await postJson(`${server.url}/subscriptions`, { types: ["*"] });
    const statuses = await publish(server, 400, 256_000, 2);
    assert.ok(statuses.has(202) && statuses.has(503), `statuses ${[...statuses]}`);
    await growthWithin(server, base, 0, "required backlogs");
  } finally {
    await server.stop();
  }
});

test(`${runtime}: 120 streams stalled one after another hold no more than the budget, and a reading stream loses nothing`, { timeout: 60_000 }, async () => {
  const { server, base } = await warmedUp();
  const sockets: Socket[] = [];
  try {
    const reader = new EventCounter((await fetch(`${server.url}/events/stream`)).body!);
    // A stream stalls after each MiB, so each holds other events than the others: what costs most without a shared bound.
    for (let published = 100; published <= 12_000; published += 100) {
      sockets.push(await stalledStream(server));
      assert.deepEqual(await publish(server, 100, 10_000, 50), new Set([202]));
      await reader.reached(published); // in step with the reader, so that what it may lose is only what the stalled streams cost it
    }
    await growthWithin(server, base, sockets.length + 1, "stalled streams");
    await reader.cancel();
  } finally {
    sockets.forEach((socket) => socket.destroy());
    await server.stop();
  }
});

/** Counts the events of an SSE body as they come; any drop notice fails the test. */
class EventCounter {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #decoder = new TextDecoder();
  #text = "";
  #count = 0;

  constructor(body: ReadableStream<Uint8Array>) {
    this.#reader = body.getReader();
  }

  /** Reads until `count` events have come. */
  async reached(count: number): Promise<void> {
    while (this.#count < count) {
      const { value, done } = await this.#reader.read();
      if (done) throw new Error(`the stream ended after ${this.#count} events`);
      this.#text += this.#decoder.decode(value, { stream: true });
      const frames = this.#text.split("\n\n");
      this.#text = frames.pop()!;
      for (const frame of frames) {
        if (frame.startsWith("event: broker.dropped")) throw new Error(`the reading stream dropped: ${frame}`);
        if (frame.startsWith("id: ")) this.#count++;
      }
    }
  }

  cancel(): Promise<void> {
    return this.#reader.cancel();
  }
}
