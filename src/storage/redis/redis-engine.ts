/**
 * Several instances, one broker: Redis holds the truth (the event log as a Redis Stream
 * whose entry ids are the seqs, the seq counter, the dedupe window, every required
 * subscription's state and backlog), and every decision that must hold across instances is
 * one Lua script (scripts.ts, lua/). Each instance tails the log with one blocking read and
 * appends what it reads to its own live feed, which serves its streams (drop-on-full stays
 * per instance), and wakes its own waiting pulls.
 *
 * Two connections per instance, whatever the load: one for commands, one for the tail.
 * Redis out of reach: calls fail within `commandTimeoutMs` with StorageError (503); the
 * tail reconnects and goes on from the last seq it saw, so streams miss nothing. A script
 * that fails is a bug (ScriptError, 500). What runs in the background (the tail, the
 * sweep) logs its failures and shows them in `health()` until it works again.
 */
import { Redis } from "ioredis";
import {
  type AcceptedEvent,
  type AckResult,
  type Attributes,
  BacklogFullError,
  BatchTooLargeError,
  BrokerClosedError,
  type BrokerOptions,
  defaultBrokerOptions,
  type Delivery,
  type Engine,
  type EngineHealth,
  type EngineStats,
  type LogPage,
  MemoryBudget,
  NotRequiredError,
  type ParkedEvent,
  type PublishOptions,
  type PublishResult,
  type PullOptions,
  type RequiredSpec,
  RingHistory,
  type Selector,
  StorageError,
  type StreamSpec,
  type StreamSubscription,
  type SubscriberOptions,
  SubscriptionNotFoundError,
  type SubscriptionView,
  TooManyWaitingPullsError,
  ValidationError,
  viewOf,
} from "../../broker/mod.ts";
import { LiveFeed } from "../../broker/live-feed.ts";
import { isoTimeFormatter, prepareInputs, templatesOf } from "../../broker/publish-input.ts";
import type { PreparedEvent } from "../../broker/event.ts";
import { unitsFor } from "../../broker/unit.ts";
import { BackgroundFaults } from "./background-faults.ts";
import { RedisKeys } from "./keys.ts";
import { type KnownSubscription, RedisLedger } from "./redis-ledger.ts";
import { type LogReader, RedisHistory } from "./redis-history.ts";
import { eventsOf, RedisLog } from "./redis-log.ts";
import { failureOf } from "./redis-errors.ts";
import { type CallOrder, PublishQueue } from "./publish-queue.ts";
import { type PublishEvent, type PublishReply, Scripts } from "./scripts.ts";
import { orderOf, STREAM_VIEWS_EVERY_MS, StreamRegistry } from "./stream-registry.ts";

/** Settings of a Redis engine beyond the core's. */
export interface RedisEngineOptions extends Partial<BrokerOptions> {
  readonly url: string;
  /** Prefix of every key (`broker:`); all keys share one hash slot. */
  readonly prefix: string;
  /** Longest a call waits for Redis before it is refused (2 s). */
  readonly commandTimeoutMs?: number;
}

/** A publish waiting to be sent: its events as validated, and as the script takes them. */
interface QueuedPublish {
  readonly prepared: readonly PreparedEvent[];
  readonly events: readonly PublishEvent[];
}

/** A publish's reply, a refusal naming the subscription it would have overflowed. */
type RoutedReply = Exclude<PublishReply, { kind: "full" }> | { readonly kind: "full"; readonly sub: KnownSubscription };

interface Waiter {
  readonly id: string;
  readonly wake: () => void;
}

/** How long the tail goes on reading the log after the last stream or waiting pull here. */
const TAIL_GRACE_MS = 2_000;

/** Publishes routed with a version another instance changed meanwhile are routed again, this many times. */
const STALE_RETRIES = 8;

