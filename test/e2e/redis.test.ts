// BROKER_REDIS_URL through the real entry point: two broker processes on one redis-server
// of the test's own behave as one broker, and survive the faults the contract names: an
// instance killed with kill -9, Redis stopped and restarted from its AOF, Redis frozen.
import assert from "node:assert/strict";
import process from "node:process";
import { test } from "node:test";
import { type RunningRedis, startRedis } from "../support/redis-server.ts";
import { isEvent, SseReader } from "../support/sse.ts";
import { postJson, runtime, type RunningServer, startServer } from "../support/server-process.ts";
import { sleep } from "../support/wait.ts";

const json = async (response: Response) => {
  const body = await response.json();
  if (!response.ok) throw new Error(`${response.status}: ${JSON.stringify(body)}`);
  return body;
};

interface Pulled {
  seq: number;
  id: string;
  deliveries: number;
}

/** Two instances on one Redis; `run` gets them, everything is stopped after. */
async function withTwoInstances(run: (redis: RunningRedis, a: RunningServer, b: RunningServer) => Promise<void>, env: Record<string, string> = {}): Promise<void> {
  const redis = await startRedis();
  const settings = { BROKER_REDIS_URL: redis.url, BROKER_REDIS_PREFIX: "e2e:", ...env };
  const servers: RunningServer[] = [];
  try {
    servers.push(await startServer(settings), await startServer(settings));
    await run(redis, servers[0], servers[1]);
  } finally {
    await Promise.all(servers.map((server) => server.stop("SIGKILL")));
    await redis.stop({ signal: "SIGKILL", removeDir: true });
  }
}

/** Everything the subscription is owed, pulled and acked through `servers` in turn. */
async function drain(servers: RunningServer[], id: string): Promise<Pulled[]> {
  const pulled: Pulled[] = [];
  for (let turn = 0; ; turn++) {
    const server = servers[turn % servers.length];
    const { events } = await json(await postJson(`${server.url}/subscriptions/${id}/pull`, { max: 1_000, waitMs: 0, ack: pulled.at(-1)?.seq }));
    if (events.length === 0) return pulled;
    pulled.push(...events);
  }
}

/** Publishes one event after another until `running()` says stop, keeping what was answered 202. */
async function publishWhile(server: RunningServer, producer: string, running: () => boolean, answered: Map<string, number>, refused: number[]): Promise<void> {
  for (let n = 0; running(); n++) {
    const id = `${producer}-${n}`;
    try {
      const response = await postJson(`${server.url}/events`, { type: "load", source: "/e2e", id });
      if (response.status === 202) answered.set(id, (await response.json()).first);
      else {
        refused.push(response.status);
        await response.body?.cancel();
        await sleep(50);
      }
    } catch {
      return; // the instance is gone
    }
  }
}

test(`${runtime}: two instances on one Redis are one broker: publish on either, stream on the other, pull here and ack there`, { timeout: 30_000 }, async () => {
  await withTwoInstances(async (_redis, a, b) => {
    const stream = new SseReader((await fetch(`${a.url}/events/stream?types=order.*`)).body!);
    const sub = await json(await postJson(`${a.url}/subscriptions`, { types: ["order.*"], name: "ledger" }));
    const batch = [1, 2, 3].map((n) => ({ type: "order.new", id: `o-${n}`, source: "/shop", data: { n } }));
    assert.deepEqual(await json(await postJson(`${b.url}/events`, batch)), { accepted: 3, first: 1, last: 3 });
    assert.equal((await json(await postJson(`${a.url}/events`, { type: "order.paid", data: { n: 4 } }))).first, 4);
    const seen = (await stream.until((message) => message.id === "4", 5_000)).filter(isEvent);
    assert.deepEqual(seen.map((message) => [message.id, JSON.parse(message.data).seq, JSON.parse(message.data).data.n]), [["1", 1, 1], ["2", 2, 2], ["3", 3, 3], ["4", 4, 4]]);
    await stream.cancel();

    const first = await json(await postJson(`${b.url}/subscriptions/${sub.id}/pull`, { max: 1, waitMs: 0 }));
    assert.deepEqual(first.events.map((event: Pulled) => event.seq), [1, 2, 3], "the batch comes whole, through the other instance");
    await json(await postJson(`${a.url}/subscriptions/${sub.id}/ack`, { seq: 3 }));
    assert.deepEqual((await json(await postJson(`${b.url}/subscriptions/${sub.id}/pull`, { waitMs: 0 }))).events.map((event: Pulled) => event.seq), [4]);
    await json(await postJson(`${a.url}/subscriptions/${sub.id}/nack`, { seq: 4 }));
    const again = await json(await postJson(`${a.url}/subscriptions/${sub.id}/pull`, { waitMs: 0 }));
    assert.deepEqual(again.events.map((event: Pulled) => [event.seq, event.deliveries]), [[4, 2]], "nacked there, delivered again here");
    await json(await postJson(`${b.url}/subscriptions/${sub.id}/ack`, { seq: 4 }));
    const waiting = postJson(`${b.url}/subscriptions/${sub.id}/pull`, { waitMs: 5_000 });
    await sleep(200);
    await json(await postJson(`${a.url}/events`, { type: "order.shipped" }));
    assert.deepEqual((await json(await waiting)).events.map((event: Pulled) => event.seq), [5], "a waiting pull on one instance wakes for a publish on the other");
    const described = await json(await fetch(`${a.url}/subscriptions/${sub.id}`));
    assert.deepEqual([described.name, described.ackedSeq, described.lastDeliveredSeq], ["ledger", 4, 5]);
    const duplicate = await json(await postJson(`${a.url}/events`, { type: "order.new", id: "o-2", source: "/shop" }));
    assert.deepEqual(duplicate.duplicateSeqs, [2], "the dedupe window is shared");
  });
});

