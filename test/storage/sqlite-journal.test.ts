// The broker on its SQLite journal: what a restart brings back, and what the journal refuses.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { randomBytes } from "node:crypto";
import { DatabaseSync } from "node:sqlite";
import { type AcceptedEvent, Broker, type BrokerOptions, LocalEngine, StorageError } from "../../src/broker/mod.ts";
import { JournalOpenError, SqliteJournal } from "../../src/storage/sqlite-journal.ts";
import { FakeClock } from "../support/fake-clock.ts";
import { parsed, seqsOf } from "../support/broker.ts";

/** A data directory that is removed when the test ends. */
function dataDir(): string {
  return mkdtempSync(join(tmpdir(), "broker-journal-"));
}

/** A broker on the journal in `dir`, sharing `clock` across restarts. */
function durableBroker(dir: string, clock: FakeClock, options: Partial<BrokerOptions> = {}, maxPages?: number) {
  const journal = new SqliteJournal(dir, { sync: "normal", maxPages });
  let next = 0;
  const broker = new Broker({ clock, journal, newId: () => `id-${clock.now()}-${++next}`, ...options });
  return {
    broker,
    journal,
    restart(more: Partial<BrokerOptions> = {}) {
      broker.close();
      journal.close();
      return durableBroker(dir, clock, { ...options, ...more }, maxPages);
    },
    stop() {
      broker.close();
      journal.close();
    },
  };
}