export class RedisEngine implements Engine {
  readonly #options: BrokerOptions & RedisEngineOptions;
  readonly #redis: Redis;
  readonly #tail: Redis;
  readonly #keys: RedisKeys;
  readonly #scripts: Scripts;
  readonly #ledger: RedisLedger;
  readonly #log: RedisLog;
  /** Streams and history of this instance, fed by the tail. */
  #memory: MemoryBudget;
  #local: LiveFeed;
  readonly #isoTimeOf = isoTimeFormatter();
  readonly #publishes = new PublishQueue<QueuedPublish, RoutedReply>((publishes, order) => this.#sendPublishes(publishes, order));
  readonly #waiters = new Set<Waiter>();
  #waitingPulls = 0;
  readonly #registry: StreamRegistry;
  /** The last control order read, so the tail reads each once. */
  #controlAfter = "0-0";
  #viewsWrittenAt = 0;
  #tailing: Promise<void> | undefined;
  /** The tail reads the control stream alone: no stream or waiting pull here needs the log. */
  #tailIdle = false;
  /** A wake order to this instance's idle tail is on its way. */
  #waking = false;
  /** When a stream or a waiting pull here last needed the log (ms, this process's clock). */
  #neededAt = 0;
  /** The highest seq this instance knows was given: read, published here, or seen by its sweep. */
  #lastSeqSeen = 0;
  #closed = false;
  /** Why a connection last failed, while it is down. */
  #failure: Error | undefined;
  readonly #faults = new BackgroundFaults();
  #cancelSweep: () => void = () => {};
  readonly #stats = { accepted: 0, duplicates: 0, requiredDeliveries: 0, redeliveries: 0, parked: 0 };