test(`${runtime}: kill -9 of one instance under publishers on both: every 202 is delivered once, in order; its lease lapses to the other; a stream resumes there`, { timeout: 40_000 }, async () => {
  await withTwoInstances(async (_redis, a, b) => {
    const sub = await json(await postJson(`${a.url}/subscriptions`, { types: ["load"], ackTimeoutMs: 1_000 }));
    const stream = new SseReader((await fetch(`${a.url}/events/stream?types=load`)).body!);
    const answered = new Map<string, number>();
    let running = true;
    const publishers = [publishWhile(a, "a1", () => running, answered, []), publishWhile(a, "a2", () => running, answered, []), publishWhile(b, "b1", () => running, answered, [])];
    await sleep(400);
    const leased = await json(await postJson(`${a.url}/subscriptions/${sub.id}/pull`, { max: 5, waitMs: 0 }));
    assert.ok(leased.events.length > 0, "a holds a lease when it dies");
    const seenOnA = (await stream.until((message) => isEvent(message) && Number(message.id) >= 20, 5_000)).filter(isEvent);
    const killed = a.stop("SIGKILL");
    await sleep(400);
    running = false;
    await Promise.all([...publishers, killed]);
    assert.ok(answered.size > 50, `${answered.size} answered`);

    const resumed = new SseReader((await fetch(`${b.url}/events/stream?types=load`, { headers: { "last-event-id": seenOnA.at(-1)!.id! } })).body!);
    const lastSeq = Math.max(...answered.values());
    const rest = (await resumed.until((message) => isEvent(message) && Number(message.id) >= lastSeq, 5_000)).filter(isEvent);
    const streamed = [...seenOnA, ...rest].map((message) => Number(message.id));
    assert.deepEqual(streamed, Array.from({ length: streamed.length }, (_, i) => i + 1), "the stream, resumed on the other instance, has every seq once");
    await resumed.cancel();

    await sleep(1_100); // the dead instance's lease lapses
    const delivered = await drain([b], sub.id);
    const seqs = delivered.map((event) => event.seq);
    assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y), "in seq order");
    assert.equal(new Set(seqs).size, seqs.length, "each once");
    assert.equal(delivered[0].deliveries, 2, "the lease the dead instance held is delivered again");
    const bySeq = new Map(delivered.map((event) => [event.seq, event.id]));
    for (const [id, seq] of answered) assert.equal(bySeq.get(seq), id, `${id}, answered 202 with seq ${seq}, was delivered`);
  });
});