test("after a restart seq continues and each required subscription is back as it was, owed what it was", async () => {
  const dir = dataDir();
  const clock = new FakeClock();
  let run = durableBroker(dir, clock, { maxDeliveries: 0 });
  try {
    const ledger = run.broker.subscribe({ kind: "required", name: "ledger", types: ["order.*"], filters: [{ exact: { region: "eu" } }], ackTimeoutMs: 5_000 });
    const paused = run.broker.subscribe({ kind: "required", types: ["*"] });
    const poisoned = run.broker.subscribe({ kind: "required", types: ["poison"], maxDeliveries: 1, ackTimeoutMs: 10 });
    run.broker.sendBatch([{ type: "order.new", region: "eu" }, { type: "order.new", region: "us" }, { type: "order.paid", region: "eu" }]);
    run.broker.send({ type: "order.new", region: "eu" });
    run.broker.send({ type: "poison" });
    assert.deepEqual(seqsOf(await run.broker.pull(ledger.id, { max: 1 })), [1, 3], "a batch comes whole");
    run.broker.ack(ledger.id, 1);
    run.broker.setPaused(paused.id, true);
    run.broker.send({ type: "order.new", region: "eu" }); // 6: never owed to the paused one
    await run.broker.pull(poisoned.id);
    clock.advance(10);
    assert.deepEqual(await run.broker.pull(poisoned.id), [], "the poison event is parked");
    clock.advance(1); // the progress of this turn reaches the journal

    run = run.restart();
    const broker = run.broker;
    assert.equal(broker.lastSeq, 6);
    assert.equal(broker.send({ type: "later" }).first, 7, "seq continues");
    const back = broker.get(ledger.id);
    assert.equal(back.kind, "required");
    if (back.kind !== "required") return;
    assert.deepEqual([back.name, back.types, back.filters, back.options.ackTimeoutMs, back.ackedSeq], ["ledger", ["order.*"], [{ exact: { region: "eu" } }], 5_000, 1]);
    const again = await broker.pull(back.id, { max: 10 });
    assert.deepEqual(seqsOf(again), [3, 4, 6], "what was delivered and not acked comes again, then the rest");
    assert.deepEqual(again.map((delivery) => delivery.deliveries), [2, 1, 1], "deliveries count on");
    const pausedBack = broker.get(paused.id);
    assert.ok(pausedBack.kind === "required" && pausedBack.paused);
    broker.setPaused(paused.id, false);
    assert.deepEqual(seqsOf(await broker.pull(paused.id, { max: 10 })), [1, 2, 3, 4, 5], "seq 6, 7 came while it was paused");
    const poisonedBack = broker.get(poisoned.id);
    assert.ok(poisonedBack.kind === "required");
    assert.deepEqual(poisonedBack.parked.map(({ event, deliveries }) => [event.seq, deliveries]), [[5, 1]]);
    assert.equal(poisonedBack.ackedSeq, 5);
  } finally {
    run.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("after a restart the dedupe window still holds, and a stream resumes from events older than the memory window", () => {
  const dir = dataDir();
  const clock = new FakeClock();
  let run = durableBroker(dir, clock, { historySize: 3 });
  try {
    for (let i = 1; i <= 10; i++) run.broker.send({ type: "a", source: "/p", id: `e-${i}` });
    run = run.restart();
    assert.deepEqual(run.broker.send({ type: "a", source: "/p", id: "e-2" }), { accepted: 0, first: null, last: null, duplicates: 1, duplicateSeqs: [2] });
    const stream = run.broker.subscribe({ kind: "stream", since: 1 });
    const seqs: number[] = [];
    for (let items = stream.read(); items.length > 0; items = stream.read()) seqs.push(...items.map((item) => parsed(item as { json: string }).seq as number));
    assert.deepEqual(seqs, [2, 3, 4, 5, 6, 7, 8, 9, 10]);
  } finally {
    run.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("after a restart each event's JSON is as it was accepted, and only the ids its producer chose are remembered", () => {
  const dir = dataDir();
  const clock = new FakeClock();
  let run = durableBroker(dir, clock, { historySize: 1 });
  try {
    const odd = "ü \u2028 😀 \"quoted\" \\ end";
    const batch = [
      { type: "a", source: "/p", id: "x-1" },
      { type: "b", data: odd },
      { type: "a", source: "/q", id: odd },
      { type: "big", data: "é😀".repeat(30_000) }, // 2 bytes a UTF-16 unit, 150 KB: past the first encoding buffer
      { type: "wide", data: "中\u2028".repeat(40_000) }, // 3 bytes a unit, the most there is
    ];
    const singles = [{ type: "huge", data: "é😀".repeat(200_000) }, { type: "after", data: odd }]; // 1.2 MB, then a small one
    run.broker.sendBatch(batch);
    for (const event of singles) run.broker.send(event);
    const sent = [...batch, ...singles];

    run = run.restart();
    const back = readAll(run.broker);
    assert.deepEqual(back.map((event) => [event.type, JSON.parse(event.json).data]), sent.map((event) => [event.type, (event as { data?: string }).data]), "read back from the journal as sent");
    const generated = JSON.parse(back[1].json) as { source: string; id: string };
    const again = run.broker.sendBatch([{ type: "a", source: "/q", id: odd }, { type: "b", source: generated.source, id: generated.id }, { type: "a", source: "/p", id: "x-1" }]);
    assert.deepEqual([again.accepted, again.duplicateSeqs], [1, [3, 1]], "the generated id was never the producer's");
  } finally {
    run.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a publish of similar events takes a fraction of its JSON on disk", () => {
  const dir = dataDir();
  const run = durableBroker(dir, new FakeClock());
  const events = Array.from({ length: 100 }, (_, i) => ({ type: "order.filled", source: "/shop", id: `o-${i}`, data: { order: `A-${1000 + i}`, qty: 3, px: 101.25 } }));
  run.broker.sendBatch(events);
  const jsonBytes = run.broker.read(0, 100).events.reduce((sum, event) => sum + event.size, 0);
  run.stop();
  const db = new DatabaseSync(join(dir, "broker.sqlite"));
  try {
    const row = db.prepare("SELECT length(events) + length(producers) AS bytes FROM publishes").get() as { bytes: number };
    assert.ok(row.bytes * 5 < jsonBytes, `${row.bytes} bytes stored for ${jsonBytes} bytes of JSON`);
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a format-2 journal is upgraded at open: its events, seqs and producers' ids are kept", () => {
  const dir = dataDir();
  const clock = new FakeClock();
  const publishes = format2Publishes(100, clock.now(), (index) => (index === 50 ? "x".repeat(3_000) : `d-${index}`));
  writeFormat2(dir, publishes);
  let run = durableBroker(dir, clock, { historySize: 1 });
  try {
    const expected = publishes.flatMap((publish) => publish.events.map((event, index) => [publish.first + index, event.type, event.json]));
    assert.deepEqual(readAll(run.broker).map((event) => [event.seq, event.type, event.json]), expected);
    run = run.restart(); // opened a second time: in format 3 now
    assert.equal(run.broker.lastSeq, expected.length);
    const named = publishes.flatMap((publish) => publish.events.filter((event) => event.producer)).map((event) => ({ type: event.type, ...event.producer! }));
    const unnamed = publishes.flatMap((publish) => publish.events.filter((event) => !event.producer)).map((event) => JSON.parse(event.json) as { type: string; source: string; id: string });
    const again = run.broker.sendBatch([...named, ...unnamed].map(({ type, source, id }) => ({ type, source, id })));
    assert.equal(again.duplicates, named.length, "every id a producer chose, and only those");
    run.stop();
    const db = new DatabaseSync(join(dir, "broker.sqlite"));
    assert.equal((db.prepare("SELECT value FROM meta WHERE key = 'format'").get() as { value: string }).value, "3");
    assert.ok((db.prepare("SELECT events FROM publishes WHERE first = ?").get(publishes[50].first) as { events: unknown }).events instanceof Uint8Array, "the large publish deflated");
    db.close();
  } finally {
    run.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("an upgrade from format 2 that cannot finish leaves the journal as it was, and the next open upgrades it", () => {
  const dir = dataDir();
  const clock = new FakeClock();
  const publishes = format2Publishes(200, clock.now(), () => incompressible());
  writeFormat2(dir, publishes);
  const pages = () => {
    const db = new DatabaseSync(join(dir, "broker.sqlite"));
    const state = { pages: (db.prepare("PRAGMA page_count").get() as { page_count: number }).page_count, format: (db.prepare("SELECT value FROM meta WHERE key = 'format'").get() as { value: string }).value };
    db.close();
    return state;
  };
  const before = pages();
  assert.throws(() => new SqliteJournal(dir, { sync: "normal", maxPages: before.pages + 20 }), (error: Error) => error instanceof JournalOpenError && /cannot upgrade the journal from format 2/.test(error.message));
  assert.deepEqual(pages(), before, "format 2, every page as it was");
  const run = durableBroker(dir, clock, { historySize: 1 });
  try {
    assert.equal(readAll(run.broker).length, publishes.reduce((sum, publish) => sum + publish.events.length, 0));
  } finally {
    run.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

interface Format2Event {
  type: string;
  json: string;
  producer?: { source: string; id: string };
}

/** `count` publishes of one to three events each, as format 2 held them; every third event's id its producer's. */
function format2Publishes(count: number, acceptedAt: number, dataOf: (index: number) => string): { first: number; acceptedAt: number; events: Format2Event[] }[] {
  let seq = 0;
  return Array.from({ length: count }, (_, index) => {
    const first = seq + 1;
    const events = Array.from({ length: 1 + (index % 3) }, () => {
      seq++;
      const producer = seq % 3 === 0 ? { source: `/producer-${index % 4}`, id: `e-${seq}` } : undefined;
      const attributes = { specversion: "1.0", id: producer?.id ?? `generated-${seq}`, source: producer?.source ?? "/", type: `t.${seq % 5}`, time: "2026-11-28T15:00:00.000Z", seq, data: dataOf(index) };
      return { type: attributes.type, json: JSON.stringify(attributes), producer };
    });
    return { first, acceptedAt, events };
  });
}

/** A journal in `dir` as a broker of format 2 wrote it. */
function writeFormat2(dir: string, publishes: ReturnType<typeof format2Publishes>): void {
  const db = new DatabaseSync(join(dir, "broker.sqlite"));
  db.exec(`
    PRAGMA journal_mode = WAL;
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
    INSERT INTO meta VALUES ('application', 'event-broker'), ('format', '2');
    CREATE TABLE publishes (first INTEGER PRIMARY KEY, last INTEGER NOT NULL, accepted_at INTEGER NOT NULL, types TEXT NOT NULL, jsons TEXT NOT NULL, producers TEXT);
    CREATE TABLE subscriptions (id TEXT PRIMARY KEY, record TEXT NOT NULL) WITHOUT ROWID;
    CREATE TABLE parked (subscription TEXT NOT NULL, seq INTEGER NOT NULL, deliveries INTEGER NOT NULL, type TEXT NOT NULL, json TEXT NOT NULL, PRIMARY KEY (subscription, seq)) WITHOUT ROWID;`);
  const insert = db.prepare("INSERT INTO publishes VALUES (?, ?, ?, ?, ?, ?)");
  for (const { first, acceptedAt, events } of publishes) {
    const named = events.flatMap((event, index) => (event.producer ? [[index, event.producer.source, event.producer.id]] : []));
    insert.run(first, first + events.length - 1, acceptedAt, events.map((event) => event.type).join("\n"), events.map((event) => event.json).join("\n"), named.length > 0 ? JSON.stringify(named) : null);
  }
  db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  db.close();
}

test("retention removes old events in the background, never one a required subscription holds", () => {
  const dir = dataDir();
  const clock = new FakeClock();
  const run = durableBroker(dir, clock, { retainEvents: 5, sweepIntervalMs: 100 });
  try {
    const slow = run.broker.subscribe({ kind: "required", types: ["kept"] });
    run.broker.send({ type: "kept" });
    for (let i = 0; i < 20; i++) run.broker.send({ type: "other" });
    clock.advance(100);
    assert.equal(run.journal.oldestSeq(), 1, "seq 1 is held");
    assert.equal(slow.backlog, 1);
  } finally {
    run.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("retention keeps the newest retainEvents once nothing holds the older ones", async () => {
  const dir = dataDir();
  const clock = new FakeClock();
  const run = durableBroker(dir, clock, { retainEvents: 5, sweepIntervalMs: 100 });
  try {
    const sub = run.broker.subscribe({ kind: "required", types: ["kept"] });
    run.broker.send({ type: "kept" });
    for (let i = 0; i < 20; i++) run.broker.send({ type: "other" });
    await run.broker.pull(sub.id);
    run.broker.ack(sub.id, 1);
    clock.advance(100);
    assert.equal(run.journal.oldestSeq(), 17);
  } finally {
    run.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("retention keeps or removes a publish whole, and removes about as many events a step as asked", () => {
  const dir = dataDir();
  const journal = new SqliteJournal(dir, { sync: "normal" });
  try {
    const publish = (first: number, last: number) => {
      const events = Array.from({ length: last - first + 1 }, (_, i) => ({ seq: first + i, type: "t", json: `{"seq":${first + i}}`, size: 10, batch: first, acceptedAt: first }));
      journal.commit({ publishes: [events] });
    };
    publish(1, 3);
    publish(4, 4);
    publish(5, 6);
    publish(7, 9);
    assert.equal(journal.trim(6, 1), 3, "a step of 1 removes the first publish, whole");
    assert.equal(journal.oldestSeq(), 4);
    assert.equal(journal.trim(6, 100), 1, "5-6 is kept: 6 is not below 6");
    assert.deepEqual(journal.readAfter(0, 100).map((event) => event.seq), [5, 6, 7, 8, 9]);
    assert.deepEqual(journal.readAfter(5, 2).map((event) => event.seq), [6, 7], "a read starts inside a publish and stops inside one");
    assert.deepEqual([...journal.scan(6, 8)].map((event) => event.seq), [6, 7, 8]);
    assert.equal(journal.firstSeqSince(6), 7, "accepted at 7: the publish 7-9");
    assert.equal(journal.trim(100, 100), 5);
    assert.equal(journal.oldestSeq(), 10, "none kept: the next seq");
    journal.close();
    const reopened = new SqliteJournal(dir, { sync: "normal" });
    assert.equal(reopened.recover().lastSeq, 9, "with every event trimmed, a restart still goes on from 9");
    reopened.close();
  } finally {
    journal.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a second journal on the same directory is refused at open, and the first goes on", () => {
  const dir = dataDir();
  const first = new SqliteJournal(dir, { sync: "normal" });
  try {
    assert.throws(() => new SqliteJournal(dir, { sync: "normal" }), (error: Error) => error instanceof JournalOpenError && /another broker/.test(error.message));
    first.commit({ publishes: [[{ seq: 1, type: "a", json: "{}", size: 2, batch: 1, acceptedAt: 0 }]] });
    assert.equal(first.recover().lastSeq, 1);
  } finally {
    first.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a database that is not the broker's, or not a database at all, is refused at open and left as it was", () => {
  const foreign = dataDir();
  const db = new DatabaseSync(join(foreign, "broker.sqlite"));
  db.exec("CREATE TABLE invoices (id INTEGER PRIMARY KEY); INSERT INTO invoices VALUES (1)");
  db.close();
  assert.throws(() => new SqliteJournal(foreign, { sync: "normal" }), /not an event-broker database/);
  const check = new DatabaseSync(join(foreign, "broker.sqlite"));
  assert.equal((check.prepare("SELECT count(*) AS n FROM invoices").get() as { n: number }).n, 1);
  check.close();
  const garbage = dataDir();
  writeFileSync(join(garbage, "broker.sqlite"), "this is not a database, but it is somebody's file ".repeat(200));
  assert.throws(() => new SqliteJournal(garbage, { sync: "normal" }), JournalOpenError);
  rmSync(foreign, { recursive: true, force: true });
  rmSync(garbage, { recursive: true, force: true });
});

test("a full disk refuses the publish with StorageError, accepts nothing of it, and reads go on", async () => {
  const dir = dataDir();
  const clock = new FakeClock();
  const run = durableBroker(dir, clock, {}, 64);
  try {
    const sub = run.broker.subscribe({ kind: "required" });
    let refused: unknown;
    let accepted = 0;
    for (let i = 0; i < 1_000 && !refused; i++) {
      try {
        accepted += run.broker.send({ type: "a", data: incompressible() }).accepted;
      } catch (error) {
        refused = error;
      }
    }
    assert.ok(refused instanceof StorageError, `refused with ${refused}`);
    assert.equal(run.broker.lastSeq, accepted, "nothing half-accepted");
    assert.equal(sub.backlog, accepted);
    assert.equal(seqsOf(await run.broker.pull(sub.id, { max: 10_000 })).length, accepted, "what was accepted is served");
  } finally {
    run.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("publishes of one turn are one SQLite transaction, each answered after it, in acceptance order", async () => {
  const dir = dataDir();
  // sync full: no checkpoint runs on a timer, so the write-ahead log holds every transaction of the test.
  let journal = new SqliteJournal(dir, { sync: "full" });
  let engine = new LocalEngine({ clock: new FakeClock(), journal, afterTurn: (callback) => void setImmediate(callback) });
  try {
    await engine.subscribe({});
    const before = walTransactions(dir);
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? engine.send({ type: "a", data: i }) : engine.sendBatch([{ type: "a" }, { type: "b" }]))));
    assert.equal(walTransactions(dir) - before, 1, "one transaction for the turn's 20 publishes");
    assert.deepEqual(answers.map((answer) => [answer.first, answer.last]), answers.reduce<[number, number][]>((seqs, answer) => [...seqs, [(seqs.at(-1)?.[1] ?? 0) + 1, (seqs.at(-1)?.[1] ?? 0) + answer.accepted]], []), "consecutive, in the order called");
    await engine.close();
    journal.close();
    journal = new SqliteJournal(dir, { sync: "full" });
    engine = new LocalEngine({ clock: new FakeClock(), journal });
    assert.equal((await engine.health()).lastSeq, 30, "all of them on disk");
  } finally {
    await engine.close();
    journal.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a commit that cannot be written whole writes none of it", () => {
  const dir = dataDir();
  const journal = new SqliteJournal(dir, { sync: "normal" });
  try {
    const event = (seq: number) => ({ seq, type: "a", json: `{"seq":${seq}}`, size: 9, batch: seq, acceptedAt: 0 });
    const record = { id: "s-1", name: undefined, types: ["*"], filters: [], owner: undefined, created: 0, options: { ackTimeoutMs: 1, maxBacklog: 1, expireAfterMs: 0, maxDeliveries: 0, maxParked: 1 }, paused: false, pausedFrom: undefined, skipped: [], ackedSeq: 0, lastDeliveredSeq: 0, lastPulledAt: 0, deliveries: [], counters: { delivered: 0, redelivered: 0, parked: 0 } };
    // The third publish takes the first's seq: SQLite refuses it, after writing the others.
    assert.throws(() => journal.commit({ subscriptions: [record], publishes: [[event(1)], [event(2)], [event(1)]] }), StorageError);
    assert.deepEqual([journal.recover().lastSeq, journal.recover().subscriptions.length], [0, 0]);
    journal.commit({ subscriptions: [record], publishes: [[event(1)], [event(2)]] });
    assert.deepEqual([journal.recover().lastSeq, journal.recover().subscriptions.length], [2, 1], "the journal goes on");
  } finally {
    journal.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * Transactions in the write-ahead log since it last started over, as SQLite wrote them:
 * the frames that end one (a non-zero database size in their header) carrying the log's
 * current salt (https://www.sqlite.org/fileformat2.html#walformat).
 */
function walTransactions(dir: string): number {
  const wal = readFileSync(join(dir, "broker.sqlite-wal"));
  const frameBytes = 24 + wal.readUInt32BE(8);
  const salt = [wal.readUInt32BE(16), wal.readUInt32BE(20)];
  let transactions = 0;
  for (let at = 32; at + frameBytes <= wal.length; at += frameBytes) {
    if (wal.readUInt32BE(at + 8) !== salt[0] || wal.readUInt32BE(at + 12) !== salt[1]) break;
    if (wal.readUInt32BE(at + 4) !== 0) transactions++;
  }
  return transactions;
}

/** Every kept event, read as a stream resuming from the start reads them: the journal's, then the memory window's. */
function readAll(broker: Broker): AcceptedEvent[] {
  const events: AcceptedEvent[] = [];
  for (let read = broker.read(0, 100); read.events.length > 0; read = broker.read(events[events.length - 1].seq, 100)) events.push(...read.events);
  return events;
}

/** 2,000 characters that deflate cannot shrink much: the journal stores publishes deflated. */
function incompressible(): string {
  return randomBytes(1_500).toString("base64");
}
