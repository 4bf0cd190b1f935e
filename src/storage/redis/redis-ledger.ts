/**
 * The required subscriptions of instances sharing one Redis: the Ledger port
 * (src/broker/ledger.ts) kept in Redis, each decision one script (scripts.ts). Every
 * instance caches the subscriptions' specs and paused states, to route its publishes, and
 * learns them again when their version changes; a publish routed with a stale version is
 * refused by its script and routed again.
 */
import type { Redis } from "ioredis";
import {
  type AckResult,
  type Attributes,
  type BrokerOptions,
  type Filter,
  NeverDeliveredError,
  type RequiredSpec,
  requiredSpecSchema,
  SubscriptionNotFoundError,
  type SubscriptionView,
  TooManySubscriptionsError,
  parseOrThrow,
} from "../../broker/mod.ts";
import { byCreation } from "../../broker/broker.ts";
import { Selector } from "../../broker/selector.ts";
import { TypeIndex } from "../../broker/type-index.ts";
import { unitsFor } from "../../broker/unit.ts";
import type { RedisKeys } from "./keys.ts";
import { failureOf } from "./redis-errors.ts";
import type { Scripts, TakeReply } from "./scripts.ts";

/** A required subscription as every instance knows it: its spec, and whether it is paused. */
export interface KnownSubscription {
  readonly id: string;
  readonly name: string | undefined;
  readonly owner: string | undefined;
  readonly created: number;
  readonly types: readonly string[];
  readonly filters: readonly Filter[];
  readonly selector: Selector;
  readonly options: { ackTimeoutMs: number; maxBacklog: number; expireAfterMs: number; maxDeliveries: number; maxParked: number };
  readonly paused: boolean;
}

/** Each subscription a publish reaches, with the indexes of the events it takes, in the order a refusal names them. */
export type Targets = [KnownSubscription, number[]][];

export class RedisLedger {
  readonly #redis: Redis;
  readonly #keys: RedisKeys;
  readonly #scripts: Scripts;
  readonly #options: BrokerOptions;
  #known = new Map<string, KnownSubscription>();
  #index = new TypeIndex<KnownSubscription>();
  #version = "";

  constructor(redis: Redis, keys: RedisKeys, scripts: Scripts, options: BrokerOptions) {
    this.#redis = redis;
    this.#keys = keys;
    this.#scripts = scripts;
    this.#options = options;
  }

  /** The version of the subscriptions this instance routes with. */
  get version(): string {
    return this.#version;
  }

  /** Their types, to route events by. */
  get index(): TypeIndex<KnownSubscription> {
    return this.#index;
  }

  /** The subscriptions as this instance last learned them. */
  get known(): ReadonlyMap<string, KnownSubscription> {
    return this.#known;
  }