test(`${runtime}: Redis stopped for 3 s under load: 503 with Retry-After meanwhile, health says so, then all goes on from its AOF; a stream stays open with no gap or duplicate`, { timeout: 40_000 }, async () => {
  await withTwoInstances(async (redis, a, b) => {
    const sub = await json(await postJson(`${a.url}/subscriptions`, { types: ["load"] }));
    const stream = new SseReader((await fetch(`${b.url}/events/stream?types=load`)).body!);
    const answered = new Map<string, number>();
    const refused: number[] = [];
    let running = true;
    const publishers = [publishWhile(a, "a", () => running, answered, refused), publishWhile(b, "b", () => running, answered, refused)];
    await sleep(300);
    await redis.stop(); // SIGTERM: Redis writes its AOF out and exits
    const down = Date.now();
    const started = Date.now();
    const during = await postJson(`${a.url}/events`, { type: "load", id: "during", source: "/e2e" });
    assert.ok(Date.now() - started < 5_000, "answered within 5 s");
    assert.equal(during.status, 503);
    assert.equal(during.headers.get("retry-after"), "1");
    assert.equal((await during.json()).type, "/problems/storage-unavailable");
    assert.equal((await fetch(`${b.url}/healthz`)).status, 503);
    await sleep(Math.max(0, 3_000 - (Date.now() - down)));
    const restarted = await startRedis({ dir: redis.dir, port: redis.port });
    try {
      await eventuallyOk(`${a.url}/healthz`);
      await eventuallyOk(`${b.url}/healthz`);
      const before = answered.size;
      await sleep(500);
      running = false;
      await Promise.all(publishers);
      assert.ok(answered.size > before, "publishing went on after Redis came back");
      assert.ok(refused.length > 0 && refused.every((status) => status === 503), `refused while down: ${refused.slice(0, 5)}`);

      const lastSeq = Math.max(...answered.values());
      const streamed = (await stream.until((message) => isEvent(message) && Number(message.id) >= lastSeq, 8_000)).filter(isEvent).map((message) => Number(message.id));
      assert.deepEqual(streamed, Array.from({ length: streamed.length }, (_, i) => i + 1), "the stream stayed open: every seq once, in order");
      await stream.cancel();
      const delivered = new Map((await drain([a, b], sub.id)).map((event) => [event.seq, event.id]));
      for (const [id, seq] of answered) assert.equal(delivered.get(seq), id, `${id}, answered 202, was kept through the restart`);
    } finally {
      await restarted.stop({ signal: "SIGKILL" });
    }
  });
});

test(`${runtime}: Redis frozen (SIGSTOP): publish, pull and health answer 503 within 5 s, and all goes on after SIGCONT`, { timeout: 30_000 }, async () => {
  await withTwoInstances(async (redis, a, b) => {
    const sub = await json(await postJson(`${a.url}/subscriptions`, {}));
    await json(await postJson(`${a.url}/events`, { type: "before" }));
    process.kill(redis.child.pid!, "SIGSTOP"); // process.kill: Deno 2.9's child.kill cannot send SIGCONT
    try {
      const calls = [
        postJson(`${a.url}/events`, { type: "frozen" }),
        postJson(`${b.url}/subscriptions/${sub.id}/pull`, { waitMs: 0 }),
        fetch(`${b.url}/healthz`),
      ];
      const started = Date.now();
      const answers = await Promise.all(calls);
      assert.ok(Date.now() - started < 5_000, `answered in ${Date.now() - started} ms`);
      assert.deepEqual(answers.map((response) => response.status), [503, 503, 503]);
      for (const response of answers) await response.body?.cancel();
    } finally {
      process.kill(redis.child.pid!, "SIGCONT");
    }
    await eventuallyOk(`${a.url}/healthz`);
    await json(await postJson(`${b.url}/events`, { type: "after" }));
    const types = (await drain([a, b], sub.id)).map((event) => (event as Pulled & { type: string }).type);
    assert.equal(types[0], "before");
    assert.equal(types.at(-1), "after");
  });
});

test(`${runtime}: Redis back without its data (no AOF): streams end with reason "reset", and a reader resuming is told broker.reset and misses nothing of the new log`, { timeout: 30_000 }, async () => {
  let redis = await startRedis({ appendonly: false });
  const server = await startServer({ BROKER_REDIS_URL: redis.url });
  try {
    const stream = new SseReader((await fetch(`${server.url}/events/stream`)).body!);
    assert.equal((await json(await postJson(`${server.url}/events`, [{ type: "old" }, { type: "old" }]))).last, 2);
    await stream.until((message) => message.id === "2", 5_000);
    await redis.stop({ removeDir: true });
    redis = await startRedis({ appendonly: false, port: redis.port });
    const ending = await stream.until((message) => message.event === "broker.closing", 8_000);
    assert.deepEqual(JSON.parse(ending.at(-1)!.data), { reason: "reset" });
    assert.equal((await json(await postJson(`${server.url}/events`, { type: "new" }))).first, 1, "the new log starts again");
    const resumed = new SseReader((await fetch(`${server.url}/events/stream`, { headers: { "last-event-id": "2" } })).body!);
    const messages = await resumed.until((message) => message.id === "1", 5_000);
    assert.deepEqual(JSON.parse(messages.find((message) => message.event === "broker.reset")!.data), { asked: 2, lastSeq: 1 });
    assert.equal(JSON.parse(messages.at(-1)!.data).type, "new");
    await resumed.cancel();
  } finally {
    await server.stop("SIGKILL");
    await redis.stop({ signal: "SIGKILL", removeDir: true });
  }
});

async function eventuallyOk(url: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await fetch(url).catch(() => undefined);
    await response?.body?.cancel();
    if (response?.ok) return;
    if (Date.now() > deadline) throw new Error(`${url} not healthy within ${timeoutMs} ms`);
    await sleep(100);
  }
}
