// The engines the property tests drive side by side or against a model: memory, a SQLite
// journal that can be restarted, and Redis shared by one or more instances.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrokerOptions, type Engine, LocalEngine } from "../../src/broker/mod.ts";
import { RedisEngine } from "../../src/storage/redis/redis-engine.ts";
import { SqliteJournal } from "../../src/storage/sqlite-journal.ts";

/** An engine under test: `pick()` is the instance a call goes to (one of several, when shared). */
export interface Side {
  pick(): Engine;
  /** Stops and starts it on what it keeps; a side that keeps nothing does nothing. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export function memorySide(options: Partial<BrokerOptions>): Side {
  const engine = new LocalEngine(options);
  return { pick: () => engine, restart: async () => {}, stop: () => engine.close() };
}

/** A journal in a directory of its own, removed at the end. */
export function sqliteSide(options: Partial<BrokerOptions>): Side {
  const dir = mkdtempSync(join(tmpdir(), "broker-side-"));
  const open = () => new LocalEngine({ ...options, journal: new SqliteJournal(dir, { sync: "normal" }) });
  let engine = open();
  return {
    pick: () => engine,
    async restart() {
      await engine.close();
      engine = open();
    },
    async stop() {
      await engine.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * `instances` engines on the Redis at `url`, under a prefix of their own; calls go to each
 * in turn, or to any at random. A restart stops and starts the one the next call goes to.
 */
export async function redisSide(url: string, options: Partial<BrokerOptions>, { instances, pick }: { instances: number; pick: "turns" | "random" }): Promise<Side> {
  const prefix = `side:${crypto.randomUUID()}:`;
  const open = () => RedisEngine.open({ ...options, url, prefix, commandTimeoutMs: 10_000 });
  const engines = await Promise.all(Array.from({ length: instances }, open));
  let turn = 0;
  const next = () => (pick === "turns" ? turn++ % engines.length : Math.floor(Math.random() * engines.length));
  return {
    pick: () => engines[next()],
    async restart() {
      const index = pick === "turns" ? turn % engines.length : Math.floor(Math.random() * engines.length);
      await engines[index].close();
      engines[index] = await open();
    },
    stop: async () => {
      await Promise.all(engines.map((engine) => engine.close()));
    },
  };
}