  /** The subscription `id`, learning them again if it is not known here yet. */
  async find(id: string): Promise<KnownSubscription | undefined> {
    if (!this.#known.has(id)) await this.refresh();
    return this.#known.get(id);
  }

  /** Learns the subscriptions again when their version changed; returns whether it did. */
  async refresh(): Promise<boolean> {
    const version = (await this.#command<string | null>((redis) => redis.get(this.#keys.version()))) ?? "0";
    if (version === this.#version) return false;
    const specs = await this.#command<Record<string, string>>((redis) => redis.hgetall(this.#keys.subs()));
    const ids = Object.keys(specs);
    const paused = await this.#command<(string | null)[]>(async (redis) => {
      const pipeline = redis.pipeline();
      for (const id of ids) pipeline.hget(this.#keys.state(id), "paused");
      return ((await pipeline.exec()) ?? []).map(([error, value]) => {
        if (error) throw error;
        return value as string | null;
      });
    });
    const known = new Map<string, KnownSubscription>();
    const index = new TypeIndex<KnownSubscription>();
    ids.forEach((id, i) => {
      const spec = JSON.parse(specs[id]);
      const sub: KnownSubscription = { ...spec, filters: spec.filters ?? [], selector: new Selector(spec.types, spec.filters), paused: paused[i] === "1" };
      known.set(id, sub);
      index.add(sub, sub.types);
    });
    [this.#known, this.#index, this.#version] = [known, index, version];
    return true;
  }

  /** The active subscriptions these events reach, in the order the core names a full one in. */
  targetsOf(events: readonly { type: string; attributes: Attributes }[]): Targets {
    const stand = events.map((event, index) => ({ seq: index, type: event.type, json: "", size: 0 }));
    const units = unitsFor(stand, this.#index, { skip: (sub) => sub.paused, filterOf: (sub) => sub.selector.filter, attributesOf: (event) => events[event.seq].attributes });
    return [...units].sort(([a], [b]) => byCreation(a, b)).map(([sub, unit]) => [sub, unit.events.map((event) => event.seq)]);
  }

  /** Creates them all, or none: TooManySubscriptionsError past maxRequired, counted in the same decision. */
  async subscribe(specs: readonly RequiredSpec[], owner: string | undefined, now: number, paths: boolean): Promise<string[]> {
    const parsed = specs.map((spec, index) => parseOrThrow(requiredSpecSchema, spec, paths ? `/${index}` : ""));
    const { ackTimeoutMs, maxBacklog, expireAfterMs, maxDeliveries, maxParked, maxRequired } = this.#options;
    const made = parsed.map(({ types, filters, name, ...settings }) => ({
      id: this.#options.newId(),
      name,
      owner,
      created: now,
      types,
      filters: filters ?? [],
      options: { ackTimeoutMs, maxBacklog, expireAfterMs, maxDeliveries, maxParked, ...settings },
    }));
    if (!(await this.#scripts.subscribe(now, maxRequired, made.map((sub) => ({ id: sub.id, spec: JSON.stringify(sub) }))))) {
      throw new TooManySubscriptionsError("required", maxRequired);
    }
    await this.refresh();
    return made.map((sub) => sub.id);
  }

  remove(id: string): Promise<boolean> {
    return this.#scripts.remove(id);
  }

  /** False when there is no such subscription. */
  async setPaused(id: string, paused: boolean): Promise<boolean> {
    if (!(await this.#scripts.pause(id, paused))) return false;
    await this.refresh();
    return true;
  }

  /** Acknowledges through `ack` first, when given; returns the log entries of what it takes from `entriesFrom` on. */
  async take(sub: KnownSubscription, max: number, now: number, ack?: number, entriesFrom?: number): Promise<Extract<TakeReply, { kind: "ok" }>> {
    const { ackTimeoutMs, maxDeliveries, maxParked } = sub.options;
    const reply = await this.#scripts.take(sub.id, { now, maxEvents: Math.max(1, max), maxBytes: this.#options.maxPullBytes, ackTimeoutMs, maxDeliveries, maxParked, ack, entriesFrom });
    if (reply.kind === "gone") throw new SubscriptionNotFoundError(sub.id);
    if (reply.kind === "never") throw new NeverDeliveredError(ack!, reply.lastDelivered);
    return reply;
  }

  async settle(kind: "ack" | "nack", id: string, seq: number, now: number): Promise<AckResult> {
    const reply = await this.#scripts[kind](id, seq, now);
    if (reply.kind === "gone") throw new SubscriptionNotFoundError(id);
    if (reply.kind === "never") throw new NeverDeliveredError(seq, reply.lastDelivered);
    return { ackedSeq: reply.acked, backlog: reply.backlog };
  }

  async extend(id: string, leaseEnd: number, now: number): Promise<void> {
    if (!(await this.#scripts.extend(id, leaseEnd, now))) throw new SubscriptionNotFoundError(id);
  }

  /** Its parked events' seqs and delivery counts, oldest first. */
  async parked(id: string): Promise<[seq: number, deliveries: number][]> {
    const entries = await this.#command<string[]>((redis) => redis.lrange(this.#keys.parked(id), 0, -1));
    return entries.map((entry) => entry.split(":").map(Number) as [number, number]);
  }

  /**
   * Keeps those with a pull waiting in use, and removes those unused for their
   * `expireAfterMs`; returns how many it removed.
   */
  async expire(now: number, inUse: ReadonlySet<string>): Promise<number> {
    let removed = 0;
    for (const sub of this.#known.values()) {
      if (inUse.has(sub.id)) await this.#scripts.touch(sub.id, now);
      else if (sub.options.expireAfterMs > 0 && (await this.#scripts.expire(sub.id, now - sub.options.expireAfterMs))) removed++;
    }
    return removed;
  }

  /** The oldest seq any subscription still needs kept, Infinity when none needs one. */
  async oldestHeld(): Promise<number> {
    const held = await this.#scripts.held([...this.#known.keys()]);
    return held.reduce((oldest, seq) => (seq > 0 ? Math.min(oldest, seq) : oldest), Infinity);
  }

  /** Its view, or undefined when there is none; `waiting` is this instance's pulls waiting on it. */
  async describe(id: string, waiting: number): Promise<SubscriptionView | undefined> {
    const [spec, state] = await this.#command<[string | null, Record<string, string>]>(async (redis) => {
      const [[specError, spec], [stateError, state]] = (await redis.pipeline().hget(this.#keys.subs(), id).hgetall(this.#keys.state(id)).exec())!;
      if (specError || stateError) throw specError ?? stateError;
      return [spec as string | null, state as Record<string, string>];
    });
    return spec && Object.keys(state).length > 0 ? viewOf(JSON.parse(spec), state, waiting) : undefined;
  }

  async list(waitingOn: (id: string) => number): Promise<SubscriptionView[]> {
    const specs = await this.#command<Record<string, string>>((redis) => redis.hgetall(this.#keys.subs()));
    const ids = Object.keys(specs);
    const states = await this.#command<Record<string, string>[]>(async (redis) => {
      const pipeline = redis.pipeline();
      for (const id of ids) pipeline.hgetall(this.#keys.state(id));
      return ((await pipeline.exec()) ?? []).map(([error, value]) => {
        if (error) throw error;
        return value as Record<string, string>;
      });
    });
    return ids.flatMap((id, index) => (Object.keys(states[index]).length > 0 ? [viewOf(JSON.parse(specs[id]), states[index], waitingOn(id))] : []));
  }

  /** A plain command on the command connection, its failure said as failureOf says it. */
  async #command<T>(work: (redis: Redis) => Promise<T>): Promise<T> {
    try {
      return await work(this.#redis);
    } catch (error) {
      throw failureOf(error);
    }
  }
}

/** A subscription's view from its spec and its state hash. */
function viewOf(spec: Omit<KnownSubscription, "selector" | "paused">, state: Record<string, string>, waiting: number): SubscriptionView {
  const number = (name: string) => Number(state[name] ?? 0);
  const { ackTimeoutMs, maxBacklog, expireAfterMs, maxDeliveries } = spec.options;
  return {
    id: spec.id,
    kind: "required",
    types: spec.types,
    filters: spec.filters ?? [],
    paused: state.paused === "1",
    created: spec.created,
    owner: spec.owner,
    delivered: number("delivered"),
    backlog: number("backlog"),
    dropped: 0,
    required: {
      name: spec.name,
      ackedSeq: number("acked"),
      lastDeliveredSeq: number("lastDelivered"),
      redelivered: number("redelivered"),
      parked: number("parkedCount"),
      waiting,
      ackTimeoutMs,
      maxBacklog,
      expireAfterMs,
      maxDeliveries,
    },
  };
}

