/**
 * The broker: every delivery rule lives here.
 *
 * - Each accepted event gets the next `seq`; that order is every subscriber's order.
 * - A publish (one event or a batch) is atomic: validated whole, checked against every
 *   required backlog, then accepted whole with consecutive seqs, or refused whole.
 * - Each event is routed by its own type, through an index of type patterns.
 * - Required subscribers get each publish's matching events as one unit, in order, and
 *   keep them until acknowledged; a publish that would overflow one is refused.
 * - An event whose producer (`source`, `id`) was accepted within `dedupeWindowMs` is not
 *   accepted again; the answer names the seq it already has.
 * - Delivered events are leased for `ackTimeoutMs`; once the oldest lease lapses, the next
 *   pull delivers again from the first unacknowledged event. `extend` moves the lease
 *   end; `nack` makes the next pull start again from a given seq.
 * - An event delivered `maxDeliveries` times without ack is parked: the ack point moves
 *   past it and it is kept, bounded, for inspection.
 * - Stream subscribers are offered each event; a full buffer drops it for that stream only.
 * - Everything the broker keeps is counted in a memory budget split into parts (see
 *   memory-budget.ts): a publish that would take required backlogs past their part is
 *   refused whole; history, dedupe and stream buffers give way instead.
 * - A paused subscriber is skipped: what is accepted meanwhile never reaches it.
 * - A required subscriber neither pulled nor acked for `expireAfterMs` is removed.
 * - With a journal, what one turn of the event loop changed is written to it in one commit
 *   at the turn's end (group commit, commit-group.ts): a publish takes effect only after
 *   it, and every change a caller waits on (`committed`) is in it; deliveries are written
 *   with the next commit. On start the broker is rebuilt from it.
 */
import type { Clock } from "./clock.ts";
import { systemClock } from "./clock.ts";
import { CommitGroup, type StagedPublish } from "./commit-group.ts";
import {
  BacklogFullError,
  BatchTooLargeError,
  BrokerClosedError,
  MemoryBudgetError,
  NeverDeliveredError,
  NotRequiredError,
  SubscriptionNotFoundError,
  TooManySubscriptionsError,
  TooManyWaitingPullsError,
  ValidationError,
} from "./errors.ts";
import { type DedupeKey, DedupeWindow } from "./dedupe-window.ts";
import type { AcceptedEvent, PreparedEvent } from "./event.ts";
import { type EventLog, JournaledHistory, type LogRead, RingHistory } from "./history.ts";
import type { Journal, JournalChanges, JournalEvent } from "./journal.ts";
import { ENTRY_BYTES, MemoryBudget } from "./memory-budget.ts";
import { type Delivery, RequiredSubscription } from "./required-subscription.ts";
import { Selector } from "./selector.ts";
import { LiveFeed } from "./live-feed.ts";
import type { StreamSubscription } from "./stream-subscription.ts";
import { type RequiredSpec, requiredSpecSchema, type StreamSpec } from "./subscription-spec.ts";
import { TypeIndex } from "./type-index.ts";
import type { Attributes } from "./filters.ts";
import { type Unit, unitsFor } from "./unit.ts";
import { parseOrThrow } from "./validate.ts";
import { encodeEvents, isoTimeFormatter, prepareInputs } from "./publish-input.ts";

export type Subscription = RequiredSubscription | StreamSubscription;

/** Settings of a broker; every field has the default shown. */
export interface BrokerOptions {
  /** Accepted events kept for resuming streams (10,000). */
  historySize: number;
  /** A stream's buffer, in events (1,024) and in bytes of JSON (1 MiB). */
  streamBuffer: number;
  streamBufferBytes: number;
  /** Most events in one batch (1,000). */
  maxBatch: number;
  /** Defaults of a required subscription: lease (30 s), backlog (100,000), idle expiry (10 min). */
  ackTimeoutMs: number;
  maxBacklog: number;
  expireAfterMs: number;
  /** Defaults of a required subscription: deliveries before parking (0 = unlimited), parked events kept (1,000). */
  maxDeliveries: number;
  maxParked: number;
  /** How long a producer's (`source`, `id`) pair is remembered (120 s; 0 = off), and at most how many (100,000). */
  dedupeWindowMs: number;
  dedupeMaxEntries: number;
  /** Longest a pull may wait for events (60 s). */
  maxWaitMs: number;
  /** Most bytes of event JSON one pull hands out (1 MiB); a published batch is never split, so one may exceed it. */
  maxPullBytes: number;
  /** Everything the broker keeps, in bytes (256 MiB), split into parts by `BUDGET_SHARES`. */
  memoryBudgetBytes: number;
  /** Most open streams (20,000) and required subscriptions (10,000). */
  maxStreams: number;
  maxRequired: number;
  /** Most pulls waiting for events at once (10,000); one more is refused. */
  maxWaitingPulls: number;
  /** How often idle required subscriptions are looked for (1 s). */
  sweepIntervalMs: number;
  clock: Clock;
  /** Makes ids for events without one and for subscriptions (random UUIDs). */
  newId: () => string;
  /** Where accepted events are kept for replay (a ring of `historySize`). */
  log?: EventLog;
  /** Where the broker's state is kept durable, and rebuilt from on start (none: memory only). */
  journal?: Journal;
  /**
   * Runs `callback` once the current turn of the event loop is over, after the I/O it
   * polled: a journal's commit of the turn's changes runs there (`setTimeout` 0; the
   * server passes `setImmediate`, about 8 µs in Bun and Deno where `setTimeout` 0 takes 1–2 ms).
   */
  afterTurn: (callback: () => void) => void;
  /** Events the journal keeps (1,000,000) and for how long (7 days), whichever ends first; what a required subscription holds is always kept. */
  retainEvents: number;
  retainMs: number;
}

