// BROKER_DATA_DIR through the real entry point: a stop (SIGTERM) or a kill -9 loses nothing,
// and a directory the broker cannot use is a clear error at start that changes nothing.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { SseReader } from "../support/sse.ts";
import { postJson, runtime, type RunningServer, startServer } from "../support/server-process.ts";

const dataDir = () => mkdtempSync(join(tmpdir(), "broker-e2e-"));
const json = async (response: Response) => {
  const body = await response.json();
  if (!response.ok) throw new Error(`${response.status}: ${JSON.stringify(body)}`);
  return body;
};

async function pullAll(server: RunningServer, id: string): Promise<{ seq: number; deliveries: number; id: string }[]> {
  const events: { seq: number; deliveries: number; id: string }[] = [];
  for (;;) {
    const { events: page } = await json(await postJson(`${server.url}/subscriptions/${id}/pull`, { max: 10_000, waitMs: 0, ack: events.at(-1)?.seq }));
    if (page.length === 0) return events;
    events.push(...page);
  }
}

test(`${runtime}: after a stop and a start on the same directory, seq, subscriptions, what they are owed, history and the dedupe window are all back`, { timeout: 60_000 }, async () => {
  const dir = dataDir();
  let server = await startServer({ BROKER_DATA_DIR: dir });
  try {
    const ledger = await json(await postJson(`${server.url}/subscriptions`, { types: ["order.*"], name: "ledger" }));
    const paused = await json(await postJson(`${server.url}/subscriptions`, { types: ["*"] }));
    const poisoned = await json(await postJson(`${server.url}/subscriptions`, { types: ["poison"], maxDeliveries: 1, ackTimeoutMs: 1 }));
    const batch = [1, 2, 3, 4].map((n) => ({ type: "order.new", source: "/shop", id: `o-${n}`, data: { n } }));
    assert.equal((await json(await postJson(`${server.url}/events`, batch))).last, 4);
    await json(await postJson(`${server.url}/events`, { type: "poison" }));
    const first = await json(await postJson(`${server.url}/subscriptions/${ledger.id}/pull`, { max: 1, waitMs: 0 }));
    assert.deepEqual(first.events.map((event: { seq: number }) => event.seq), [1, 2, 3, 4], "a batch comes whole");
    await json(await postJson(`${server.url}/subscriptions/${ledger.id}/ack`, { seq: 2 }));
    await json(await fetch(`${server.url}/subscriptions/${paused.id}`, { method: "PATCH", headers: { "content-type": "application/json" }, body: '{"paused":true}' }));
    await json(await postJson(`${server.url}/subscriptions/${poisoned.id}/pull`, { waitMs: 0 }));
    await new Promise((resolve) => setTimeout(resolve, 5));
    assert.deepEqual((await json(await postJson(`${server.url}/subscriptions/${poisoned.id}/pull`, { waitMs: 0 }))).events, [], "parked");
    assert.equal(await server.stop("SIGTERM"), 0);

    server = await startServer({ BROKER_DATA_DIR: dir });
    assert.equal((await json(await fetch(`${server.url}/healthz`))).lastSeq, 5);
    assert.equal((await json(await postJson(`${server.url}/events`, { type: "order.paid", data: { n: 6 } }))).first, 6, "seq continues");
    const back = await json(await fetch(`${server.url}/subscriptions/${ledger.id}`));
    assert.deepEqual([back.name, back.types, back.ackedSeq], ["ledger", ["order.*"], 2]);
    const owed = await pullAll(server, ledger.id);
    assert.deepEqual(owed.map((event) => [event.seq, event.deliveries]), [[3, 2], [4, 2], [6, 1]], "delivered and not acked comes again, counting on");
    assert.equal((await json(await fetch(`${server.url}/subscriptions/${paused.id}`))).paused, true);
    const parked = await json(await fetch(`${server.url}/subscriptions/${poisoned.id}/parked`));
    assert.deepEqual(parked.events.map((event: { seq: number }) => event.seq), [5]);
    const duplicate = await json(await postJson(`${server.url}/events`, { type: "order.new", source: "/shop", id: "o-2" }));
    assert.deepEqual(duplicate.duplicateSeqs, [2], "the dedupe window holds across the restart");
    const stream = new SseReader((await fetch(`${server.url}/events/stream`, { headers: { "last-event-id": "3" } })).body!);
    const replayed = await stream.until((message) => message.id === "6");
    assert.deepEqual(replayed.filter((message) => message.id).map((message) => message.id), ["4", "5", "6"], "resume replays what was missed");
    await stream.cancel();
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test(`${runtime}: kill -9 under concurrent publishers loses nothing that was answered 202, and duplicates nothing`, { timeout: 60_000 }, async () => {
  const dir = dataDir();
  let server = await startServer({ BROKER_DATA_DIR: dir });
  try {
    const sub = await json(await postJson(`${server.url}/subscriptions`, {}));
    const answered: { seq: number; id: string }[] = [];
    let killed = false;
    const publisher = async (producer: number) => {
      for (let n = 0; !killed; n++) {
        const id = `p${producer}-${n}`;
        try {
          const response = await postJson(`${server.url}/events`, { type: "load", source: "/load", id });
          if (response.status === 202) answered.push({ seq: (await response.json()).first, id });
        } catch {
          return; // the connection broke: the broker is gone
        }
      }
    };
    const publishers = [1, 2, 3, 4].map(publisher);
    await new Promise((resolve) => setTimeout(resolve, 700));
    server.child.kill("SIGKILL");
    killed = true;
    await Promise.all(publishers);
    await server.stop();
    assert.ok(answered.length > 50, `${answered.length} answered before the kill`);

    server = await startServer({ BROKER_DATA_DIR: dir });
    const delivered = await pullAll(server, sub.id);
    const seqs = delivered.map((event) => event.seq);
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), "in seq order");
    assert.equal(new Set(delivered.map((event) => event.id)).size, delivered.length, "each once");
    const byId = new Map(delivered.map((event) => [event.id, event.seq]));
    for (const { seq, id } of answered) assert.equal(byId.get(id), seq, `${id}, answered 202 with seq ${seq}, is there with that seq`);
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test(`${runtime}: an ack answered 200 and a kill -9 right after it: the ack point is back after a restart, and nothing acknowledged comes again`, { timeout: 60_000 }, async () => {
  const dir = dataDir();
  let server = await startServer({ BROKER_DATA_DIR: dir });
  try {
    const sub = await json(await postJson(`${server.url}/subscriptions`, { name: "ledger", types: ["order.*"] }));
    const events = Array.from({ length: 100 }, (_, n) => ({ type: "order.new", data: { n } }));
    await json(await postJson(`${server.url}/events`, events.slice(0, 50)));
    await json(await postJson(`${server.url}/events`, events.slice(50)));
    const pulled = await json(await postJson(`${server.url}/subscriptions/${sub.id}/pull`, { max: 100, waitMs: 0 }));
    assert.equal(pulled.events.length, 100);
    // Producers keep the broker busy, so that whatever it would do after an answer comes
    // late: the ack in a pull, then one of its own, each answered, then the process killed.
    let killed = false;
    const load = Array.from({ length: 200 }, (_, n) => ({ type: "load", data: { n, text: "x".repeat(400) } }));
    const producer = async () => {
      while (!killed) await postJson(`${server.url}/events`, load).then((response) => response.arrayBuffer(), () => undefined);
    };
    const producers = [producer(), producer(), producer(), producer()];
    await new Promise((resolve) => setTimeout(resolve, 300));
    await json(await postJson(`${server.url}/subscriptions/${sub.id}/pull`, { waitMs: 0, ack: 50 }));
    const acked = await json(await postJson(`${server.url}/subscriptions/${sub.id}/ack`, { seq: 100 }));
    server.child.kill("SIGKILL");
    killed = true;
    await Promise.all(producers);
    await server.stop();
    assert.equal(acked.ackedSeq, 100);

    server = await startServer({ BROKER_DATA_DIR: dir });
    assert.equal((await json(await fetch(`${server.url}/subscriptions/${sub.id}`))).ackedSeq, 100, "the ack point answered is kept");
    assert.deepEqual((await pullAll(server, sub.id)).map((event) => event.seq), [], "nothing acknowledged is delivered again");
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test(`${runtime}: a second broker on the same directory, a damaged database and a directory that is a file are clear errors at start`, { timeout: 30_000 }, async () => {
  const dir = dataDir();
  const first = await startServer({ BROKER_DATA_DIR: dir });
  try {
    await assert.rejects(startServer({ BROKER_DATA_DIR: dir }), /cannot start: another broker process is using this data directory/);
    assert.equal((await fetch(`${first.url}/healthz`)).status, 200, "the first goes on");
  } finally {
    await first.stop();
  }
  const damaged = dataDir();
  const garbage = "not a database, but somebody's file\n".repeat(300);
  writeFileSync(join(damaged, "broker.sqlite"), garbage);
  await assert.rejects(startServer({ BROKER_DATA_DIR: damaged }), /cannot start: cannot use .*broker\.sqlite/);
  assert.equal(readFileSync(join(damaged, "broker.sqlite"), "utf8"), garbage, "left as it was");
  const file = join(dataDir(), "a-file");
  writeFileSync(file, "");
  await assert.rejects(startServer({ BROKER_DATA_DIR: file }), /cannot start: /);
  for (const path of [dir, damaged]) rmSync(path, { recursive: true, force: true });
});
