// A durable broker whose disk is full: a publish is refused 503 and nothing of it is
// accepted, while everything already accepted is still served; publishes that share a
// commit are refused together, and the broker goes on once there is room.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { randomBytes } from "node:crypto";
import { LocalEngine, StorageError } from "../../src/broker/mod.ts";
import { settingsSchema } from "../../src/config.ts";
import { brokerOptionsOf, createBrokerServer } from "../../src/server.ts";
import { SqliteJournal } from "../../src/storage/sqlite-journal.ts";
import { problemOf } from "../support/app.ts";
import { FakeClock } from "../support/fake-clock.ts";

test("a full disk answers a publish 503 storage-unavailable with Retry-After, accepts none of it, and reads go on", async () => {
  const dir = mkdtempSync(join(tmpdir(), "broker-full-"));
  const settings = settingsSchema.parse({});
  const clock = new FakeClock();
  const engine = new LocalEngine({ ...brokerOptionsOf(settings, clock), journal: new SqliteJournal(dir, { sync: "normal", maxPages: 64 }) });
  const server = createBrokerServer(settings, clock, engine);
  const post = (path: string, body: unknown) => server.fetch(new Request(`http://broker.test${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) }));
  try {
    const { id } = await (await post("/subscriptions", {})).json();
    let response: Response;
    let accepted = 0;
    for (response = await post("/events", { type: "a", data: incompressible() }); response.status === 202; response = await post("/events", { type: "a", data: incompressible() })) {
      accepted++;
    }
    const problem = await problemOf(response, 503);
    assert.equal(problem.type, "/problems/storage-unavailable");
    assert.equal(response.headers.get("retry-after"), "1");
    assert.ok(accepted > 10, `${accepted} accepted before the disk filled`);
    assert.equal((await engine.health()).lastSeq, accepted, "nothing of the refused publish");
    const health = await server.fetch(new Request("http://broker.test/healthz"));
    assert.equal((await problemOf(health, 503)).type, "/problems/storage-unavailable", "until a write succeeds again");
    const pulled = await (await post(`/subscriptions/${id}/pull`, { max: 10_000, waitMs: 0 })).json();
    assert.equal(pulled.events.length, accepted, "what was accepted is served");
    assert.equal(pulled.events[0].seq, 1);
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a turn's publishes whose commit overflows the disk are all refused, none of them shows, and the broker goes on once there is room", async () => {
  const dir = mkdtempSync(join(tmpdir(), "broker-full-"));
  const clock = new FakeClock();
  const journal = new SqliteJournal(dir, { sync: "normal", maxPages: 64 });
  const engine = new LocalEngine({ clock, journal, retainEvents: 10, sweepIntervalMs: 2 ** 40, afterTurn: (callback) => void setImmediate(callback) });
  const big = (id: string) => ({ type: "a", source: "/p", id, data: incompressible() });
  try {
    let filled = 0;
    while (await engine.send(big(`fill-${filled}`)).then(() => true, (error) => (assert.ok(error instanceof StorageError, String(error)), false))) filled++;
    await engine.sweep(); // retention lets all but the last 10 go: room for about filled - 10 publishes
    const sub = await engine.subscribe({});
    const stream = await engine.openStream({});
    const group = Array.from({ length: 2 * filled }, (_, i) => engine.send(big(`group-${i}`)));
    const answers = await Promise.allSettled(group);
    assert.deepEqual(new Set(answers.map((answer) => answer.status === "rejected" && answer.reason instanceof StorageError)), new Set([true]), "every publish of the group refused with StorageError");
    assert.equal((await engine.health()).lastSeq, filled, "no seq of them shows");
    assert.equal((await engine.describe(sub.id)).backlog, 0, "no required subscriber holds them");
    assert.deepEqual(stream.read(), [], "no stream saw them");

    const after = await engine.send(big("group-0"));
    assert.deepEqual(after, { accepted: 1, first: filled + 1, last: filled + 1 }, "the next seq, and a pair of the refused group is new");
    assert.equal((await engine.health()).serving, true);
    assert.deepEqual((await engine.pull(sub.id)).flatMap((delivery) => delivery.events.map((event) => event.seq)), [filled + 1]);
  } finally {
    await engine.close();
    journal.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** 2,000 characters that deflate cannot shrink much: the journal stores publishes deflated. */
function incompressible(): string {
  return randomBytes(1_500).toString("base64");
}
