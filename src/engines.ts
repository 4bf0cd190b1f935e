/** The engine the settings ask for: Redis shared by instances, a journal in a data directory, or memory alone. */
import { type Clock, type Engine, LocalEngine } from "./broker/mod.ts";
import type { Settings } from "./config.ts";
import { brokerOptionsOf } from "./server.ts";
import { RedisEngine } from "./storage/redis/redis-engine.ts";
import { SqliteJournal } from "./storage/sqlite-journal.ts";

/** Opens it; throws a clear error (JournalOpenError, StorageError) when its storage cannot be used, having changed nothing. */
export async function openEngine(settings: Settings, clock: Clock): Promise<Engine> {
  const options = brokerOptionsOf(settings, clock);
  if (settings.redisUrl) return await RedisEngine.open({ ...options, url: settings.redisUrl, prefix: settings.redisPrefix });
  if (settings.dataDir) return new LocalEngine({ ...options, journal: new SqliteJournal(settings.dataDir, { sync: settings.sync }) });
  return new LocalEngine(options);
}
