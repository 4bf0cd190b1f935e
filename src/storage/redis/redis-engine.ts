/**
 * Several instances, one broker: Redis holds the truth (the event log as a Redis Stream
 * whose entry ids are the seqs, the seq counter, the dedupe window, every required
 * subscription's state and backlog), and every decision that must hold across instances is
 * one Lua script (scripts.ts). Each instance tails the log with one blocking read and feeds
 * its own streams from it through the core's stream machinery (drop-on-full stays per
 * instance), and wakes its own waiting pulls.
 *
 * Two connections per instance, whatever the load: one for commands, one for the tail.
 * Redis out of reach: calls fail within `commandTimeoutMs` with StorageError (503); the
 * tail reconnects and goes on from the last seq it saw, so streams miss nothing.
 */
import { Redis } from "ioredis";
import {
  type AcceptedEvent,
  type AckResult,
  type Attributes,
  BacklogFullError,
  type BrokerOptions,
  defaultBrokerOptions,
  type Delivery,
  type Engine,
  type EngineHealth,
  type EngineStats,
  type LogPage,
  MemoryBudget,
  RingHistory,
  NeverDeliveredError,
  NotRequiredError,
  type ParkedEvent,
  type PublishOptions,
  type PublishResult,
  type PullOptions,
  type RequiredSpec,
  requiredSpecSchema,
  type StreamSpec,
  type StreamSubscription,
  StorageError,
  type SubscriberOptions,
  SubscriptionNotFoundError,
  type SubscriptionView,
  TooManySubscriptionsError,
  TooManyWaitingPullsError,
  ValidationError,
  BatchTooLargeError,
  BrokerClosedError,
  parseOrThrow,
  utf8Bytes,
  viewOf,
} from "../../broker/mod.ts";
import { isoTimeFormatter, prepareInputs, templatesOf } from "../../broker/publish-input.ts";
import { Selector } from "../../broker/selector.ts";
import { TypeIndex } from "../../broker/type-index.ts";
import { unitsFor } from "../../broker/unit.ts";
import { byCreation } from "../../broker/broker.ts";
import { LiveFeed } from "../../broker/live-feed.ts";
import { RedisKeys } from "./keys.ts";
import { orderOf, STREAM_VIEWS_EVERY_MS, StreamRegistry } from "./stream-registry.ts";
import * as scripts from "./scripts.ts";

/** Settings of a Redis engine beyond the core's. */
export interface RedisEngineOptions extends Partial<BrokerOptions> {
  readonly url: string;
  /** Prefix of every key (`broker:`); all keys share one hash slot. */
  readonly prefix: string;
  /** Longest a call waits for Redis before it is refused (2 s). */
  readonly commandTimeoutMs?: number;
}

/** A required subscription as every instance knows it: its spec, and whether it is paused. */
interface KnownSubscription {
  readonly id: string;
  readonly name: string | undefined;
  readonly owner: string | undefined;
  readonly created: number;
  readonly selector: Selector;
  readonly options: { ackTimeoutMs: number; maxBacklog: number; expireAfterMs: number; maxDeliveries: number; maxParked: number };
  readonly paused: boolean;
}

interface Waiter {
  readonly id: string;
  readonly wake: () => void;
}

const STALE_RETRIES = 8;

export class RedisEngine implements Engine {
  readonly #options: BrokerOptions & RedisEngineOptions;
  readonly #redis: Redis;
  readonly #tail: Redis;
  readonly #keys: RedisKeys;
  /** Streams and history of this instance, fed by the tail. */
  #memory: MemoryBudget;
  #local: LiveFeed;
  readonly #isoTimeOf = isoTimeFormatter();
  #known = new Map<string, KnownSubscription>();
  #index = new TypeIndex<KnownSubscription>();
  #version = "";
  readonly #waiters = new Set<Waiter>();
  #waitingPulls = 0;
  readonly #registry: StreamRegistry;
  /** The last control order read, so the tail reads each once. */
  #controlAfter = "0-0";
  #viewsWrittenAt = 0;
  #tailing: Promise<void> | undefined;
  #closed = false;
  #failure: Error | undefined;
  #cancelSweep: () => void = () => {};
  readonly #stats = { accepted: 0, duplicates: 0, requiredDeliveries: 0, redeliveries: 0, parked: 0 };