export const defaultBrokerOptions: BrokerOptions = {
  historySize: 10_000,
  streamBuffer: 1_024,
  streamBufferBytes: 1_048_576,
  maxBatch: 1_000,
  ackTimeoutMs: 30_000,
  maxBacklog: 100_000,
  expireAfterMs: 600_000,
  maxDeliveries: 0,
  maxParked: 1_000,
  dedupeWindowMs: 120_000,
  dedupeMaxEntries: 100_000,
  maxWaitMs: 60_000,
  maxPullBytes: 1_048_576,
  memoryBudgetBytes: 268_435_456,
  maxStreams: 20_000,
  maxRequired: 10_000,
  maxWaitingPulls: 10_000,
  sweepIntervalMs: 1_000,
  retainEvents: 1_000_000,
  retainMs: 604_800_000,
  clock: systemClock,
  newId: () => crypto.randomUUID(),
  afterTurn: (callback) => void setTimeout(callback, 0),
};

/** Lifetime counters, read at scrape time by whoever reports metrics (the streams' are the live feed's). */
export interface BrokerStats {
  /** Events accepted, and events not accepted again as duplicates. */
  accepted: number;
  duplicates: number;
  /** Events handed to required subscribers (redeliveries included), of which redelivered, and parked. */
  requiredDeliveries: number;
  redeliveries: number;
  parked: number;
}

/** What a publish accepted: `first`..`last` are the seqs of its new events (null when none). */
export interface PublishResult {
  readonly accepted: number;
  readonly first: number | null;
  readonly last: number | null;
  /** Events already accepted within the dedupe window, and the seq each already has, in request order. */
  readonly duplicates?: number;
  readonly duplicateSeqs?: readonly number[];
}

export interface PublishOptions {
  /** Type patterns the caller may publish; any other type refuses the whole publish. */
  allowTypes?: readonly string[];
}

/** Who subscribes: set when access control is on. */
export interface SubscriberOptions {
  /** The caller owning the subscription (a token's `sub`). */
  owner?: string;
}

export interface PullOptions {
  /** Events wanted (100); a batch is never split, so more may come. */
  max?: number;
  /** How long to wait when nothing is ready (0 = answer at once), at most `maxWaitMs`. */
  waitMs?: number;
  /** Acknowledge through this seq before pulling. */
  ack?: number;
  /** Ends the wait, answering with no events. */
  signal?: AbortSignal;
}

export class Broker {
  readonly options: BrokerOptions;
  readonly #clock: Clock;
  /** What the broker keeps, counted against its budget; read by whoever reports metrics. */
  readonly memory: MemoryBudget;
  readonly #isoTimeOf = isoTimeFormatter();
  readonly #log: EventLog;
  /** History and streams. */
  readonly feed: LiveFeed;
  /** Required subscriptions. */
  readonly #subscriptions = new Map<string, RequiredSubscription>();
  readonly #requiredIndex = new TypeIndex<RequiredSubscription>();
  readonly #dedupe: DedupeWindow;
  readonly #journal: Journal | undefined;
  /** This turn's publishes and waiting callers, until their commit (with a journal). */
  #group: CommitGroup | undefined;
  /** Required subscriptions whose record, or parked list, the journal has not been told yet. */
  readonly #unsaved = new Set<RequiredSubscription>();
  readonly #parkedUnsaved = new Set<RequiredSubscription>();
  /** Removed subscriptions the journal still holds; of which those whose removal a commit refused. */
  readonly #removedUnsaved = new Set<string>();
  readonly #removalsRefused = new Set<string>();
  /** Subscriptions made since the last commit: a failed commit takes them away again. */
  readonly #unborn = new Set<RequiredSubscription>();
  #retryScheduled = false;
  /** Bumped whenever which required subscriptions take what may change (one made, removed, paused or resumed): a staged publish is routed again then. */
  #routing = 0;
  /** The journal's last failure, while it lasts: health reports it. */
  #storageFailure: Error | undefined;
  /** Lifetime counters; plain increments, nothing more, on the hot path. */
  readonly stats: BrokerStats = { accepted: 0, duplicates: 0, requiredDeliveries: 0, redeliveries: 0, parked: 0 };
  #lastSeq = 0;
  #waitingPulls = 0;
  #closed = false;
  #cancelSweep: () => void;

