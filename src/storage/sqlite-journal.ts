/**
 * The broker's journal in one SQLite database (`node:sqlite`, synchronous, in Bun and Deno
 * alike): accepted events, required subscriptions and their parked events. A publish is one
 * row (`publish-row.ts`), so retention keeps or drops it whole. Each `commit` is one
 * transaction, holding everything the core changed in a turn of the event loop: the
 * b-tree pages and write-ahead log frames a commit writes are shared by its publishes
 * instead of written again for each. Written in WAL mode;
 * `sync: "full"` makes every commit reach the disk before it returns, `"normal"` leaves
 * that to a checkpoint every second (a power loss may cost that second, a crash of the
 * process nothing).
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { type Journal, type JournalChanges, type JournalEvent, type RecoveredState, StorageError, type SubscriptionRecord, utf8Bytes } from "../broker/mod.ts";
import { decodePublish, encodePublish, type PublishRow } from "./publish-row.ts";

const APPLICATION = "event-broker";
/** 3: a publish's events as one text, deflated when large; its producers as flags. A database in format 2 is upgraded at open. */
const FORMAT = 3;
const FILE = "broker.sqlite";
/** Publishes read at a time. */
const PAGE = 64;
const PUBLISHES = "(first INTEGER PRIMARY KEY, last INTEGER NOT NULL, accepted_at INTEGER NOT NULL, events BLOB NOT NULL, producers TEXT)";
const INSERT_PUBLISH = "INSERT INTO publishes (first, last, accepted_at, events, producers) VALUES (?, ?, ?, ?, ?)";
/** The first seq of the publish holding seq ?1 (or of the last before it). */
const HOLDING = "coalesce((SELECT first FROM publishes WHERE first <= ?1 ORDER BY first DESC LIMIT 1), 0)";

/** Why the journal cannot be opened: a clear line for the operator, nothing changed on disk. */
export class JournalOpenError extends Error {}

export interface SqliteJournalOptions {
  readonly sync: "normal" | "full";
  /** Largest database in pages of 4 KiB; unset, as large as the disk allows (tests use it to simulate a full disk). */
  readonly maxPages?: number;
}

export class SqliteJournal implements Journal {
  readonly #db: DatabaseSync;
  readonly #statements: Record<string, StatementSync>;
  #checkpoint: ReturnType<typeof setInterval> | undefined;

  /** Opens (or creates) the journal in `directory`; throws JournalOpenError when it belongs to another process or is not ours. */
  constructor(directory: string, options: SqliteJournalOptions) {
    try {
      mkdirSync(directory, { recursive: true });
    } catch (error) {
      throw new JournalOpenError(`cannot use ${directory} as the data directory: ${(error as Error).message}`);
    }
    const path = join(directory, FILE);
    try {
      this.#db = new DatabaseSync(path);
    } catch (error) {
      throw new JournalOpenError(`cannot open ${path}: ${(error as Error).message}`);
    }
    try {
      this.#claim(options);
      this.#ensureSchema(path);
    } catch (error) {
      this.#db.close();
      throw error instanceof JournalOpenError ? error : new JournalOpenError(`cannot use ${path}: ${(error as Error).message}`);
    }
    this.#statements = this.#prepare();
    if (options.sync === "normal") this.#checkpoint = setInterval(() => this.#tryCheckpoint(), 1_000);
  }

