/**
 * The event log in Redis: a stream whose entries are publishes, an entry's id the seq of
 * its first event, its fields the events' types (`t`) and JSON either side of the seq (`h`,
 * "head" NUL "tail"), each joined by "\n", and when it was accepted (`a`). Read a few entries at a time; trimmed a publish at
 * a time, never past what a required subscription holds.
 */
import type { Redis } from "ioredis";
import { type AcceptedEvent, utf8Bytes } from "../../broker/mod.ts";
import type { RedisKeys } from "./keys.ts";
import { failureOf } from "./redis-errors.ts";
import type { LogEntry, Scripts } from "./scripts.ts";

const ENTRIES_PER_READ = 16;

export class RedisLog {
  constructor(private readonly redis: Redis, private readonly keys: RedisKeys, private readonly scripts: Scripts) {}

  /** The last seq given (0 before any). */
  async lastSeq(): Promise<number> {
    try {
      return Number((await this.redis.get(this.keys.seq())) ?? 0);
    } catch (error) {
      throw failureOf(error);
    }
  }

  /**
   * The first kept events with seqs `from` to `to`, at most `max` of them and about
   * `maxBytes` of JSON (at least one), read a few entries at a time (an entry holds a whole
   * publish).
   */
  async read(from: number, to: number, max = Infinity, maxBytes = Infinity): Promise<AcceptedEvent[]> {
    const events: AcceptedEvent[] = [];
    let bytes = 0;
    for (let next = from; next <= to && events.length < max && bytes < maxBytes;) {
      const entries = await this.scripts.read(next, to, ENTRIES_PER_READ);
      const read = entries.flatMap((entry) => eventsOf(entry).events).filter((event) => event.seq >= next && event.seq <= to);
      for (const event of read) {
        if (events.length === max || (events.length > 0 && bytes + event.size > maxBytes)) return events;
        events.push(event);
        bytes += event.size;
      }
      if (entries.length < ENTRIES_PER_READ || read.length === 0) break;
      next = read[read.length - 1].seq + 1;
    }
    return events;
  }

  /**
   * Removes what retention lets go: events beyond the last `retainEvents`, or accepted
   * before `acceptedBefore` (a thousand at most each time), never one at or after
   * `heldFrom`; a publish is kept or let go whole.
   */
  async trim(lastSeq: number, retainEvents: number, acceptedBefore: number, heldFrom: number): Promise<void> {
    try {
      let before = lastSeq + 1 - retainEvents;
      const [oldest] = (await this.redis.xrange(this.keys.log(), "-", "+", "COUNT", 1)) as LogEntry[];
      if (oldest && eventsOf(oldest).acceptedAt < acceptedBefore) before = Math.max(before, Math.min(seqOf(oldest) + 1_000, lastSeq + 1));
      before = Math.min(before, heldFrom);
      if (before <= 1) return;
      // The entry holding `before` is kept whole; one that ends below it goes.
      const [holding] = (await this.redis.xrevrange(this.keys.log(), `${before}-0`, "-", "COUNT", 1)) as LogEntry[];
      if (!holding) return;
      const keepsFrom = seqOf(holding) + eventsOf(holding).events.length - 1 >= before ? holding[0] : `${before}-0`;
      await this.redis.xtrim(this.keys.log(), "MINID", keepsFrom);
    } catch (error) {
      throw failureOf(error);
    }
  }
}

const seqOf = ([id]: LogEntry) => Number(id.split("-")[0]);

/** The events of an entry, and when they were accepted. */
export function eventsOf(entry: LogEntry): { events: AcceptedEvent[]; acceptedAt: number } {
  const fields = entry[1];
  // Names sit at even places: a value may read like a name (a type "a").
  const field = (name: string) => fields[fields.findIndex((value, index) => index % 2 === 0 && value === name) + 1];
  const first = seqOf(entry);
  const types = field("t").split("\n");
  const templates = field("h");
  // `h`: each event's JSON either side of its seq; `j`, as brokers before wrote it: the JSON whole.
  const jsons = templates === undefined ? field("j").split("\n") : templates.split("\n").map((template, i) => template.replace("\u0000", String(first + i)));
  const events = jsons.map((json, i) => ({ seq: first + i, type: types[i], json, size: utf8Bytes(json) }));
  return { events, acceptedAt: Number(field("a")) };
}
