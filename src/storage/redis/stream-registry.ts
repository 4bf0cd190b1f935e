/**
 * Every instance's streams, as any instance sees them: each instance keeps a hash of its own
 * streams' views in Redis, written again every few seconds while it lives (the counters are
 * that old) and left to expire when it dies. An order for another instance's stream (close,
 * pause) goes on the control stream, which every instance's tail reads.
 */
import type { Redis } from "ioredis";
import type { SubscriptionView } from "../../broker/mod.ts";
import type { RedisKeys } from "./keys.ts";

/** How often an instance writes its streams' views again; they expire after three times this. */
export const STREAM_VIEWS_EVERY_MS = 5_000;
const CONTROL_MAX_ENTRIES = 10_000;
const VIEWS_PER_COMMAND = 1_000;

/** An order on the control stream: to one instance, or to all (`*`). */
export type ControlOrder =
  | { readonly op: "close"; readonly to: string; readonly id: string; readonly reason: string }
  | { readonly op: "pause"; readonly to: string; readonly id: string; readonly paused: boolean }
  | { readonly op: "subscriptions-changed"; readonly to: "*" }
  | { readonly op: "wake"; readonly to: string };

export interface RegisteredStream {
  readonly instance: string;
  readonly view: SubscriptionView;
}

export class StreamRegistry {
  constructor(private readonly redis: Redis, private readonly keys: RedisKeys, readonly instance: string) {}

  async add(view: SubscriptionView): Promise<void> {
    await this.redis.multi()
      .hset(this.keys.streams(this.instance), view.id, JSON.stringify(view))
      .pexpire(this.keys.streams(this.instance), 3 * STREAM_VIEWS_EVERY_MS)
      .sadd(this.keys.instances(), this.instance)
      .exec();
  }

  async delete(id: string): Promise<void> {
    await this.redis.hdel(this.keys.streams(this.instance), id);
  }

  /** Writes this instance's streams as they are now, replacing what it wrote before. */
  async write(views: readonly SubscriptionView[]): Promise<void> {
    const key = this.keys.streams(this.instance);
    const pipeline = this.redis.multi().del(key);
    for (let at = 0; at < views.length; at += VIEWS_PER_COMMAND) {
      pipeline.hset(key, ...views.slice(at, at + VIEWS_PER_COMMAND).flatMap((view) => [view.id, JSON.stringify(view)]));
    }
    await pipeline.pexpire(key, 3 * STREAM_VIEWS_EVERY_MS).sadd(this.keys.instances(), this.instance).exec();
  }

  /** The streams of every other instance; instances whose views expired are forgotten. */
  async others(): Promise<RegisteredStream[]> {
    const instances = (await this.redis.smembers(this.keys.instances())).filter((instance) => instance !== this.instance);
    if (instances.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const instance of instances) pipeline.hgetall(this.keys.streams(instance));
    const hashes = ((await pipeline.exec()) ?? []).map(([error, value]) => {
      if (error) throw error;
      return value as Record<string, string>;
    });
    const gone = instances.filter((_, index) => Object.keys(hashes[index]).length === 0);
    if (gone.length > 0) await this.redis.srem(this.keys.instances(), ...gone);
    return instances.flatMap((instance, index) => Object.values(hashes[index]).map((json) => ({ instance, view: JSON.parse(json) })));
  }

  async find(id: string): Promise<RegisteredStream | undefined> {
    return (await this.others()).find((stream) => stream.view.id === id);
  }

  async leave(): Promise<void> {
    await this.redis.multi().del(this.keys.streams(this.instance)).srem(this.keys.instances(), this.instance).exec();
  }

  async order(order: ControlOrder): Promise<void> {
    const fields = Object.entries(order).flatMap(([name, value]) => [name, String(value)]);
    await this.redis.xadd(this.keys.control(), "MAXLEN", "~", CONTROL_MAX_ENTRIES, "*", ...fields);
  }
}

/** A control stream entry's fields as the order they carry. */
export function orderOf(fields: readonly string[]): ControlOrder {
  // Names sit at even places: a value may read like a name.
  const field = (name: string) => fields[fields.findIndex((value, index) => index % 2 === 0 && value === name) + 1];
  const op = field("op");
  if (op === "close") return { op, to: field("to"), id: field("id"), reason: field("reason") };
  if (op === "pause") return { op, to: field("to"), id: field("id"), paused: field("paused") === "true" };
  if (op === "wake") return { op, to: field("to") };
  return { op: "subscriptions-changed", to: "*" };
}