  private constructor(options: RedisEngineOptions) {
    this.#options = { ...defaultBrokerOptions, ...options };
    this.#keys = new RedisKeys(options.prefix);
    const connection = { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: options.commandTimeoutMs ?? 2_000, retryStrategy: (times: number) => Math.min(times * 100, 1_000) };
    this.#redis = new Redis(options.url, connection);
    this.#tail = new Redis(options.url, { ...connection, commandTimeout: undefined });
    for (const client of [this.#redis, this.#tail]) client.on("error", (error: Error) => (this.#failure = error));
    this.#scripts = new Scripts(this.#redis, this.#keys);
    this.#ledger = new RedisLedger(this.#redis, this.#keys, this.#scripts, this.#options);
    this.#log = new RedisLog(this.#redis, this.#keys, this.#scripts);
    [this.#memory, this.#local] = liveFeedOf(this.#options, this.#readLog);
    this.#registry = new StreamRegistry(this.#redis, this.#keys, crypto.randomUUID());
  }

  /** Connects, learns the subscriptions and the log's end, and starts tailing it. */
  static async open(options: RedisEngineOptions): Promise<RedisEngine> {
    const engine = new RedisEngine(options);
    try {
      await Promise.all([engine.#redis.connect(), engine.#tail.connect()]);
      await engine.#ledger.refresh();
      await engine.#redis.set(engine.#keys.calls(engine.#registry.instance), 0, "PX", 86_400_000); // its publish calls are numbered from here
      await engine.#loadHistory();
      const [lastOrder] = await engine.#redis.xrevrange(engine.#keys.control(), "+", "-", "COUNT", 1);
      engine.#controlAfter = lastOrder?.[0] ?? "0-0";
    } catch (error) {
      engine.#redis.disconnect();
      engine.#tail.disconnect();
      throw new StorageError(`cannot reach Redis at ${options.url}: ${(error as Error).message}`);
    }
    engine.#tailing = engine.#tailLog();
    engine.#sweepEvery();
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
    const prepared = prepareInputs(inputs, pathOf, this.#isoTimeOf(this.#options.clock.now()), this.#options.newId, allowTypes);
    const templates = templatesOf(prepared, (event) => pathOf(prepared.indexOf(event)));
    const events = prepared.map((event, index) => ({ ...templates[index], producerKey: event.producerId ? dedupeKeyOf(event.source, event.id) : "" }));
    const reply = await this.#publishes.enqueue({ prepared, events }, events.length);
    if (reply.kind === "full") throw new BacklogFullError(reply.sub.id, reply.sub.options.maxBacklog);
    return this.#publishResult(reply.first, reply.last, reply.duplicates.map(({ seq }) => seq));
  }

  /**
   * Publishes that arrived together, routed with the subscriptions as this instance knows
   * them, in one script call; refused as stale (the subscriptions changed, or the call
   * before it must go first), routed and sent again once the call before it was answered.
   */
  async #sendPublishes(publishes: readonly QueuedPublish[], order: CallOrder): Promise<RoutedReply[]> {
    const dedupe = { windowMs: this.#options.dedupeWindowMs, maxEntries: this.#options.dedupeMaxEntries };
    let after = order.after;
    for (let attempt = 0; attempt < STALE_RETRIES; attempt++) {
      const routed = publishes.map(({ prepared, events }) => ({ events, targets: this.#ledger.targetsOf(prepared) }));
      const calls = routed.map(({ events, targets }) => ({ events, targets: targets.map(([sub, indexes]) => ({ id: sub.id, maxBacklog: sub.options.maxBacklog, indexes })) }));
      const place = { instance: this.#registry.instance, number: order.number, after };
      const replies = await this.#scripts.publish(this.#ledger.version, this.#options.clock.now(), dedupe, place, calls);
      if (replies === "stale") {
        if (!(await order.previous)) after = null; // the call before failed: nothing to follow
        await this.#refresh();
        continue;
      }
      return replies.map((reply, index) => (reply.kind === "full" ? { kind: "full", sub: routed[index].targets[reply.target][0] } : reply));
    }
    throw new StorageError(`publishes were refused as stale ${STALE_RETRIES} times (subscriptions changing, or an earlier call of this instance not carried out); try again`);
  }

  #publishResult(first: number, last: number, duplicateSeqs: readonly number[]): PublishResult {
    const accepted = first > 0 ? last - first + 1 : 0;
    this.#seen(last);
    this.#stats.accepted += accepted;
    this.#stats.duplicates += duplicateSeqs.length;
    const base = accepted > 0 ? { accepted, first, last } : { accepted: 0, first: null, last: null };
    return duplicateSeqs.length > 0 ? { ...base, duplicates: duplicateSeqs.length, duplicateSeqs } : base;
  }

  async subscribe(spec: RequiredSpec, options: SubscriberOptions = {}): Promise<SubscriptionView> {
    if (this.#closed) throw new BrokerClosedError();
    const [id] = await this.#ledger.subscribe([spec], options.owner, this.#options.clock.now(), false);
    return this.describe(id);
  }

  async subscribeBatch(specs: readonly RequiredSpec[], options: SubscriberOptions = {}): Promise<SubscriptionView[]> {
    if (this.#closed) throw new BrokerClosedError();
    const ids = await this.#ledger.subscribe(specs, options.owner, this.#options.clock.now(), true);
    return Promise.all(ids.map((id) => this.describe(id)));
  }

  async openStream(spec: StreamSpec, options?: SubscriberOptions): Promise<StreamSubscription> {
    if (this.#closed) throw new BrokerClosedError();
    if (spec.since !== undefined || this.#tailIdle) await this.#catchUp();
    const stream = this.#local.open(spec, options?.owner);
    this.#wakeTail();
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

  /**
   * Follows the log to its end now, its last `historySize` events at most (the history
   * starts again there): a stream resumed just after a publish must find it here, though
   * the tail may not have read it yet, or may not have read the log at all for a while.
   */
  async #catchUp(): Promise<void> {
    const end = await this.#log.lastSeq();
    if (end <= this.#local.lastSeq) return;
    this.#follow(await this.#log.read(Math.max(this.#local.lastSeq + 1, end - this.#options.historySize + 1), end));
  }

  /**
   * The tail reads the log while this instance serves streams or waiting pulls, and for
   * `TAIL_GRACE_MS` after (a consumer that catches up waits, then pulls, then waits again):
   * else nobody here needs it read.
   */
  #readsLog(): boolean {
    if (this.#local.count > 0 || this.#waiters.size > 0) this.#neededAt = Date.now();
    return Date.now() - this.#neededAt < TAIL_GRACE_MS;
  }

  /** Has an idle tail read the log again at once, through an order to itself on the control stream. */
  #wakeTail(): void {
    if (!this.#tailIdle || this.#waking) return;
    this.#waking = true;
    void this.#registry.order({ op: "wake", to: this.#registry.instance }).catch(() => {}); // else it reads within a second
  }

  /**
   * The tail reads the log again after reading none of it: it catches up first, the last
   * `historySize` events at most (streams resume from that window, and a pull waiting on
   * what came meanwhile is woken by it).
   */
  async #resumeTail(): Promise<void> {
    this.#waking = false;
    await this.#catchUp();
  }

  async describe(id: string): Promise<SubscriptionView> {
    const local = this.#local.get(id);
    if (local) return viewOf(local);
    const required = await this.#ledger.describe(id, this.#waitingOn(id));
    if (required) return required;
    const stream = await this.#guard(this.#registry.find(id));
    if (!stream) throw new SubscriptionNotFoundError(id);
    return stream.view;
  }

  async list(): Promise<SubscriptionView[]> {
    const required = await this.#ledger.list((id) => this.#waitingOn(id));
    const streams = await this.#guard(this.#registry.others());
    return [...required, ...this.#local.list().map(viewOf), ...streams.map((stream) => stream.view)];
  }

  async remove(id: string, reason = "deleted"): Promise<boolean> {
    if (this.#local.close(id, reason)) {
      await this.#registry.delete(id).catch(() => {}); // else its view expires with this instance's others
      return true;
    }
    if (await this.#ledger.remove(id)) {
      await this.#subscriptionsChanged();
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
    if (await this.#ledger.setPaused(id, paused)) return this.describe(id);
    const stream = await this.#guard(this.#registry.find(id));
    if (!stream) throw new SubscriptionNotFoundError(id);
    await this.#guard(this.#registry.order({ op: "pause", to: stream.instance, id, paused }));
    return { ...stream.view, paused };
  }

  async pull(id: string, { max = 100, waitMs = 0, ack, signal }: PullOptions = {}): Promise<Delivery[]> {
    const sub = await this.#required(id);
    if (ack !== undefined) validSeq(ack);
    const deadline = this.#options.clock.now() + Math.min(waitMs, this.#options.maxWaitMs);
    let waiting = false;
    try {
      for (let acking = ack; ; acking = undefined) {
        const taken = await this.#take(sub, max, acking).catch((error) => {
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

  /** One round trip: acknowledges through `ack` first when given, and brings the events this instance does not keep. */
  async #take(sub: KnownSubscription, max: number, ack?: number): Promise<{ deliveries: Delivery[]; leaseEnd: number | undefined }> {
    const reply = await this.#ledger.take(sub, max, this.#options.clock.now(), ack, this.#local.lastSeq + 1);
    const brought = new Map(reply.entries.flatMap((entry) => eventsOf(entry).events).map((event) => [event.seq, event]));
    const events = await this.#events(reply.units.flatMap((unit) => unit.seqs), brought);
    const deliveries = reply.units.map((unit) => ({ events: unit.seqs.map((seq) => events.get(seq)!).filter(Boolean), deliveries: unit.deliveries }));
    for (const unit of deliveries) {
      this.#stats.requiredDeliveries += unit.events.length;
      if (unit.deliveries > 1) this.#stats.redeliveries += unit.events.length;
    }
    return { deliveries, leaseEnd: reply.leaseEnd };
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
      this.#wakeTail();
      signal?.addEventListener("abort", waiter.wake, { once: true });
      cancel = this.#options.clock.setTimer(waiter.wake, Math.max(0, ms));
    });
  }

  #wakeWaitersOf(id: string): void {
    for (const waiter of [...this.#waiters]) if (waiter.id === id) waiter.wake();
  }

  #waitingOn(id: string): number {
    let count = 0;
    for (const waiter of this.#waiters) if (waiter.id === id) count++;
    return count;
  }

  async ack(id: string, seq: number): Promise<AckResult> {
    return this.#settle("ack", id, seq);
  }

  async nack(id: string, seq: number): Promise<AckResult> {
    const result = await this.#settle("nack", id, seq);
    this.#wakeWaitersOf(id);
    return result;
  }

  async #settle(kind: "ack" | "nack", id: string, seq: number): Promise<AckResult> {
    await this.#required(id);
    return this.#ledger.settle(kind, id, validSeq(seq), this.#options.clock.now());
  }

  async extend(id: string, ms: number): Promise<number> {
    await this.#required(id);
    if (!Number.isSafeInteger(ms) || ms < 1) throw new ValidationError([{ path: "/ms", message: "must be a whole number of milliseconds, 1 or more" }]);
    const now = this.#options.clock.now();
    await this.#ledger.extend(id, now + ms, now);
    return now + ms;
  }

  async parked(id: string): Promise<readonly ParkedEvent[]> {
    if (this.#local.has(id)) return [];
    await this.#required(id);
    const parked = await this.#ledger.parked(id);
    const events = await this.#events(parked.map(([seq]) => seq));
    return parked.flatMap(([seq, deliveries]) => (events.has(seq) ? [{ event: events.get(seq)!, deliveries }] : []));
  }

  async read(afterSeq: number, max: number, selector: Selector): Promise<LogPage> {
    const lastSeq = await this.#log.lastSeq();
    const events = afterSeq >= lastSeq ? [] : await this.#log.read(afterSeq + 1, lastSeq, max);
    const first = events[0]?.seq ?? lastSeq + 1;
    const through = events.at(-1)?.seq ?? Math.max(afterSeq, lastSeq);
    const gap = first > afterSeq + 1 && afterSeq < lastSeq ? { from: afterSeq + 1, to: Math.min(first - 1, lastSeq) } : undefined;
    const selected = events.filter((event) => selector.selects(event.type, () => JSON.parse(event.json)));
    return { events: selected.map(({ seq, type, json, size }) => ({ seq, type, json, size })), through, lastSeq, ...(gap ? { gap } : {}) };
  }

  stats(): EngineStats {
    const local = this.#local;
    return { ...this.#stats, ...local.stats, lastSeq: Math.max(local.lastSeq, this.#lastSeqSeen), openStreams: local.count, streamHandedBytes: local.handedBytes, backgroundFailures: this.#faults.counts };
  }

  /**
   * Asks Redis (a frozen one keeps its connections open, so their state is not enough). The
   * last seq is the one this instance's streams have reached, or Redis's while it serves none.
   */
  async health(): Promise<EngineHealth> {
    const faults = this.#faults.current();
    const { failure, lastSeq } = await this.#reachable();
    return { serving: !this.#closed && !failure, lastSeq, ...(failure ? { storageFailure: failure } : {}), ...(faults.length > 0 ? { faults } : {}) };
  }

  async #reachable(): Promise<{ failure?: string; lastSeq: number }> {
    const local = this.#local.lastSeq;
    if (this.#tail.status !== "ready") return { failure: this.#failure?.message ?? `Redis is ${this.#tail.status}`, lastSeq: local };
    try {
      const shared = this.#seen(await this.#log.lastSeq());
      return { lastSeq: this.#tailIdle ? Math.max(local, shared) : local };
    } catch (error) {
      return { failure: (error as Error).message, lastSeq: local };
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
    const sub = await this.#ledger.find(id);
    if (sub) return sub;
    if (await this.#guard(this.#registry.find(id))) throw new NotRequiredError(id);
    throw new SubscriptionNotFoundError(id);
  }

  /** Learns the subscriptions again, and wakes the pulls waiting on ones removed elsewhere. */
  async #refresh(): Promise<void> {
    if (!(await this.#ledger.refresh())) return;
    for (const waiter of [...this.#waiters]) if (!this.#ledger.known.has(waiter.id)) waiter.wake();
  }

  /** Tells every instance the subscriptions changed, and learns them here. */
  async #subscriptionsChanged(): Promise<void> {
    await this.#guard(this.#registry.order({ op: "subscriptions-changed", to: "*" }));
    await this.#refresh();
  }

  /** Events by seq: those `found` already, those this instance's history keeps, and the rest read from the log. */
  async #events(seqs: readonly number[], found = new Map<number, AcceptedEvent>()): Promise<Map<number, AcceptedEvent>> {
    const missing: number[] = [];
    for (const seq of seqs) {
      if (found.has(seq)) continue;
      const event = this.#local.eventAt(seq);
      if (event) found.set(seq, event);
      else missing.push(seq);
    }
    for (const [from, to] of rangesOf(missing)) {
      for (const event of await this.#log.read(from, to)) found.set(event.seq, event);
    }
    return found;
  }

  /** Reads the last `historySize` events into this instance's history, so streams resume here as anywhere. */
  async #loadHistory(): Promise<void> {
    const end = await this.#log.lastSeq();
    if (end > 0) this.#follow(await this.#log.read(Math.max(1, end - this.#options.historySize + 1), end));
  }

  /**
   * The one blocking read of this instance: control orders, and while it serves streams or
   * waiting pulls, new events, in order, for them; after a failure, again from the last seq
   * seen. An instance serving neither does not read the log back (publishing, it would
   * read all it wrote): it catches up when it needs to.
   */
  async #tailLog(): Promise<void> {
    while (!this.#closed) {
      try {
        const reading = this.#readsLog();
        if (reading && this.#tailIdle) await this.#resumeTail();
        this.#tailIdle = !reading;
        const streams = reading ? [this.#keys.log(), this.#keys.control()] : [this.#keys.control()];
        const after = reading ? [`${this.#local.lastSeq}-0`, this.#controlAfter] : [this.#controlAfter];
        const answer = (await this.#tail.xread("COUNT", 1_000, "BLOCK", 1_000, "STREAMS", ...streams, ...after)) as [string, [string, string[]][]][] | null;
        if (!answer) await this.#startOverIfLogLost();
        for (const [stream, entries] of answer ?? []) {
          if (stream === this.#keys.log()) this.#follow(entries.flatMap((entry) => eventsOf(entry).events));
          else await this.#obey(entries);
        }
        this.#faults.cleared("tail");
      } catch (error) {
        if (this.#closed) return;
        this.#failure = error as Error;
        this.#faults.failed("tail", failureOf(error));
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
    [this.#memory, this.#local] = liveFeedOf(this.#options, this.#readLog);
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
      else if (order.op === "wake") continue; // its work is done: the tail's read returned
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
    const reached = unitsFor(events, this.#ledger.index, { skip: (sub) => sub.paused, filterOf: (sub) => sub.selector.filter, attributesOf });
    for (const sub of reached.keys()) this.#wakeWaitersOf(sub.id);
  }

  /** Expires idle subscriptions, keeps those with waiting pulls in use, trims the log, and writes this instance's streams' views. */
  async sweep(): Promise<void> {
    const now = this.#options.clock.now();
    if ((await this.#ledger.expire(now, new Set([...this.#waiters].map((waiter) => waiter.id)))) > 0) await this.#subscriptionsChanged();
    await this.#refresh();
    const lastSeq = this.#seen(await this.#log.lastSeq());
    await this.#log.trim(lastSeq, this.#options.retainEvents, now - this.#options.retainMs, await this.#ledger.oldestHeld());
    if (now - this.#viewsWrittenAt >= STREAM_VIEWS_EVERY_MS) {
      this.#viewsWrittenAt = now;
      await this.#guard(this.#registry.write(this.#local.list().map(viewOf)));
    }
  }

  /** Sweeps every `sweepIntervalMs`, a sweep at a time; a failing sweep is logged and shown in health until one succeeds. */
  #sweepEvery(): void {
    const run = async () => {
      try {
        await this.sweep();
        this.#faults.cleared("sweep");
      } catch (error) {
        this.#faults.failed("sweep", failureOf(error));
      }
    };
    const schedule = () => {
      if (this.#closed) return;
      this.#cancelSweep = this.#options.clock.setTimer(() => void run().finally(schedule), this.#options.sweepIntervalMs);
    };
    schedule();
  }

  /** Reads the log for streams resuming before this instance's window. */
  readonly #readLog: LogReader = (from, to, max, maxBytes) => this.#log.read(from, to, max, maxBytes);

  /** Notes a seq known to have been given; returns it. */
  #seen(seq: number): number {
    if (seq > this.#lastSeqSeen) this.#lastSeqSeen = seq;
    return seq;
  }

  /** Redis work done elsewhere, its failures said as failureOf says them. */
  async #guard<T>(work: Promise<T>): Promise<T> {
    try {
      return await work;
    } catch (error) {
      throw failureOf(error);
    }
  }
}

/** `seq`, when it is one an ack or nack may name. */
function validSeq(seq: number): number {
  if (!Number.isSafeInteger(seq) || seq < 0) throw new ValidationError([{ path: "/seq", message: "must be a whole number, 0 or more" }]);
  return seq;
}

/** A new memory budget, and the live feed of this instance counted in it, resuming streams from Redis beyond its window. */
function liveFeedOf(options: BrokerOptions, readLog: LogReader): [MemoryBudget, LiveFeed] {
  const memory = new MemoryBudget(options.memoryBudgetBytes);
  const log = new RedisHistory(new RingHistory(options.historySize, memory.parts.history), readLog, options.streamBufferBytes);
  return [memory, new LiveFeed({ ...options, log, streamsMemory: memory.parts.streams })];
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
