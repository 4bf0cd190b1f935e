/**
 * Every decision that must hold across instances is one Lua script, run atomically by
 * Redis: one file per script in lua/, its keys and arguments documented at its top, each
 * doing work bounded by its arguments (a publish's events and subscriptions, a pull's
 * `max`), never by the size of the log. Here each has a typed call that owns the order of
 * its keys and arguments and the parsing of its reply; an error a script raises is a
 * ScriptError naming its file and line.
 */
import { readFileSync } from "node:fs";
import type { ChainableCommander, Redis } from "ioredis";
import type { RedisKeys } from "./keys.ts";
import { failureOf } from "./redis-errors.ts";

/** The scripts, by name; those marked `common` are sent after common.lua. */
const SOURCES = {
  publish: { common: true },
  read: { common: false },
  subscribe: { common: false },
  remove: { common: false },
  pause: { common: false },
  take: { common: true },
  ack: { common: true },
  nack: { common: true },
  extend: { common: true },
  touch: { common: false },
  expire: { common: false },
  held: { common: true },
} as const;

type ScriptName = keyof typeof SOURCES;
type Arg = string | number;
type Call = (numberOfKeys: number, ...keysAndArgs: Arg[]) => Promise<unknown>;

/** Read once, at start; `bun build --compile` embeds lua/ (package.json's build script). */
function luaFile(name: string): string {
  return readFileSync(new URL(`./lua/${name}.lua`, import.meta.url), "utf8");
}

const COMMON = luaFile("common");
const COMMON_LINES = COMMON.split("\n").length - 1;

/** An event of a publish, as the publish script takes it. */
export interface PublishEvent {
  readonly type: string;
  /** The event's JSON before its seq and after it: the script puts the seq between. */
  readonly head: string;
  readonly tail: string;
  /** Bytes of the JSON without the seq. */
  readonly size: number;
  /** The producer's dedupe key, "" when it gave no id. */
  readonly producerKey: string;
}

/** A subscription a publish reaches: its bound, and which of the events it takes. */
export interface PublishTarget {
  readonly id: string;
  readonly maxBacklog: number;
  readonly indexes: readonly number[];
}

/** One publish of those sent together: its events, and the subscriptions they reach. */
export interface PublishCall {
  readonly events: readonly PublishEvent[];
  readonly targets: readonly PublishTarget[];
}

/** A publish call's place among its instance's calls (see publish-queue.ts). */
export interface PublishOrder {
  readonly instance: string;
  readonly number: number;
  /** The call it must follow, null for none. */
  readonly after: number | null;
}

export type PublishReply =
  | { readonly kind: "full"; readonly target: number }
  | { readonly kind: "ok"; readonly first: number; readonly last: number; readonly duplicates: readonly { readonly index: number; readonly seq: number }[] };

/** What one take handed out: each unit's seqs and how often it has been delivered, when the oldest lease ends, and the log entries asked for. */
export type TakeReply =
  | { readonly kind: "gone" }
  | { readonly kind: "never"; readonly lastDelivered: number }
  | { readonly kind: "ok"; readonly leaseEnd: number | undefined; readonly units: readonly { readonly seqs: readonly number[]; readonly deliveries: number }[]; readonly entries: readonly LogEntry[] };

export type SettleReply =
  | { readonly kind: "gone" }
  | { readonly kind: "never"; readonly lastDelivered: number }
  | { readonly kind: "ok"; readonly acked: number; readonly backlog: number };

export interface TakeLimits {
  readonly now: number;
  /** Acknowledge through this seq first. */
  readonly ack?: number;
  /** Return the log entries of what is taken from this seq on (those the instance does not keep). */
  readonly entriesFrom?: number;
  readonly maxEvents: number;
  readonly maxBytes: number;
  readonly ackTimeoutMs: number;
  readonly maxDeliveries: number;
  readonly maxParked: number;
}

/** An entry of the log: the events of one publish, its id the first one's seq. */
export type LogEntry = [id: string, fields: string[]];

export class Scripts {
  readonly #redis: Redis;
  readonly #keys: RedisKeys;

  constructor(redis: Redis, keys: RedisKeys) {
    this.#redis = redis;
    this.#keys = keys;
    for (const [name, { common }] of Object.entries(SOURCES)) redis.defineCommand(name, { lua: (common ? COMMON : "") + luaFile(name) });
  }