  constructor(options: Partial<BrokerOptions> = {}) {
    this.options = { ...defaultBrokerOptions, ...options };
    this.#clock = this.options.clock;
    this.memory = new MemoryBudget(this.options.memoryBudgetBytes);
    this.#journal = this.options.journal;
    const ring = new RingHistory(this.options.historySize, this.memory.parts.history);
    this.#log = this.options.log ?? (this.#journal ? new JournaledHistory(ring, this.#journal) : ring);
    this.feed = new LiveFeed({ ...this.options, log: this.#log, streamsMemory: this.memory.parts.streams });
    const dedupeMemory = this.memory.parts.dedupe;
    this.#dedupe = new DedupeWindow(this.options.dedupeWindowMs, this.options.dedupeMaxEntries, dedupeMemory.limit, dedupeMemory);
    if (this.#journal) this.#recover(this.#journal);
    this.#cancelSweep = this.#clock.setTimer(() => this.#sweep(), this.options.sweepIntervalMs);
  }

  /** The seq of the last accepted event (0 before any). */
  get lastSeq(): number {
    return this.#lastSeq;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Why the journal last failed to write, until it writes again; undefined when all is well. */
  get storageFailure(): Error | undefined {
    return this.#storageFailure;
  }

  /**
   * Accepts one event. Throws ValidationError (paths from the event's root),
   * ForbiddenTypeError (a type outside `allowTypes`), BacklogFullError, or
   * BrokerClosedError; nothing is accepted then. With a journal it commits at once, with
   * anything else staged in this turn, and throws StorageError when that commit fails.
   */
  send(event: unknown, options: PublishOptions = {}): PublishResult {
    return this.#publishNow(this.#stage([event], singlePath, options));
  }

  /**
   * Accepts a batch atomically, with consecutive seqs; each acknowledging subscriber gets
   * its matching events of the batch in one delivery. Throws as `send` (paths start with
   * the event's index), and BatchTooLargeError over `maxBatch`.
   */
  sendBatch(events: readonly unknown[], options: PublishOptions = {}): PublishResult {
    this.#checkBatch(events);
    return this.#publishNow(this.#stage(events, batchPath, options));
  }

  /**
   * As `send`, for callers that can wait: with a journal the publish joins this turn's
   * group commit and the promise settles after it, rejecting with StorageError when it
   * failed (nothing of the group accepted). A refusal by the checks throws at once.
   */
  sendGrouped(event: unknown, options: PublishOptions = {}): Promise<PublishResult> {
    return this.#publishGrouped(this.#stage([event], singlePath, options));
  }

  /** As `sendBatch`, answered as `sendGrouped`. */
  sendBatchGrouped(events: readonly unknown[], options: PublishOptions = {}): Promise<PublishResult> {
    this.#checkBatch(events);
    return this.#publishGrouped(this.#stage(events, batchPath, options));
  }

  #checkBatch(events: readonly unknown[]): void {
    if (events.length > this.options.maxBatch) throw new BatchTooLargeError(events.length, this.options.maxBatch);
    if (events.length === 0) throw new ValidationError([{ path: "", message: "the batch holds no events" }]);
  }

  #publishNow(publish: StagedPublish): PublishResult {
    if (!this.#journal) {
      this.#apply(publish);
      return publish.result;
    }
    const group = this.#openGroup();
    group.add(publish);
    this.#commit(group);
    if (group.failure) throw group.failure;
    return publish.result;
  }

  #publishGrouped(publish: StagedPublish): Promise<PublishResult> {
    if (!this.#journal) {
      this.#apply(publish);
      return Promise.resolve(publish.result);
    }
    const group = this.#openGroup();
    group.add(publish);
    return group.committed().then(() => publish.result);
  }

  /**
   * Checks a publish and gives its events their seqs, after those staged in this turn;
   * changes nothing but the dedupe window. Throws what `send` throws.
   */
  #stage(inputs: readonly unknown[], pathOf: (index: number) => string, { allowTypes }: PublishOptions): StagedPublish {
    if (this.#closed) throw new BrokerClosedError();
    const now = this.#clock.now(); // one reading per publish: the clock is not free
    const prepared = prepareInputs(inputs, pathOf, this.#isoTimeOf(now), this.options.newId, allowTypes);
    const first = this.#lastSeq + 1 + (this.#group?.events ?? 0);
    const { fresh, keys, duplicateSeqs } = this.#withoutDuplicates(prepared, now, first);
    // Encoding may still refuse an event, and the checks need each event's size: nothing is staged before both.
    const events = encodeEvents(fresh, first, (event) => pathOf(prepared.indexOf(event)));
    const attributesOf = (event: AcceptedEvent) => fresh[event.seq - first].attributes;
    const { required, bytes } = this.#checkRequired(events, attributesOf);
    // Remembered now, so later publishes of the turn see them; a failed commit forgets them again.
    const remembered = this.#remember(keys, first, now);
    const accepted = events.length > 0 ? { accepted: events.length, first, last: first + events.length - 1 } : { accepted: 0, first: null, last: null };
    const result = duplicateSeqs.length > 0 ? { ...accepted, duplicates: duplicateSeqs.length, duplicateSeqs } : accepted;
    return { events, first, keys, remembered, acceptedAt: now, attributesOf, required, routing: this.#routing, requiredBytes: bytes, duplicates: duplicateSeqs.length, result };
  }

  /** Makes a checked (and, with a journal, committed) publish take effect. */
  #apply(publish: StagedPublish): void {
    const { events, attributesOf } = publish;
    this.#lastSeq += events.length;
    this.feed.append(events, attributesOf);
    // Subscriptions made, removed, paused or resumed since it was staged take it as they now stand.
    this.#deliverToRequired(publish.routing === this.#routing ? publish.required : this.#routeRequired(events, attributesOf));
    this.stats.accepted += events.length;
    this.stats.duplicates += publish.duplicates;
  }

  /** Up to `max` kept events after `afterSeq` (in memory, or in the journal), and a gap where they are gone. */
  read(afterSeq: number, max: number): LogRead {
    return this.feed.read(afterSeq, max);
  }

  /**
   * Splits off events whose producer pair was seen in the window or earlier in this
   * request; `keys` holds each fresh event's dedupe key (undefined without a producer id).
   */
  #withoutDuplicates(prepared: readonly PreparedEvent[], now: number, first: number): { fresh: PreparedEvent[]; keys: (DedupeKey | undefined)[]; duplicateSeqs: number[] } {
    const fresh: PreparedEvent[] = [];
    const keys: (DedupeKey | undefined)[] = [];
    const duplicateSeqs: number[] = [];
    // Off (a window of 0), nothing is a duplicate, not even a pair repeated in one request.
    const remembers = this.options.dedupeWindowMs > 0;
    const preparedKeys = prepared.map((event) => (remembers && event.producerId ? DedupeWindow.keyOf(event.source, event.id) : undefined));
    this.#dedupe.preload(preparedKeys);
    // Hashes of this request's keys so far: a pair repeated in it repeats its hash.
    const requestHashes = prepared.length > 1 ? new Set<number>() : undefined;
    prepared.forEach((event, index) => {
      const key = preparedKeys[index];
      const seq = key === undefined ? undefined : (this.#dedupe.seqOf(key, now) ?? this.#seqInRequest(key, keys, requestHashes, first));
      if (seq !== undefined) {
        duplicateSeqs.push(seq);
        return;
      }
      fresh.push(event);
      keys.push(key);
      if (key !== undefined) requestHashes?.add(key.hash);
    });
    return { fresh, keys, duplicateSeqs };
  }

  /** The seq this request is giving an earlier event with the same pair, if any. */
  #seqInRequest(key: DedupeKey, freshKeys: readonly (DedupeKey | undefined)[], requestHashes: Set<number> | undefined, first: number): number | undefined {
    if (!requestHashes?.has(key.hash)) return undefined;
    const index = freshKeys.findIndex((other) => other !== undefined && DedupeWindow.samePair(other, key));
    return index === -1 ? undefined : first + index;
  }

  /** Returns how many pairs it remembered. */
  #remember(keys: readonly (DedupeKey | undefined)[], first: number, now: number): number {
    let remembered = 0;
    keys.forEach((key, index) => {
      if (key === undefined) return;
      this.#dedupe.remember(key, first + index, now);
      remembered++;
    });
    return remembered;
  }