  /** Takes the database for this process alone: a second process fails here, at start. */
  #claim(options: SqliteJournalOptions): void {
    try {
      this.#db.exec(`PRAGMA busy_timeout = 0; PRAGMA locking_mode = EXCLUSIVE; PRAGMA journal_mode = WAL; PRAGMA synchronous = ${options.sync === "full" ? "FULL" : "NORMAL"};`);
      if (options.maxPages) this.#db.exec(`PRAGMA max_page_count = ${options.maxPages}`);
      this.#db.exec("BEGIN IMMEDIATE; COMMIT;");
    } catch (error) {
      if (/locked|busy/i.test((error as Error).message)) throw new JournalOpenError("another broker process is using this data directory");
      throw error;
    }
  }

  #ensureSchema(path: string): void {
    const tables = (this.#db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((row) => row.name);
    if (tables.length === 0) return this.#createSchema();
    const meta = tables.includes("meta") ? this.#db.prepare("SELECT value FROM meta WHERE key = 'application'").get() as { value?: string } | undefined : undefined;
    if (meta?.value !== APPLICATION) throw new JournalOpenError(`${path} is not an event-broker database; it was left as it is`);
    const format = Number((this.#db.prepare("SELECT value FROM meta WHERE key = 'format'").get() as { value: string }).value);
    if (format === 2) return this.#upgradeFromFormat2();
    if (format !== FORMAT) throw new JournalOpenError(`${path} has format ${format}; this broker reads format ${FORMAT} (and upgrades format 2)`);
  }

  /**
   * Rewrites format 2's publishes (types and JSON texts in columns of their own, producers
   * as `[[index, source, id], …]`), in one transaction: failing, it leaves them as they were.
   */
  #upgradeFromFormat2(): void {
    try {
      this.#db.exec("BEGIN");
      this.#rewriteFormat2();
      this.#db.exec("COMMIT");
    } catch (error) {
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      throw new JournalOpenError(`cannot upgrade the journal from format 2, left as it was (rewriting it takes about as much free disk as it holds): ${(error as Error).message}`);
    }
  }

  #rewriteFormat2(): void {
    this.#db.exec(`ALTER TABLE publishes RENAME TO format2; CREATE TABLE publishes ${PUBLISHES};`);
    const page = this.#db.prepare(`SELECT first, last, accepted_at, types, jsons, producers FROM format2 WHERE first > ? ORDER BY first LIMIT ${PAGE}`);
    const insert = this.#db.prepare(INSERT_PUBLISH);
    for (let after = -1, rows; (rows = page.all(after) as unknown as Format2Row[]).length > 0; after = rows[rows.length - 1].first) {
      for (const row of rows) {
        const types = row.types.split("\n");
        const named = new Map((row.producers === null ? [] : JSON.parse(row.producers) as [number, string, string][]).map(([index, source, id]) => [index, { source, id }]));
        const stored = encodePublish(row.jsons.split("\n").map((json, index) => ({ type: types[index], json, producer: named.get(index) })));
        insert.run(row.first, row.last, row.accepted_at, stored.events, stored.producers);
      }
    }
    this.#db.exec(`DROP TABLE format2; UPDATE meta SET value = '${FORMAT}' WHERE key = 'format'`);
  }

  #createSchema(): void {
    this.#db.exec(`
      BEGIN;
      CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
      INSERT INTO meta VALUES ('application', '${APPLICATION}'), ('format', '${FORMAT}');
      CREATE TABLE publishes ${PUBLISHES};
      CREATE TABLE subscriptions (id TEXT PRIMARY KEY, record TEXT NOT NULL) WITHOUT ROWID;
      CREATE TABLE parked (subscription TEXT NOT NULL, seq INTEGER NOT NULL, deliveries INTEGER NOT NULL, type TEXT NOT NULL,
        json TEXT NOT NULL, PRIMARY KEY (subscription, seq)) WITHOUT ROWID;
      COMMIT;`);
  }

  #prepare(): Record<string, StatementSync> {
    const sql = {
      insertPublish: INSERT_PUBLISH,
      lastSeq: "SELECT last AS seq FROM publishes ORDER BY first DESC LIMIT 1",
      oldestSeq: "SELECT min(first) AS seq FROM publishes",
      // Each from the publish holding seq ?1, found on the primary key: the tables are never scanned.
      publishesFrom: `SELECT first, last, accepted_at, events, producers FROM publishes WHERE first >= ${HOLDING} AND last >= ?1 ORDER BY first LIMIT ?2`,
      acceptedAt: `SELECT accepted_at FROM publishes WHERE first >= ${HOLDING} AND last >= ?1 ORDER BY first LIMIT 1`,
      trimmable: "SELECT first, last FROM publishes WHERE first < ?1 AND last < ?1 ORDER BY first LIMIT ?2",
      saveSubscription: "INSERT OR REPLACE INTO subscriptions (id, record) VALUES (?, ?)",
      removeSubscription: "DELETE FROM subscriptions WHERE id = ?",
      subscriptions: "SELECT record FROM subscriptions",
      removeParked: "DELETE FROM parked WHERE subscription = ?",
      insertParked: "INSERT OR REPLACE INTO parked (subscription, seq, deliveries, type, json) VALUES (?, ?, ?, ?, ?)",
      parked: "SELECT subscription, seq, deliveries, type, json FROM parked ORDER BY subscription, seq",
      trim: "DELETE FROM publishes WHERE first <= ?",
      meta: "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
      metaOf: "SELECT value FROM meta WHERE key = ?",
    };
    return Object.fromEntries(Object.entries(sql).map(([name, text]) => [name, this.#db.prepare(text)]));
  }

  recover(): RecoveredState {
    const last = this.#statements.lastSeq.get() as { seq: number } | undefined;
    // Events may all have been trimmed: the highest seq ever given is kept beside them.
    const given = this.#statements.metaOf.get("lastSeq") as { value?: string } | undefined;
    const subscriptions = (this.#statements.subscriptions.all() as { record: string }[]).map((row) => JSON.parse(row.record) as SubscriptionRecord);
    const parked = (this.#statements.parked.all() as unknown as ParkedRow[]).map((row) => ({
      subscriptionId: row.subscription,
      event: { seq: row.seq, type: row.type, json: row.json, size: utf8Bytes(row.json) },
      deliveries: row.deliveries,
    }));
    return {
      lastSeq: Math.max(last?.seq ?? 0, Number(given?.value ?? 0)),
      subscriptions,
      parked,
      recentProducers: (since, max) => this.#since(since, max),
    };
  }

  /** The events accepted since `time`, the last `max` of them at most. */
  *#since(time: number, max: number): Iterable<JournalEvent> {
    const lastSeq = (this.#statements.lastSeq.get() as { seq: number } | undefined)?.seq ?? 0;
    yield* this.#events(Math.max(this.firstSeqSince(time), lastSeq - max + 1), lastSeq, true);
  }

  /** Found by a binary search on seq, since acceptance times follow seqs. */
  firstSeqSince(time: number): number {
    let low = this.oldestSeq();
    let high = (this.#statements.lastSeq.get() as { seq: number } | undefined)?.seq ?? low - 1;
    while (low <= high) {
      const middle = Math.floor((low + high) / 2);
      const row = this.#statements.acceptedAt.get(middle) as { accepted_at: number } | undefined;
      if (!row || row.accepted_at < time) low = middle + 1;
      else high = middle - 1;
    }
    return low;
  }

  /** Encodes (and deflates) every publish and record first: the transaction holds only the writes. */
  commit(changes: JournalChanges): void {
    const publishes = (changes.publishes ?? []).filter((events) => events.length > 0).map(publishRow);
    const records = (changes.subscriptions ?? []).map((record) => [record.id, JSON.stringify(record)] as const);
    const removed = changes.removed ?? [];
    const parked = changes.parked ?? [];
    if (publishes.length + records.length + removed.length + parked.length === 0) return;
    const statements = this.#statements;
    this.#transaction(() => {
      for (const [id, record] of records) statements.saveSubscription.run(id, record);
      for (const id of removed) {
        statements.removeSubscription.run(id);
        statements.removeParked.run(id);
      }
      for (const { subscriptionId, events } of parked) {
        statements.removeParked.run(subscriptionId);
        for (const { event, deliveries } of events) statements.insertParked.run(subscriptionId, event.seq, deliveries, event.type, event.json);
      }
      for (const row of publishes) statements.insertPublish.run(row.first, row.last, row.accepted_at, row.events, row.producers);
    });
  }

  readAfter(afterSeq: number, max: number): JournalEvent[] {
    const events: JournalEvent[] = [];
    for (const event of this.scan(afterSeq + 1, Number.MAX_SAFE_INTEGER)) {
      if (events.length === max) break;
      events.push(event);
    }
    return events;
  }

  scan(from: number, to: number): Iterable<JournalEvent> {
    return this.#events(from, to, false);
  }

  /** With producer pairs when `withProducers` (see decodePublish). */
  *#events(from: number, to: number, withProducers: boolean): Iterable<JournalEvent> {
    for (let after = from - 1; after < to;) {
      const rows = this.#statements.publishesFrom.all(after + 1, PAGE) as unknown as PublishRow[];
      if (rows.length === 0) return;
      for (const row of rows) {
        for (const event of decodePublish(row, withProducers)) if (event.seq > after && event.seq <= to) yield event;
      }
      after = rows[rows.length - 1].last;
    }
  }

  oldestSeq(): number {
    const oldest = this.#statements.oldestSeq.get() as { seq: number | null };
    if (oldest.seq !== null) return oldest.seq;
    return this.recover().lastSeq + 1;
  }

  /** Removes whole publishes, so it may keep events below `beforeSeq` that share a publish with one above, and remove more than `max`. */
  trim(beforeSeq: number, max: number): number {
    let removed = 0;
    let through = 0;
    for (const row of this.#statements.trimmable.all(beforeSeq, max) as unknown as { first: number; last: number }[]) {
      if (removed >= max) break;
      removed += row.last - row.first + 1;
      through = row.first;
    }
    if (removed === 0) return 0;
    const lastSeq = (this.#statements.lastSeq.get() as { seq: number }).seq;
    this.#transaction(() => {
      this.#statements.meta.run("lastSeq", String(lastSeq)); // the seq to go on from, should no event be left
      this.#statements.trim.run(through);
    });
    return removed;
  }

  /** Idempotent. */
  close(): void {
    if (!this.#db.isOpen) return;
    clearInterval(this.#checkpoint);
    this.#tryCheckpoint();
    this.#db.close();
  }

  #transaction(write: () => void): void {
    try {
      this.#db.exec("BEGIN IMMEDIATE");
    } catch (error) {
      throw new StorageError(`the data directory cannot be written: ${(error as Error).message}`);
    }
    try {
      write();
      this.#db.exec("COMMIT");
    } catch (error) {
      try {
        this.#db.exec("ROLLBACK");
      } catch {
        // SQLite rolls back by itself after some errors (a full disk among them).
      }
      throw new StorageError(`the data directory cannot be written: ${(error as Error).message}`);
    }
  }

  /** Moves the WAL into the database and syncs it: what `normal` loses on a power cut is at most since the last one. */
  #tryCheckpoint(): void {
    try {
      this.#db.exec("PRAGMA wal_checkpoint(PASSIVE)");
    } catch {
      // A busy or failing checkpoint is retried on the next tick; commits are already in the WAL.
    }
  }
}

/** A publish's events as the row that keeps them. */
function publishRow(events: readonly JournalEvent[]): PublishRow {
  const { seq: first, acceptedAt } = events[0];
  return { first, last: events[events.length - 1].seq, accepted_at: acceptedAt, ...encodePublish(events) };
}

interface ParkedRow {
  subscription: string;
  seq: number;
  deliveries: number;
  type: string;
  json: string;
}

interface Format2Row {
  first: number;
  last: number;
  accepted_at: number;
  types: string;
  jsons: string;
  producers: string | null;
}