  /**
   * Publishes that arrived together, in one call: each accepted or refused on its own, in
   * order, as if sent one after the other. "stale" when they were routed with a version of
   * the subscriptions that is no longer Redis's: route them again.
   */
  async publish(version: string, now: number, dedupe: { windowMs: number; maxEntries: number }, order: PublishOrder, publishes: readonly PublishCall[]): Promise<PublishReply[] | "stale"> {
    const positions = new Map<string, number>();
    const keys = [...this.#keys.publishKeys(), this.#keys.calls(order.instance)];
    const args: Arg[] = [version, now, dedupe.windowMs, dedupe.maxEntries, publishes.length, order.number, order.after ?? ""];
    for (const { events, targets } of publishes) {
      const { keyed, twins } = producerKeysOf(events);
      args.push(events.length, events.map((event) => event.type).join("\n"), events.map((event) => `${event.head}\u0000${event.tail}`).join("\n"), events.map((event) => event.size).join(","));
      args.push(rangesText(keyed), JSON.stringify(keyed.map((index) => events[index].producerKey)), twins.join(","), targets.length);
      for (const target of targets) {
        if (!positions.has(target.id)) positions.set(target.id, keys.push(this.#keys.state(target.id), this.#keys.queue(target.id)) - 1);
        args.push(positions.get(target.id)!, target.maxBacklog, rangesText(target.indexes), target.indexes.reduce((sum, index) => sum + events[index].size, 0));
      }
    }
    const reply = await this.#run<Arg[] | Arg[][]>("publish", keys, args);
    if (reply[0] === "stale") return "stale";
    return (reply as Arg[][]).map((each) => {
      if (each[0] === "full") return { kind: "full", target: Number(each[1]) - 1 };
      const duplicates = each.slice(3).map((entry) => {
        const [index, seq] = String(entry).split(":").map(Number);
        return { index, seq };
      });
      return { kind: "ok", first: Number(each[1]), last: Number(each[2]), duplicates };
    });
  }

  /** The log's entries holding seqs `from` to `to`, at most `count`, from the one holding `from`. */
  read(from: number, to: number, count: number): Promise<LogEntry[]> {
    return this.#run<LogEntry[]>("read", [this.#keys.log()], [from, to, count]);
  }

  /** Creates them all, or none past `maxRequired`; returns false then. */
  async subscribe(now: number, maxRequired: number, subscriptions: readonly { id: string; spec: string }[]): Promise<boolean> {
    const keys = [this.#keys.subs(), this.#keys.version(), this.#keys.seq(), ...subscriptions.map(({ id }) => this.#keys.state(id))];
    const reply = await this.#run<Arg[]>("subscribe", keys, [now, maxRequired, ...subscriptions.flatMap(({ id, spec }) => [id, spec])]);
    return reply[0] === "ok";
  }

  /** Whether it existed. */
  async remove(id: string): Promise<boolean> {
    return (await this.#run<number>("remove", this.#removalKeys(id), [id])) === 1;
  }

  /** Removes it if it was last used at or before `idleSince`; whether it did. */
  async expire(id: string, idleSince: number): Promise<boolean> {
    return (await this.#run<number>("expire", this.#removalKeys(id), [id, idleSince])) === 1;
  }

  /** Whether it existed. */
  async pause(id: string, paused: boolean): Promise<boolean> {
    return (await this.#run<number>("pause", [this.#keys.version(), this.#keys.state(id)], [paused ? 1 : 0])) === 1;
  }

  async take(id: string, limits: TakeLimits): Promise<TakeReply> {
    const { now, maxEvents, maxBytes, ackTimeoutMs, maxDeliveries, maxParked, ack, entriesFrom } = limits;
    const keys = [this.#keys.state(id), this.#keys.queue(id), this.#keys.parked(id), this.#keys.log()];
    const reply = await this.#run<[string, Arg, Arg[], LogEntry[]]>("take", keys, [now, maxEvents, maxBytes, ackTimeoutMs, maxDeliveries, maxParked, ack ?? "", entriesFrom ?? ""]);
    if (reply[0] === "gone") return { kind: "gone" };
    if (reply[0] === "never") return { kind: "never", lastDelivered: Number(reply[1]) };
    const [, leaseEnd, flat, entries] = reply;
    const units: { seqs: number[]; deliveries: number }[] = [];
    for (let i = 0; i < flat.length; i += 2) units.push({ seqs: seqsOf(String(flat[i])), deliveries: Number(flat[i + 1]) });
    return { kind: "ok", leaseEnd: leaseEnd === "" ? undefined : Number(leaseEnd), units, entries };
  }

  ack(id: string, seq: number, now: number): Promise<SettleReply> {
    return this.#settle("ack", id, seq, now);
  }

  nack(id: string, seq: number, now: number): Promise<SettleReply> {
    return this.#settle("nack", id, seq, now);
  }

  /** Whether it exists. */
  async extend(id: string, leaseEnd: number, now: number): Promise<boolean> {
    const reply = await this.#run<Arg[]>("extend", [this.#keys.state(id), this.#keys.queue(id)], [leaseEnd, now]);
    return reply[0] === "ok";
  }

  async touch(id: string, now: number): Promise<void> {
    await this.#run("touch", [this.#keys.state(id)], [now]);
  }

  /** The oldest seq each subscription still needs kept (0: none), in one round trip. */
  async held(ids: readonly string[]): Promise<number[]> {
    if (ids.length === 0) return [];
    const pipeline = this.#redis.pipeline() as unknown as ChainableCommander & Record<ScriptName, (...args: Arg[]) => unknown>;
    for (const id of ids) pipeline.held(3, this.#keys.state(id), this.#keys.queue(id), this.#keys.parked(id));
    const results = await pipeline.exec().catch((error) => Promise.reject(failureOf(error, scriptLine("held"))));
    return (results ?? []).map(([error, value]) => {
      if (error) throw failureOf(error, scriptLine("held"));
      return Number(value);
    });
  }

  async #settle(name: "ack" | "nack", id: string, seq: number, now: number): Promise<SettleReply> {
    const reply = await this.#run<Arg[]>(name, [this.#keys.state(id), this.#keys.queue(id)], [seq, now]);
    if (reply[0] === "gone") return { kind: "gone" };
    if (reply[0] === "never") return { kind: "never", lastDelivered: Number(reply[1]) };
    return { kind: "ok", acked: Number(reply[1]), backlog: Number(reply[2]) };
  }

  #removalKeys(id: string): string[] {
    return [this.#keys.subs(), this.#keys.version(), this.#keys.state(id), this.#keys.queue(id), this.#keys.parked(id)];
  }

  async #run<T>(name: ScriptName, keys: readonly string[], args: readonly Arg[]): Promise<T> {
    const call = (this.#redis as unknown as Record<ScriptName, Call>)[name];
    try {
      return (await call.call(this.#redis, keys.length, ...keys, ...args)) as T;
    } catch (error) {
      throw failureOf(error, scriptLine(name));
    }
  }
}

/** Where line `line` of script `name`, as sent, comes from: common.lua or its own file. */
function scriptLine(name: ScriptName): (line: number) => string {
  return (line) => (SOURCES[name].common && line <= COMMON_LINES ? `common.lua:${line} (in ${name})` : `${name}.lua:${line - (SOURCES[name].common ? COMMON_LINES : 0)}`);
}

/** The events whose producer key comes first in the publish, and "index:earlier index" of those whose key an earlier one has. */
function producerKeysOf(events: readonly PublishEvent[]): { keyed: number[]; twins: string[] } {
  const first = new Map<string, number>();
  const keyed: number[] = [];
  const twins: string[] = [];
  events.forEach(({ producerKey }, index) => {
    if (producerKey === "") return;
    const earlier = first.get(producerKey);
    if (earlier === undefined) {
      first.set(producerKey, index);
      keyed.push(index);
    } else twins.push(`${index}:${earlier}`);
  });
  return { keyed, twins };
}

/** [0, 1, 2, 5] → "0-2,5". */
function rangesText(sorted: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    parts.push(j > i ? `${sorted[i]}-${sorted[j]}` : String(sorted[i]));
    i = j + 1;
  }
  return parts.join(",");
}

/** "5-9,12" → [5, 6, 7, 8, 9, 12]. */
function seqsOf(ranges: string): number[] {
  return ranges.split(",").flatMap((range) => {
    const [from, to] = range.split("-").map(Number);
    return to === undefined ? [from] : Array.from({ length: to - from + 1 }, (_, i) => from + i);
  });
}