  /**
   * What each required subscriber these events reach will take, and the bytes that adds,
   * after refusing the whole publish if one of them would hold more than its `maxBacklog`,
   * or their events more than the required part of the memory budget; what this turn
   * staged counts as held.
   */
  #checkRequired(events: readonly AcceptedEvent[], attributesOf: (event: AcceptedEvent) => Attributes): { required: Map<RequiredSubscription, Unit>; bytes: number } {
    const taken = this.#routeRequired(events, attributesOf);
    const group = this.#group;
    const units = new Set<Unit>();
    for (const [sub, unit] of taken) {
      if (sub.backlog + (group?.backlogOf(sub) ?? 0) + unit.count > sub.options.maxBacklog) {
        throw backlogFull([...taken].filter(([sub, unit]) => sub.backlog + (group?.backlogOf(sub) ?? 0) + unit.count > sub.options.maxBacklog).map(([sub]) => sub));
      }
      units.add(unit);
    }
    const bytes = [...units].reduce((sum, unit) => sum + unit.bytes, ENTRY_BYTES * taken.size);
    const memory = this.memory.parts.required;
    if (!memory.fits(bytes + (group?.requiredBytes ?? 0))) throw new MemoryBudgetError("required backlogs", memory.limit, largestBacklog([...taken.keys()])?.id);
    return { required: taken, bytes };
  }

  #routeRequired(events: readonly AcceptedEvent[], attributesOf: (event: AcceptedEvent) => Attributes): Map<RequiredSubscription, Unit> {
    return unitsFor(events, this.#requiredIndex, { skip: (sub) => sub.paused, filterOf: (sub) => sub.selector.filter, attributesOf });
  }

  #deliverToRequired(deliveries: Map<RequiredSubscription, Unit>): void {
    for (const [sub, unit] of deliveries) {
      sub.enqueue(unit);
      this.#serveWaiters(sub);
    }
  }

  /**
   * Opens a subscription. Streams see events accepted from now on, after a replay of the
   * kept history following `since` when given; required ones see events from now on
   * (with a journal, from the next commit on, which writes them: see `committed`).
   * Throws ValidationError for a bad spec, TooManySubscriptionsError past the limits.
   */
  subscribe(spec: { kind: "stream" } & StreamSpec, options?: SubscriberOptions): StreamSubscription;
  subscribe(spec: { kind: "required" } & RequiredSpec, options?: SubscriberOptions): RequiredSubscription;
  subscribe(spec: ({ kind: "stream" } & StreamSpec) | ({ kind: "required" } & RequiredSpec), options?: SubscriberOptions): Subscription;
  subscribe(spec: ({ kind: "stream" } & StreamSpec) | ({ kind: "required" } & RequiredSpec), options: SubscriberOptions = {}): Subscription {
    if (this.#closed) throw new BrokerClosedError();
    const { kind, ...rest } = spec;
    if (kind === "stream") return this.feed.open(rest, options.owner);
    const sub = this.#newRequired(rest);
    sub.owner = options.owner;
    this.#add(sub);
    this.#born([sub]);
    return sub;
  }

  /** Opens several required subscriptions at once: all of them, or none. */
  subscribeBatch(specs: readonly RequiredSpec[], options: SubscriberOptions = {}): RequiredSubscription[] {
    if (this.#closed) throw new BrokerClosedError();
    specs.forEach((spec, index) => parseOrThrow(requiredSpecSchema, spec, `/${index}`));
    if (this.#subscriptions.size + specs.length > this.options.maxRequired) {
      throw new TooManySubscriptionsError("required", this.options.maxRequired);
    }
    const subs = specs.map((spec) => this.#newRequired(spec));
    for (const sub of subs) sub.owner = options.owner;
    subs.forEach((sub) => this.#add(sub));
    this.#born(subs);
    return subs;
  }

  #add(sub: RequiredSubscription): void {
    this.#subscriptions.set(sub.id, sub);
    this.#requiredIndex.add(sub, sub.types);
    this.#routing++;
  }

  /** New required subscriptions, written with the next commit; should it fail, they go away again (their makers are told it failed). */
  #born(subs: readonly RequiredSubscription[]): void {
    if (!this.#journal) return;
    for (const sub of subs) {
      this.#unborn.add(sub);
      this.#progressed(sub);
    }
  }

  #newRequired(spec: RequiredSpec): RequiredSubscription {
    const { types, filters, name, ...options } = parseOrThrow(requiredSpecSchema, spec);
    if (this.#subscriptions.size >= this.options.maxRequired) {
      throw new TooManySubscriptionsError("required", this.options.maxRequired);
    }
    const { ackTimeoutMs, maxBacklog, expireAfterMs, maxDeliveries, maxParked } = { ...this.options, ...options };
    const settings = { ackTimeoutMs, maxBacklog, expireAfterMs, maxDeliveries, maxParked };
    const selector = new Selector(types, filters);
    return new RequiredSubscription(this.options.newId(), name, selector, this.#clock.now(), settings, this.#lastSeq, this.memory.parts.required);
  }

  /**
   * Removes a subscription: a stream is closed (its reader gets a closing notice with
   * `reason`), a required one's backlog is released and its waiting pulls answered.
   * Returns false when there is no such subscription.
   */
  unsubscribe(id: string, reason = "deleted"): boolean {
    const sub = this.#subscriptions.get(id);
    if (!sub) return this.feed.close(id, reason) || this.#removalPending(id);
    if (this.#journal) {
      this.#unsaved.delete(sub);
      this.#parkedUnsaved.delete(sub);
      this.#unborn.delete(sub);
      this.#removedUnsaved.add(id);
      this.#openGroup();
    }
    this.#detach(sub);
    return true;
  }

  /** Whether `id` was removed in memory but a commit refused its removal: the caller (that one, trying again) waits for the next commit, as the first did. */
  #removalPending(id: string): boolean {
    if (!this.#removalsRefused.has(id)) return false;
    this.#openGroup();
    return true;
  }

  /** Takes a required subscription out of the broker's memory: its backlog released, its waiting pulls answered. */
  #detach(sub: RequiredSubscription): void {
    this.#subscriptions.delete(sub.id);
    this.#requiredIndex.remove(sub, sub.types);
    this.#routing++;
    sub.clear();
    for (const waiter of sub.waiters.splice(0)) waiter.deliver([]);
  }

  has(id: string): boolean {
    return this.#subscriptions.has(id) || this.feed.has(id);
  }

  /** Throws SubscriptionNotFoundError for an unknown id. */
  get(id: string): Subscription {
    const sub = this.#subscriptions.get(id) ?? this.feed.get(id);
    if (!sub) throw new SubscriptionNotFoundError(id);
    return sub;
  }

  /** Required subscriptions first, then streams. */
  list(): Subscription[] {
    return [...this.#subscriptions.values(), ...this.feed.list()];
  }

  /** Pauses (skips) or resumes a subscription. */
  setPaused(id: string, paused: boolean): Subscription {
    const sub = this.get(id);
    if (sub.kind === "stream") {
      sub.paused = paused;
      return sub;
    }
    if (paused !== sub.paused) this.#routing++;
    sub.setPaused(paused, this.#lastSeq);
    // Written by the next commit, which every publish of this turn waits for: what is accepted while paused never reaches it, even after a restart.
    this.#progressed(sub);
    return sub;
  }

  /**
   * Acknowledges everything through `seq` (cumulative). Below the ack point it is a
   * no-op; beyond the last delivered seq it throws NeverDeliveredError.
   */
  ack(id: string, seq: number): RequiredSubscription {
    const sub = this.#deliveredSeq(id, seq);
    sub.ackThrough(seq);
    this.#progressed(sub);
    return sub;
  }

  /**
   * Makes the next pull deliver again from `seq` (a negative acknowledgement). Below the
   * ack point it is a no-op; beyond the last delivered seq it throws NeverDeliveredError.
   */
  nack(id: string, seq: number): RequiredSubscription {
    const sub = this.#deliveredSeq(id, seq);
    if (seq > sub.ackedSeq) sub.redeliverFrom(seq);
    this.#progressed(sub);
    this.#serveWaiters(sub);
    return sub;
  }

  /** Extends the lease of everything delivered and unacked to `ms` from now; returns its end. */
  extend(id: string, ms: number): number {
    const sub = this.#required(id);
    if (!Number.isSafeInteger(ms) || ms < 1) throw new ValidationError([{ path: "/ms", message: "must be a whole number of milliseconds, 1 or more" }]);
    const leaseExpiresAt = this.#clock.now() + ms;
    sub.lapseLeases(this.#clock.now()); // a lease that has lapsed is not brought back: what it covered is due again
    sub.extendLeases(leaseExpiresAt);
    sub.lastPulledAt = this.#clock.now();
    this.#progressed(sub);
    return leaseExpiresAt;
  }

  /** The required subscription `id`, after checking `seq` was delivered to it. */
  #deliveredSeq(id: string, seq: number): RequiredSubscription {
    const sub = this.#required(id);
    if (!Number.isSafeInteger(seq) || seq < 0) throw new ValidationError([{ path: "/seq", message: "must be a whole number, 0 or more" }]);
    if (seq > sub.lastDeliveredSeq) throw new NeverDeliveredError(seq, sub.lastDeliveredSeq);
    sub.lastPulledAt = this.#clock.now();
    return sub;
  }

  /**
   * Takes the next deliveries of a required subscription: at once when events are
   * ready, else when one arrives, a lease lapses, or `waitMs` passes (then none).
   * Throws TooManyWaitingPullsError when it would wait and `maxWaitingPulls` already do.
   */
  pull(id: string, { max = 100, waitMs = 0, ack, signal }: PullOptions = {}): Promise<Delivery[]> {
    const sub = this.#required(id);
    if (ack !== undefined) this.ack(id, ack);
    sub.lastPulledAt = this.#clock.now();
    const ready = this.#take(sub, max);
    if (ready.length > 0 || waitMs <= 0 || this.#closed || signal?.aborted) return Promise.resolve(ready);
    if (this.#waitingPulls >= this.options.maxWaitingPulls) throw new TooManyWaitingPullsError(this.options.maxWaitingPulls);
    this.#waitingPulls++;
    return this.#wait(sub, max, Math.min(waitMs, this.options.maxWaitMs), signal).finally(() => this.#waitingPulls--);
  }

  #wait(sub: RequiredSubscription, max: number, waitMs: number, signal?: AbortSignal): Promise<Delivery[]> {
    const deadline = this.#clock.now() + waitMs;
    return new Promise((resolve) => {
      let cancelTimer = () => {};
      const waiter = {
        max,
        deliver: (deliveries: Delivery[]) => {
          cancelTimer();
          signal?.removeEventListener("abort", onAbort);
          const index = sub.waiters.indexOf(waiter);
          if (index !== -1) sub.waiters.splice(index, 1);
          sub.lastPulledAt = this.#clock.now();
          resolve(deliveries);
        },
      };
      const onAbort = () => waiter.deliver([]);
      const arm = () => {
        const wakeAt = Math.min(deadline, sub.oldestLeaseExpiresAt() ?? Infinity);
        cancelTimer = this.#clock.setTimer(onTimer, Math.max(0, wakeAt - this.#clock.now()));
      };
      const onTimer = () => {
        const deliveries = this.#take(sub, max);
        if (deliveries.length > 0 || this.#clock.now() >= deadline) waiter.deliver(deliveries);
        else arm();
      };
      sub.waiters.push(waiter);
      signal?.addEventListener("abort", onAbort, { once: true });
      arm();
    });
  }

  #take(sub: RequiredSubscription, max: number): Delivery[] {
    const now = this.#clock.now();
    sub.lapseLeases(now);
    const { delivered, redelivered, parkedCount } = sub;
    const deliveries = sub.take({ maxEvents: Math.max(1, max), maxBytes: this.options.maxPullBytes }, now + sub.options.ackTimeoutMs);
    this.stats.requiredDeliveries += sub.delivered - delivered;
    this.stats.redeliveries += sub.redelivered - redelivered;
    this.stats.parked += sub.parkedCount - parkedCount;
    // Even an empty take moved `lastPulledAt`, which expiry reads after a restart.
    this.#progressed(sub, sub.parkedCount !== parkedCount);
    return deliveries;
  }

  /**
   * Notes that a required subscription changed (made, acked, delivered, parked, paused):
   * the journal is told of every subscription that did, with this turn's commit. Callers
   * answered for a change wait for that commit (`committed`); a crash before it costs
   * deliveries again, never an answered change.
   */
  #progressed(sub: RequiredSubscription, parkedChanged = false): void {
    if (!this.#journal) return;
    this.#unsaved.add(sub);
    if (parkedChanged) this.#parkedUnsaved.add(sub);
    this.#openGroup();
  }

  /**
   * The commit of every change made so far, for a caller to answer after it: it settles
   * once they are in the journal, and rejects with StorageError when that commit fails.
   * Undefined when there is nothing to wait for: no journal, or everything committed.
   */
  committed(): Promise<void> | undefined {
    if (!this.#journal || (!this.#group && !this.#hasUnsaved())) return undefined;
    return this.#openGroup().committed();
  }

  #hasUnsaved(): boolean {
    return this.#unsaved.size + this.#parkedUnsaved.size + this.#removedUnsaved.size > 0;
  }

  /** This turn's group, opened by its first change: its commit runs when the turn is over. */
  #openGroup(): CommitGroup {
    if (this.#group) return this.#group;
    const group = (this.#group = new CommitGroup());
    this.options.afterTurn(() => this.#commit(group));
    return group;
  }

  /**
   * Writes the group's publishes and every unsaved change in one commit, then applies the
   * publishes, in the order staged, and answers the group. Failing, it applies none of
   * them and forgets the producer pairs they remembered, takes away the subscriptions made
   * since the last commit, keeps the other changes unsaved (tried again within a second)
   * and refuses the group with the error.
   */
  #commit(group: CommitGroup): void {
    if (this.#group !== group) return; // committed already, by a `send` of the same turn
    this.#group = undefined;
    try {
      this.#journal!.commit(this.#unsavedChanges(group));
    } catch (error) {
      this.#storageFailure = error as Error;
      this.#dedupe.forgetNewest(group.remembered);
      for (const sub of this.#unborn) this.#forget(sub);
      for (const id of this.#removedUnsaved) this.#removalsRefused.add(id);
      group.settle(error as Error);
      this.#retrySoon();
      return;
    }
    this.#unsaved.clear();
    this.#parkedUnsaved.clear();
    this.#removedUnsaved.clear();
    this.#removalsRefused.clear();
    this.#unborn.clear();
    this.#storageFailure = undefined;
    try {
      for (const publish of group.publishes) this.#apply(publish);
    } finally {
      group.settle(); // committed: their callers are answered whatever happens here
    }
  }

  #unsavedChanges(group: CommitGroup): JournalChanges {
    return {
      publishes: group.publishes.map(journalEvents),
      subscriptions: [...this.#unsaved].map((sub) => sub.record(sub.owner)),
      removed: [...this.#removedUnsaved],
      parked: [...this.#parkedUnsaved].map((sub) => ({ subscriptionId: sub.id, events: sub.parked.map(({ event, deliveries }) => ({ subscriptionId: sub.id, event, deliveries })) })),
    };
  }

  /** A subscription whose making was never committed: nobody was given its id, so it simply goes. */
  #forget(sub: RequiredSubscription): void {
    this.#unborn.delete(sub);
    this.#unsaved.delete(sub);
    this.#parkedUnsaved.delete(sub);
    this.#detach(sub);
  }

  /** Tries unsaved changes again after a failed commit, even when nothing else happens meanwhile. */
  #retrySoon(): void {
    if (this.#retryScheduled || this.#closed || !this.#hasUnsaved()) return;
    this.#retryScheduled = true;
    this.#clock.setTimer(() => {
      this.#retryScheduled = false;
      if (!this.#closed && this.#hasUnsaved()) this.#openGroup();
    }, 1_000);
  }

  /** Bytes stream readers handed on to their runtime and have not come back for (at most one write each). */
  get streamHandedBytes(): number {
    return this.feed.handedBytes;
  }

  /** Open streams now. */
  get streamCount(): number {
    return this.feed.count;
  }

  #serveWaiters(sub: RequiredSubscription): void {
    while (sub.waiters.length > 0 && sub.hasUndelivered()) {
      const waiter = sub.waiters[0];
      waiter.deliver(this.#take(sub, waiter.max));
    }
  }

  #required(id: string): RequiredSubscription {
    const sub = this.get(id);
    if (sub.kind !== "required") throw new NotRequiredError(id);
    return sub;
  }

  #sweep(): void {
    this.sweep();
    this.#cancelSweep = this.#clock.setTimer(() => this.#sweep(), this.options.sweepIntervalMs);
  }

  /** Removes required subscribers idle for their `expireAfterMs`, and applies retention; done every `sweepIntervalMs`. */
  sweep(): void {
    const now = this.#clock.now();
    try {
      for (const sub of this.#subscriptions.values()) {
        if (sub.options.expireAfterMs === 0 || sub.waiters.length > 0) continue;
        if (now - sub.lastPulledAt >= sub.options.expireAfterMs) this.unsubscribe(sub.id, "expired");
      }
      if (this.#journal) this.#trim(this.#journal, now);
    } catch (error) {
      this.#storageFailure = error as Error; // tried again on the next sweep
    }
  }

  /**
   * Removes from the journal what retention lets go (`retainEvents`, `retainMs`), never
   * an event a required subscription still holds, in steps short enough that publishes
   * never wait long behind it.
   */
  #trim(journal: Journal, now: number): void {
    // Whichever bound is reached first: past either, an event goes.
    let before = Math.max(this.#lastSeq + 1 - this.options.retainEvents, journal.firstSeqSince(now - this.options.retainMs));
    for (const sub of this.#subscriptions.values()) {
      before = Math.min(before, sub.oldestHeldSeq() ?? before);
    }
    const started = this.#clock.now();
    while (journal.trim(before, TRIM_STEP_EVENTS) >= TRIM_STEP_EVENTS && this.#clock.now() - started < TRIM_STEP_MS);
  }

  /**
   * Rebuilds the broker from its journal: the last seq, the history window, the dedupe
   * window, and every required subscription with what it is owed after its ack point
   * (delivered or not before, it comes again, its `deliveries` counting on), and parked.
   */
  #recover(journal: Journal): void {
    const state = journal.recover();
    this.#lastSeq = state.lastSeq;
    const windowStart = Math.max(0, state.lastSeq - this.options.historySize);
    this.#log.append(journal.readAfter(windowStart, this.options.historySize));
    this.feed.resumeAt(state.lastSeq);
    for (const event of state.recentProducers(this.#clock.now() - this.options.dedupeWindowMs, this.options.dedupeMaxEntries)) {
      if (event.producer) this.#dedupe.remember(DedupeWindow.keyOf(event.producer.source, event.producer.id), event.seq, event.acceptedAt);
    }
    const subs = state.subscriptions.map((record) => {
      const sub = RequiredSubscription.restore(record, this.memory.parts.required);
      sub.owner = record.owner;
      this.#add(sub);
      return sub;
    });
    this.#requeue(journal, subs);
    for (const { subscriptionId, event, deliveries } of state.parked) {
      this.#subscriptions.get(subscriptionId)?.restoreParked([{ event, deliveries }]);
    }
  }

  /** Gives restored subscriptions what they are owed, reading the journal once, a publish at a time. */
  #requeue(journal: Journal, subs: readonly RequiredSubscription[]): void {
    if (subs.length === 0) return;
    const from = Math.min(...subs.map((sub) => sub.ackedSeq)) + 1;
    let batch: JournalEvent[] = [];
    const deliver = () => {
      const first = batch[0].seq;
      const last = batch[batch.length - 1].seq;
      const parsed = new Map<number, Attributes>();
      const attributesOf = (event: AcceptedEvent) => parsed.get(event.seq) ?? parsed.set(event.seq, JSON.parse(event.json)).get(event.seq)!;
      const skip = (sub: RequiredSubscription) => last <= sub.ackedSeq || sub.skipped(first);
      for (const [sub, unit] of unitsFor(batch, this.#requiredIndex, { skip, filterOf: (sub) => sub.selector.filter, attributesOf })) sub.requeue(unit);
      batch = [];
    };
    for (const event of journal.scan(from, this.#lastSeq)) {
      if (batch.length > 0 && event.batch !== batch[0].batch) deliver();
      batch.push(event);
    }
    if (batch.length > 0) deliver();
    for (const sub of subs) sub.settle();
  }

  /**
   * Stops the broker: streams get a closing notice, waiting pulls are answered, and
   * nothing more is accepted. Required subscriptions stay as they are (in the journal,
   * when there is one, for the next start).
   */
  close(reason = "shutdown"): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#cancelSweep();
    // What this turn staged and changed is committed (and answered) first: a clean stop loses none of it.
    if (this.#journal && (this.#group || this.#hasUnsaved())) this.#commit(this.#openGroup());
    this.feed.closeAll(reason);
    for (const sub of this.#subscriptions.values()) for (const waiter of sub.waiters.splice(0)) waiter.deliver([]);
  }
}

/** Retention removes at most this many events per step, and steps for at most this long per sweep. */
const TRIM_STEP_EVENTS = 1_000;
const TRIM_STEP_MS = 10;

const singlePath = () => "";
const batchPath = (index: number) => `/${index}`;

function journalEvents({ events, first, acceptedAt, keys }: StagedPublish): JournalEvent[] {
  return events.map((event, index) => journalEvent(event, first, acceptedAt, keys[index]));
}

function journalEvent(event: AcceptedEvent, batch: number, acceptedAt: number, key: DedupeKey | undefined): JournalEvent {
  return key ? { ...event, batch, acceptedAt, producer: { source: key.source, id: key.id } } : { ...event, batch, acceptedAt };
}

/** The refusal of a publish that would overflow these subscriptions: it names the one made first (then the least id), whatever engine decides. */
export function backlogFull(full: readonly { id: string; created: number; options: { maxBacklog: number } }[]): BacklogFullError {
  const [first] = [...full].sort(byCreation);
  return new BacklogFullError(first.id, first.options.maxBacklog);
}

/** Subscriptions in the order they were made; ties (the same millisecond) by id. */
export function byCreation(a: { id: string; created: number }, b: { id: string; created: number }): number {
  return a.created - b.created || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

function largestBacklog(subs: readonly RequiredSubscription[]): RequiredSubscription | undefined {
  return subs.reduce<RequiredSubscription | undefined>((largest, sub) => (largest && largest.backlog >= sub.backlog ? largest : sub), undefined);
}