  private constructor(options: RedisEngineOptions) {
    this.#options = { ...defaultBrokerOptions, ...options };
    [this.#memory, this.#local] = liveFeedOf(this.#options);
    const connection = { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: options.commandTimeoutMs ?? 2_000, retryStrategy: (times: number) => Math.min(times * 100, 1_000) };
    this.#redis = new Redis(options.url, connection);
    this.#tail = new Redis(options.url, { ...connection, commandTimeout: undefined });
    for (const client of [this.#redis, this.#tail]) client.on("error", (error: Error) => (this.#failure = error));
    this.#keys = new RedisKeys(options.prefix);
    this.#registry = new StreamRegistry(this.#redis, this.#keys, crypto.randomUUID());
    for (const [name, lua] of Object.entries(SCRIPTS)) this.#redis.defineCommand(name, { lua });
  }

  /** Connects, learns the subscriptions and the log's end, and starts tailing it. */
  static async open(options: RedisEngineOptions): Promise<RedisEngine> {
    const engine = new RedisEngine(options);
    try {
      await Promise.all([engine.#redis.connect(), engine.#tail.connect()]);
      await engine.#refresh();
      await engine.#loadHistory();
      const [lastOrder] = await engine.#redis.xrevrange(engine.#keys.control(), "+", "-", "COUNT", 1);
      engine.#controlAfter = lastOrder?.[0] ?? "0-0";
    } catch (error) {
      engine.#redis.disconnect();
      engine.#tail.disconnect();
      throw new StorageError(`cannot reach Redis at ${options.url}: ${(error as Error).message}`);
    }
    engine.#tailing = engine.#tailLog();
    engine.#sweep();
    return engine;
  }

  get memory(): MemoryBudget {
    return this.#memory;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get maxBatch(): number {
    return this.#options.maxBatch;
  }

  send(event: unknown, options?: PublishOptions): Promise<PublishResult> {
    return this.#publish([event], () => "", options);
  }

  sendBatch(events: readonly unknown[], options?: PublishOptions): Promise<PublishResult> {
    if (events.length > this.#options.maxBatch) return Promise.reject(new BatchTooLargeError(events.length, this.#options.maxBatch));
    if (events.length === 0) return Promise.reject(new ValidationError([{ path: "", message: "the batch holds no events" }]));
    return this.#publish(events, (index) => `/${index}`, options);
  }

  async #publish(inputs: readonly unknown[], pathOf: (index: number) => string, { allowTypes }: PublishOptions = {}): Promise<PublishResult> {
    if (this.#closed) throw new BrokerClosedError();
    const now = this.#options.clock.now();
    const prepared = prepareInputs(inputs, pathOf, this.#isoTimeOf(now), this.#options.newId, allowTypes);
    const templates = templatesOf(prepared, (event) => pathOf(prepared.indexOf(event)));
    const args = prepared.flatMap((event, index) => {
      const template = templates[index];
      return [event.type, template.head, template.tail, String(template.size), event.producerId ? dedupeKeyOf(event.source, event.id) : ""];
    });
    for (let attempt = 0; attempt < STALE_RETRIES; attempt++) {
      const targets = this.#targetsOf(prepared);
      const keys = [...this.#keys.publishKeys(), ...targets.flatMap(([sub]) => [this.#keys.state(sub.id), this.#keys.queue(sub.id)])];
      const targetArgs = targets.flatMap(([sub, indexes]) => [String(sub.options.maxBacklog), indexes.join(",")]);
      const result = await this.#call<(string | number)[]>("publish", keys, [this.#version, now, this.#options.dedupeWindowMs, this.#options.dedupeMaxEntries, prepared.length, ...args, ...targetArgs]);
      if (result[0] === "stale") {
        await this.#refresh();
        continue;
      }
      if (result[0] === "full") {
        const sub = targets[Number(result[1]) - 1][0];
        throw new BacklogFullError(sub.id, sub.options.maxBacklog);
      }
      return this.#publishResult(result);
    }
    throw new StorageError("subscriptions kept changing while publishing; try again");
  }

  /** Each active required subscription these events reach, with the indexes of the events it takes. */
  #targetsOf(prepared: readonly { type: string; attributes: Attributes }[]): [KnownSubscription, number[]][] {
    const stand = prepared.map((event, index): AcceptedEvent => ({ seq: index, type: event.type, json: "", size: 0 }));
    const units = unitsFor(stand, this.#index, { skip: (sub) => sub.paused, filterOf: (sub) => sub.selector.filter, attributesOf: (event) => prepared[event.seq].attributes });
    // In the order the core names a full one in: the script refuses on the first it finds.
    return [...units].sort(([a], [b]) => byCreation(a, b)).map(([sub, unit]) => [sub, unit.events.map((event) => event.seq)]);
  }

  #publishResult(result: (string | number)[]): PublishResult {
    const [first, last] = [Number(result[1]), Number(result[2])];
    const duplicateSeqs = result.slice(3).map((entry) => Number(String(entry).split(":")[1]));
    const accepted = first > 0 ? last - first + 1 : 0;
    this.#stats.accepted += accepted;
    this.#stats.duplicates += duplicateSeqs.length;
    const base = accepted > 0 ? { accepted, first, last } : { accepted: 0, first: null, last: null };
    return duplicateSeqs.length > 0 ? { ...base, duplicates: duplicateSeqs.length, duplicateSeqs } : base;
  }

  async subscribe(spec: RequiredSpec, options: SubscriberOptions = {}): Promise<SubscriptionView> {
    return (await this.subscribeBatch([spec], options, ""))[0];
  }

  async subscribeBatch(specs: readonly RequiredSpec[], options: SubscriberOptions = {}, pathPrefix = "/"): Promise<SubscriptionView[]> {
    if (this.#closed) throw new BrokerClosedError();
    const parsed = specs.map((spec, index) => parseOrThrow(requiredSpecSchema, spec, pathPrefix ? `/${index}` : ""));
    await this.#refresh();
    if (this.#known.size + specs.length > this.#options.maxRequired) throw new TooManySubscriptionsError("required", this.#options.maxRequired);
    const now = this.#options.clock.now();
    const made = parsed.map(({ types, filters, name, ...settings }) => ({
      id: this.#options.newId(),
      name,
      owner: options.owner,
      created: now,
      types,
      filters: filters ?? [],
      options: { ...pick(this.#options), ...settings },
    }));
    const keys = [this.#keys.subs(), this.#keys.version(), this.#keys.seq(), ...made.map((sub) => this.#keys.state(sub.id))];
    await this.#call("subscribe", keys, [now, ...made.flatMap((sub) => [sub.id, JSON.stringify(sub)])]);
    await this.#refresh();
    return Promise.all(made.map((sub) => this.describe(sub.id)));
  }

  async openStream(spec: StreamSpec, options?: SubscriberOptions): Promise<StreamSubscription> {
    if (this.#closed) throw new BrokerClosedError();
    if (spec.since !== undefined) await this.#catchUp();
    const stream = this.#local.open(spec, options?.owner);
    try {
      await this.#guard(this.#registry.add(viewOf(stream)));
    } catch (error) {
      this.#local.close(stream.id, "deleted");
      throw error;
    }
    return stream;
  }

  /** Whether stream `id` is served by this instance (every instance lists and describes it). */
  holds(id: string): boolean {
    return this.#local.has(id);
  }

  /** Follows the log to its end now: a stream resumed just after a publish must find it here, though the tail may not have read it yet. */
  async #catchUp(): Promise<void> {
    const end = Number((await this.#call<string | null>("get", [this.#keys.seq()], [], true)) ?? 0);
    if (end <= this.#local.lastSeq) return;
    this.#follow(await this.#readLog(this.#local.lastSeq + 1, end));
  }

  async describe(id: string): Promise<SubscriptionView> {
    const local = this.#local.get(id);
    if (local) return viewOf(local);
    const [spec, state] = await this.#pipeline([["hget", this.#keys.subs(), id], ["hgetall", this.#keys.state(id)]]) as [string | null, Record<string, string>];
    if (spec && Object.keys(state).length > 0) return this.#viewOf(JSON.parse(spec), state);
    const stream = await this.#guard(this.#registry.find(id));
    if (!stream) throw new SubscriptionNotFoundError(id);
    return stream.view;
  }

  async list(): Promise<SubscriptionView[]> {
    const specs = await this.#call<Record<string, string>>("hgetall", [this.#keys.subs()], [], true);
    const ids = Object.keys(specs);
    const states = await this.#pipeline(ids.map((id) => ["hgetall", this.#keys.state(id)])) as Record<string, string>[];
    const required = ids.flatMap((id, index) => (Object.keys(states[index]).length > 0 ? [this.#viewOf(JSON.parse(specs[id]), states[index])] : []));
    const streams = await this.#guard(this.#registry.others());
    return [...required, ...this.#local.list().map(viewOf), ...streams.map((stream) => stream.view)];
  }

  async remove(id: string, reason = "deleted"): Promise<boolean> {
    if (this.#local.close(id, reason)) {
      await this.#registry.delete(id).catch(() => {}); // else its view expires with this instance's others
      return true;
    }
    const removed = await this.#call<number>("remove", [this.#keys.subs(), this.#keys.version(), this.#keys.state(id), this.#keys.queue(id), this.#keys.parked(id)], [id]);
    if (removed === 1) {
      await this.#guard(this.#registry.order({ op: "subscriptions-changed", to: "*" }));
      await this.#refresh();
      return true;
    }
    const stream = await this.#guard(this.#registry.find(id));
    if (!stream) return false;
    await this.#guard(this.#registry.order({ op: "close", to: stream.instance, id, reason }));
    return true;
  }

  async setPaused(id: string, paused: boolean): Promise<SubscriptionView> {
    const local = this.#local.get(id);
    if (local) {
      local.paused = paused;
      const view = viewOf(local);
      await this.#registry.add(view).catch(() => {}); // else the next write of all views tells the others
      return view;
    }
    if ((await this.#call<number>("pause", [this.#keys.version(), this.#keys.state(id)], [paused ? 1 : 0])) === 1) {
      await this.#refresh();
      return this.describe(id);
    }
    const stream = await this.#guard(this.#registry.find(id));
    if (!stream) throw new SubscriptionNotFoundError(id);
    await this.#guard(this.#registry.order({ op: "pause", to: stream.instance, id, paused }));
    return { ...stream.view, paused };
  }

  async pull(id: string, { max = 100, waitMs = 0, ack, signal }: PullOptions = {}): Promise<Delivery[]> {
    const sub = await this.#required(id);
    if (ack !== undefined) await this.ack(id, ack);
    const deadline = this.#options.clock.now() + Math.min(waitMs, this.#options.maxWaitMs);
    let waiting = false;
    try {
      for (;;) {
        const taken = await this.#take(sub, max).catch((error) => {
          if (waiting && error instanceof SubscriptionNotFoundError) return undefined; // deleted while this pull waited
          throw error;
        });
        if (!taken) return [];
        const now = this.#options.clock.now();
        if (taken.deliveries.length > 0 || now >= deadline || this.#closed || signal?.aborted) return taken.deliveries;
        if (!waiting) {
          if (this.#waitingPulls >= this.#options.maxWaitingPulls) throw new TooManyWaitingPullsError(this.#options.maxWaitingPulls);
          this.#waitingPulls++;
          waiting = true;
        }
        await this.#waitFor(sub, Math.min(deadline, taken.leaseEnd ?? Infinity) - now, signal);
      }
    } finally {
      if (waiting) this.#waitingPulls--;
    }
  }

  async #take(sub: KnownSubscription, max: number): Promise<{ deliveries: Delivery[]; leaseEnd: number | undefined }> {
    const { options } = sub;
    const args = [this.#options.clock.now(), Math.max(1, max), this.#options.maxPullBytes, options.ackTimeoutMs, options.maxDeliveries, options.maxParked];
    const result = await this.#call<(string | number)[]>("take", [this.#keys.state(sub.id), this.#keys.queue(sub.id), this.#keys.parked(sub.id)], args);
    if (result[0] === "gone") throw new SubscriptionNotFoundError(sub.id);
    const units: { seqs: number[]; deliveries: number }[] = [];
    for (let i = 2; i < result.length; i += 2) units.push({ seqs: seqsOf(String(result[i])), deliveries: Number(result[i + 1]) });
    const events = await this.#events(units.flatMap((unit) => unit.seqs));
    const deliveries = units.map((unit) => ({ events: unit.seqs.map((seq) => events.get(seq)!).filter(Boolean), deliveries: unit.deliveries }));
    for (const unit of deliveries) {
      this.#stats.requiredDeliveries += unit.events.length;
      if (unit.deliveries > 1) this.#stats.redeliveries += unit.events.length;
    }
    return { deliveries, leaseEnd: result[1] === "" ? undefined : Number(result[1]) };
  }

  /** Waits until the tail brings an event this subscription selects, or `ms` pass, or the signal aborts. */
  #waitFor(sub: KnownSubscription, ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      let cancel = () => {};
      const waiter: Waiter = {
        id: sub.id,
        wake: () => {
          cancel();
          this.#waiters.delete(waiter);
          signal?.removeEventListener("abort", waiter.wake);
          resolve();
        },
      };
      this.#waiters.add(waiter);
      signal?.addEventListener("abort", waiter.wake, { once: true });
      cancel = this.#options.clock.setTimer(waiter.wake, Math.max(0, ms));
    });
  }

  #wakeWaitersOf(id: string): void {
    for (const waiter of [...this.#waiters]) if (waiter.id === id) waiter.wake();
  }

  async ack(id: string, seq: number): Promise<AckResult> {
    return this.#settle("ack", id, seq);
  }

  async nack(id: string, seq: number): Promise<AckResult> {
    const result = await this.#settle("nack", id, seq);
    this.#wakeWaitersOf(id);
    return result;
  }

  async #settle(script: "ack" | "nack", id: string, seq: number): Promise<AckResult> {
    await this.#required(id);
    if (!Number.isSafeInteger(seq) || seq < 0) throw new ValidationError([{ path: "/seq", message: "must be a whole number, 0 or more" }]);
    const result = await this.#call<(string | number)[]>(script, [this.#keys.state(id), this.#keys.queue(id)], [seq, this.#options.clock.now()]);
    if (result[0] === "gone") throw new SubscriptionNotFoundError(id);
    if (result[0] === "never") throw new NeverDeliveredError(seq, Number(result[1]));
    return { ackedSeq: Number(result[1]), backlog: Number(result[2]) };
  }

  async extend(id: string, ms: number): Promise<number> {
    await this.#required(id);
    if (!Number.isSafeInteger(ms) || ms < 1) throw new ValidationError([{ path: "/ms", message: "must be a whole number of milliseconds, 1 or more" }]);
    const now = this.#options.clock.now();
    const result = await this.#call<string[]>("extend", [this.#keys.state(id), this.#keys.queue(id)], [now + ms, now]);
    if (result[0] === "gone") throw new SubscriptionNotFoundError(id);
    return now + ms;
  }

  async parked(id: string): Promise<readonly ParkedEvent[]> {
    if (this.#local.has(id)) return [];
    await this.#required(id);
    const entries = await this.#call<string[]>("lrange", [this.#keys.parked(id)], [0, -1], true);
    const parked = entries.map((entry) => entry.split(":").map(Number));
    const events = await this.#events(parked.map(([seq]) => seq));
    return parked.flatMap(([seq, deliveries]) => (events.has(seq) ? [{ event: events.get(seq)!, deliveries }] : []));
  }

  async read(afterSeq: number, max: number, selector: Selector): Promise<LogPage> {
    const lastSeq = Number((await this.#call<string | null>("get", [this.#keys.seq()], [], true)) ?? 0);
    const events = afterSeq >= lastSeq ? [] : await this.#readLog(afterSeq + 1, lastSeq, max);
    const first = events[0]?.seq ?? lastSeq + 1;
    const through = events.at(-1)?.seq ?? Math.max(afterSeq, lastSeq);
    const gap = first > afterSeq + 1 && afterSeq < lastSeq ? { from: afterSeq + 1, to: Math.min(first - 1, lastSeq) } : undefined;
    const selected = events.filter((event) => selector.selects(event.type, () => JSON.parse(event.json)));
    return { events: selected.map(({ seq, type, json, size }) => ({ seq, type, json, size })), through, lastSeq, ...(gap ? { gap } : {}) };
  }

  stats(): EngineStats {
    const local = this.#local;
    return { ...this.#stats, ...local.stats, lastSeq: local.lastSeq, openStreams: local.count, streamHandedBytes: local.handedBytes };
  }

  /** Asks Redis (a frozen one keeps its connections open, so their state is not enough). */
  async health(): Promise<EngineHealth> {
    const failure = await this.#reachable();
    return { serving: !this.#closed && !failure, lastSeq: this.#local.lastSeq, ...(failure ? { storageFailure: failure } : {}) };
  }

  async #reachable(): Promise<string | undefined> {
    if (this.#tail.status !== "ready") return this.#failure?.message ?? `Redis is ${this.#tail.status}`;
    try {
      await this.#call("ping", [], [], true);
      return undefined;
    } catch (error) {
      return (error as Error).message;
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#cancelSweep();
    for (const waiter of [...this.#waiters]) waiter.wake();
    this.#local.closeAll("shutdown");
    await this.#registry.leave().catch(() => {}); // else its views expire
    this.#tail.disconnect();
    await this.#tailing?.catch(() => {});
    await this.#redis.quit().catch(() => this.#redis.disconnect());
  }

  /** The subscription `id`, known to every instance; a stream of this one answers NotRequiredError. */
  async #required(id: string): Promise<KnownSubscription> {
    if (this.#local.has(id)) throw new NotRequiredError(id);
    let sub = this.#known.get(id);
    if (!sub) {
      await this.#refresh();
      sub = this.#known.get(id);
    }
    if (sub) return sub;
    if (await this.#guard(this.#registry.find(id))) throw new NotRequiredError(id);
    throw new SubscriptionNotFoundError(id);
  }

  /** Learns the required subscriptions again when they changed since last time. */
  async #refresh(): Promise<void> {
    const version = (await this.#call<string | null>("get", [this.#keys.version()], [], true)) ?? "0";
    if (version === this.#version) return;
    const specs = await this.#call<Record<string, string>>("hgetall", [this.#keys.subs()], [], true);
    const ids = Object.keys(specs);
    const paused = await this.#pipeline(ids.map((id) => ["hget", this.#keys.state(id), "paused"])) as (string | null)[];
    const known = new Map<string, KnownSubscription>();
    const index = new TypeIndex<KnownSubscription>();
    ids.forEach((id, i) => {
      const spec = JSON.parse(specs[id]);
      const sub: KnownSubscription = { ...spec, selector: new Selector(spec.types, spec.filters), paused: paused[i] === "1" };
      known.set(id, sub);
      index.add(sub, sub.selector.types);
    });
    [this.#known, this.#index, this.#version] = [known, index, version];
    for (const waiter of [...this.#waiters]) if (!known.has(waiter.id)) waiter.wake(); // removed elsewhere
  }

  /** Events by seq: this instance's history has the recent ones; older ones are read from the log. */
  async #events(seqs: readonly number[]): Promise<Map<number, AcceptedEvent>> {
    const found = new Map<number, AcceptedEvent>();
    const missing: number[] = [];
    for (const seq of seqs) {
      const event = this.#local.eventAt(seq);
      if (event) found.set(seq, event);
      else missing.push(seq);
    }
    for (const [from, to] of rangesOf(missing)) {
      for (const event of await this.#readLog(from, to)) found.set(event.seq, event);
    }
    return found;
  }

  /** Reads the last `historySize` events into this instance's history, so streams resume here as anywhere. */
  async #loadHistory(): Promise<void> {
    const end = Number((await this.#call<string | null>("get", [this.#keys.seq()], [], true)) ?? 0);
    if (end > 0) this.#follow(await this.#readLog(Math.max(1, end - this.#options.historySize + 1), end));
  }

  /** The first `max` kept events with seqs `from` to `to`, read a few entries at a time (an entry holds a whole publish). */
  async #readLog(from: number, to: number, max = Infinity): Promise<AcceptedEvent[]> {
    const events: AcceptedEvent[] = [];
    for (let next = from; next <= to && events.length < max;) {
      const entries = await this.#call<LogEntry[]>("read", [this.#keys.log()], [next, to, LOG_ENTRIES_PER_READ]);
      const read = entries.flatMap((entry) => eventsOf(entry).events);
      events.push(...read.filter((event) => event.seq >= next && event.seq <= to));
      if (entries.length < LOG_ENTRIES_PER_READ || read.length === 0) break;
      next = read[read.length - 1].seq + 1;
    }
    return events.slice(0, max);
  }

  /** The one blocking read of this instance: new events, in order, to its streams and waiting pulls; after a failure, again from the last seq seen. */
  async #tailLog(): Promise<void> {
    while (!this.#closed) {
      try {
        const streams = [this.#keys.log(), this.#keys.control()];
        const answer = (await this.#tail.xread("COUNT", 1_000, "BLOCK", 1_000, "STREAMS", ...streams, `${this.#local.lastSeq}-0`, this.#controlAfter)) as [string, [string, string[]][]][] | null;
        if (!answer) await this.#startOverIfLogLost();
        for (const [stream, entries] of answer ?? []) {
          if (stream === this.#keys.log()) this.#follow(entries.flatMap((entry) => eventsOf(entry).events));
          else await this.#obey(entries);
        }
      } catch (error) {
        if (this.#closed) return;
        this.#failure = error as Error;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  }

  /**
   * Redis came back without the events this instance saw (it ran without AOF, or was
   * flushed): seqs start again, so this instance's streams end with reason "reset" and
   * their readers, resuming beyond the new log's end, are told `broker.reset`.
   */
  async #startOverIfLogLost(): Promise<void> {
    const lastSeq = Number((await this.#tail.get(this.#keys.seq())) ?? 0);
    if (lastSeq >= this.#local.lastSeq) return;
    const lost = this.#local;
    [this.#memory, this.#local] = liveFeedOf(this.#options);
    lost.closeAll("reset");
    await this.#registry.write([]);
    await this.#loadHistory();
  }

  /** Carries out the control orders meant for this instance. */
  async #obey(entries: readonly [string, string[]][]): Promise<void> {
    for (const [entryId, fields] of entries) {
      this.#controlAfter = entryId;
      const order = orderOf(fields);
      if (order.op === "subscriptions-changed") await this.#refresh();
      else if (order.to !== this.#registry.instance || !this.#local.has(order.id)) continue;
      else if (order.op === "close") await this.remove(order.id, order.reason);
      else await this.setPaused(order.id, order.paused);
    }
  }

  #follow(all: AcceptedEvent[]): void {
    const events = all.filter((event) => event.seq > this.#local.lastSeq); // the tail and a catch-up may bring the same
    if (events.length === 0) return;
    const parsed = new Map<number, Attributes>();
    const attributesOf = (event: AcceptedEvent) => parsed.get(event.seq) ?? parsed.set(event.seq, JSON.parse(event.json)).get(event.seq)!;
    this.#local.append(events, attributesOf);
    if (this.#waiters.size === 0) return;
    const reached = unitsFor(events, this.#index, { skip: (sub) => sub.paused, filterOf: (sub) => sub.selector.filter, attributesOf });
    for (const sub of reached.keys()) this.#wakeWaitersOf(sub.id);
  }

  /** Expires idle subscriptions, keeps those with waiting pulls in use, and trims the log. */
  async sweep(): Promise<void> {
    const now = this.#options.clock.now();
    const waiting = new Set([...this.#waiters].map((waiter) => waiter.id));
    for (const sub of this.#known.values()) {
      if (waiting.has(sub.id)) await this.#call("touch", [this.#keys.state(sub.id)], [now]);
      else if (sub.options.expireAfterMs > 0) {
        const keys = [this.#keys.subs(), this.#keys.version(), this.#keys.state(sub.id), this.#keys.queue(sub.id), this.#keys.parked(sub.id)];
        if ((await this.#call("expire", keys, [sub.id, now - sub.options.expireAfterMs])) === 1) await this.#guard(this.#registry.order({ op: "subscriptions-changed", to: "*" }));
      }
    }
    await this.#refresh();
    await this.#trim(now);
    if (now - this.#viewsWrittenAt >= STREAM_VIEWS_EVERY_MS) {
      this.#viewsWrittenAt = now;
      await this.#guard(this.#registry.write(this.#local.list().map(viewOf)));
    }
  }

  /** Sweeps every `sweepIntervalMs`, a sweep at a time. */
  #sweep(): void {
    const schedule = () => {
      if (this.#closed) return;
      this.#cancelSweep = this.#options.clock.setTimer(() => void this.sweep().catch((error) => (this.#failure = error)).finally(schedule), this.#options.sweepIntervalMs);
    };
    schedule();
  }

  /** Removes from the log what retention lets go, never what a required subscription holds. */
  async #trim(now: number): Promise<void> {
    const last = this.#local.lastSeq;
    let before = last + 1 - this.#options.retainEvents;
    const held = await this.#pipeline([...this.#known.keys()].map((id) => ["evalsha-held", id])) as number[];
    for (const seq of held) if (seq > 0) before = Math.min(before, seq);
    const [oldest] = await this.#call<LogEntry[]>("xrange", [this.#keys.log()], ["-", "+", "COUNT", 1], true);
    if (oldest && eventsOf(oldest).acceptedAt < now - this.#options.retainMs) before = Math.max(before, Math.min(seqOf(oldest) + 1_000, last + 1));
    if (before <= 1) return;
    // From the entry that holds `before`: a publish is kept or let go whole.
    const [holding] = await this.#call<LogEntry[]>("xrevrange", [this.#keys.log()], [`${before}-0`, "-", "COUNT", 1], true);
    if (holding) await this.#call("xtrim", [this.#keys.log()], ["MINID", holding[0]], true);
  }

  /** Runs a script (or, with `plain`, a command) on the command connection; an unreachable Redis is a StorageError. */
  async #call<T>(name: string, keys: readonly string[], args: readonly (string | number)[], plain = false): Promise<T> {
    try {
      if (plain) return (await (this.#redis as unknown as Record<string, (...a: unknown[]) => Promise<T>>)[name](...keys, ...args)) as T;
      return (await (this.#redis as unknown as Record<string, (...a: unknown[]) => Promise<T>>)[name](keys.length, ...keys, ...args)) as T;
    } catch (error) {
      throw storageError(error);
    }
  }

  /** Redis work done elsewhere, its failures as StorageError. */
  async #guard<T>(work: Promise<T>): Promise<T> {
    try {
      return await work;
    } catch (error) {
      throw storageError(error);
    }
  }

  async #pipeline(commands: unknown[][]): Promise<unknown[]> {
    if (commands.length === 0) return [];
    const pipeline = this.#redis.pipeline();
    for (const [name, ...args] of commands) {
      if (name === "evalsha-held") {
        const id = String(args[0]);
        (pipeline as unknown as Record<string, (...a: unknown[]) => void>).held(3, this.#keys.state(id), this.#keys.queue(id), this.#keys.parked(id));
      } else (pipeline as unknown as Record<string, (...a: unknown[]) => void>)[String(name)](...args);
    }
    let results: [Error | null, unknown][] | null;
    try {
      results = await pipeline.exec();
    } catch (error) {
      throw storageError(error);
    }
    return (results ?? []).map(([error, value]) => {
      if (error) throw storageError(error);
      return value;
    });
  }

  #viewOf(spec: KnownSubscription & { types: string[]; filters: [] }, state: Record<string, string>): SubscriptionView {
    const number = (name: string) => Number(state[name] ?? 0);
    const waiting = [...this.#waiters].filter((waiter) => waiter.id === spec.id).length;
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
        ackTimeoutMs: spec.options.ackTimeoutMs,
        maxBacklog: spec.options.maxBacklog,
        expireAfterMs: spec.options.expireAfterMs,
        maxDeliveries: spec.options.maxDeliveries,
      },
    };
  }
}

const SCRIPTS = {
  publish: scripts.PUBLISH,
  subscribe: scripts.SUBSCRIBE,
  remove: scripts.REMOVE,
  pause: scripts.PAUSE,
  take: scripts.TAKE,
  read: scripts.READ,
  ack: scripts.ACK,
  nack: scripts.NACK,
  extend: scripts.EXTEND,
  touch: scripts.TOUCH,
  expire: scripts.EXPIRE,
  held: scripts.HELD,
};

/** A new memory budget, and the live feed of this instance counted in it. */
function liveFeedOf(options: BrokerOptions): [MemoryBudget, LiveFeed] {
  const memory = new MemoryBudget(options.memoryBudgetBytes);
  const log = new RingHistory(options.historySize, memory.parts.history);
  return [memory, new LiveFeed({ ...options, log, streamsMemory: memory.parts.streams })];
}

function pick(options: BrokerOptions) {
  const { ackTimeoutMs, maxBacklog, expireAfterMs, maxDeliveries, maxParked } = options;
  return { ackTimeoutMs, maxBacklog, expireAfterMs, maxDeliveries, maxParked };
}

/** An entry of the log: the events of one publish, its id the first one's seq. */
type LogEntry = [string, string[]];
const LOG_ENTRIES_PER_READ = 16;

const seqOf = ([id]: LogEntry) => Number(id.split("-")[0]);

function eventsOf(entry: LogEntry): { events: AcceptedEvent[]; acceptedAt: number } {
  const fields = entry[1];
  const field = (name: string) => fields[fields.indexOf(name) + 1];
  const first = seqOf(entry);
  const types = field("t").split("\n");
  const events = field("j").split("\n").map((json, i) => ({ seq: first + i, type: types[i], json, size: utf8Bytes(json) }));
  return { events, acceptedAt: Number(field("a")) };
}

/** "5-9,12" → [5, 6, 7, 8, 9, 12]. */
function seqsOf(ranges: string): number[] {
  return ranges.split(",").flatMap((range) => {
    const [from, to] = range.split("-").map(Number);
    return to === undefined ? [from] : Array.from({ length: to - from + 1 }, (_, i) => from + i);
  });
}

/** Sorted seqs as `[from, to]` runs of consecutive ones. */
function rangesOf(seqs: readonly number[]): [number, number][] {
  const sorted = [...seqs].sort((a, b) => a - b);
  const ranges: [number, number][] = [];
  for (const seq of sorted) {
    const last = ranges.at(-1);
    if (last && seq <= last[1] + 1) last[1] = Math.max(last[1], seq);
    else ranges.push([seq, seq]);
  }
  return ranges;
}

function storageError(error: unknown): Error {
  if (error instanceof StorageError) return error;
  return new StorageError(`Redis: ${(error as Error).message}`);
}

/**
 * A producer pair's key in the dedupe window's hash: `source` NUL `id`, one pair's alone
 * while the source holds no NUL (and none is empty, so no such key starts with one) and
 * both are well-formed UTF-16 (Redis keeps UTF-8, where every lone surrogate is the same
 * U+FFFD). Any other pair is keyed by its JSON, which escapes both, after a leading NUL.
 */
function dedupeKeyOf(source: string, id: string): string {
  const plain = !source.includes("\u0000") && source.isWellFormed() && id.isWellFormed();
  return plain ? `${source}\u0000${id}` : `\u0000${JSON.stringify([source, id])}`;
}
