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
 * - A paused subscriber is skipped: what is accepted meanwhile never reaches it.
 * - A required subscriber neither pulled nor acked for `expireAfterMs` is removed.
 */
import type { Clock } from "./clock.ts";
import { systemClock } from "./clock.ts";
import {
  BacklogFullError,
  BatchTooLargeError,
  BrokerClosedError,
  ForbiddenTypeError,
  NeverDeliveredError,
  NotRequiredError,
  SubscriptionNotFoundError,
  TooManySubscriptionsError,
  TooManyWaitingPullsError,
  ValidationError,
} from "./errors.ts";
import { type DedupeKey, DedupeWindow } from "./dedupe-window.ts";
import { type AcceptedEvent, acceptEvent, jsonBytes, type PreparedEvent, prepareEvent, validateEvents } from "./event.ts";
import { type EventLog, RingHistory } from "./history.ts";
import { type Delivery, RequiredSubscription } from "./required-subscription.ts";
import { StreamSubscription } from "./stream-subscription.ts";
import { type RequiredSpec, requiredSpecSchema, type StreamSpec, streamSpecSchema } from "./subscription-spec.ts";
import { TypeIndex } from "./type-index.ts";
import { matchesAny } from "./type-pattern.ts";
import { parseOrThrow } from "./validate.ts";

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
  maxStreams: 20_000,
  maxRequired: 10_000,
  maxWaitingPulls: 10_000,
  sweepIntervalMs: 1_000,
  clock: systemClock,
  newId: () => crypto.randomUUID(),
};

/** Lifetime counters, read at scrape time by whoever reports metrics. */
export interface BrokerStats {
  /** Events accepted, and events not accepted again as duplicates. */
  accepted: number;
  duplicates: number;
  /** Events taken into stream buffers, and events dropped by full ones. */
  streamDeliveries: number;
  drops: number;
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
  #isoTime = { ms: Number.NaN, text: "" };
  readonly #log: EventLog;
  readonly #subscriptions = new Map<string, Subscription>();
  readonly #requiredIndex = new TypeIndex<RequiredSubscription>();
  readonly #streamIndex = new TypeIndex<StreamSubscription>();
  readonly #dedupe: DedupeWindow;
  /** Lifetime counters; plain increments, nothing more, on the hot path. */
  readonly stats: BrokerStats = { accepted: 0, duplicates: 0, streamDeliveries: 0, drops: 0, requiredDeliveries: 0, redeliveries: 0, parked: 0 };
  #lastSeq = 0;
  #streamCount = 0;
  #waitingPulls = 0;
  #closed = false;
  #cancelSweep: () => void;

  constructor(options: Partial<BrokerOptions> = {}) {
    this.options = { ...defaultBrokerOptions, ...options };
    this.#clock = this.options.clock;
    this.#log = this.options.log ?? new RingHistory(this.options.historySize);
    this.#dedupe = new DedupeWindow(this.options.dedupeWindowMs, this.options.dedupeMaxEntries);
    this.#cancelSweep = this.#clock.setTimer(() => this.#sweep(), this.options.sweepIntervalMs);
  }

  /** The seq of the last accepted event (0 before any). */
  get lastSeq(): number {
    return this.#lastSeq;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Accepts one event. Throws ValidationError (paths from the event's root),
   * ForbiddenTypeError (a type outside `allowTypes`), BacklogFullError, or
   * BrokerClosedError; nothing is accepted then.
   */
  send(event: unknown, options: PublishOptions = {}): PublishResult {
    return this.#publish([event], () => "", options);
  }

  /**
   * Accepts a batch atomically, with consecutive seqs; each acknowledging subscriber gets
   * its matching events of the batch in one delivery. Throws as `send` (paths start with
   * the event's index), and BatchTooLargeError over `maxBatch`.
   */
  sendBatch(events: readonly unknown[], options: PublishOptions = {}): PublishResult {
    if (events.length > this.options.maxBatch) throw new BatchTooLargeError(events.length, this.options.maxBatch);
    if (events.length === 0) throw new ValidationError([{ path: "", message: "the batch holds no events" }]);
    return this.#publish(events, (index) => `/${index}`, options);
  }

  #publish(inputs: readonly unknown[], pathOf: (index: number) => string, { allowTypes }: PublishOptions): PublishResult {
    if (this.#closed) throw new BrokerClosedError();
    const now = this.#clock.now(); // one reading per publish: the clock is not free
    const prepared = this.#prepare(inputs, pathOf, now);
    if (allowTypes) checkAllowed(prepared, allowTypes, pathOf);
    const { fresh, keys, duplicateSeqs } = this.#withoutDuplicates(prepared, now);
    this.#checkBacklogs(fresh);
    const first = this.#lastSeq + 1;
    // Encoding may still refuse an event, so nothing changes before every one has encoded.
    const events = encodeAll(fresh, first, (event) => pathOf(prepared.indexOf(event)));
    this.#lastSeq += events.length;
    this.#remember(keys, first, now);
    this.#log.append(events);
    this.#deliverToRequired(events);
    this.#offerToStreams(events);
    this.stats.accepted += events.length;
    this.stats.duplicates += duplicateSeqs.length;
    const accepted = events.length > 0 ? { accepted: events.length, first, last: this.#lastSeq } : { accepted: 0, first: null, last: null };
    return duplicateSeqs.length > 0 ? { ...accepted, duplicates: duplicateSeqs.length, duplicateSeqs } : accepted;
  }

  /**
   * Splits off events whose producer pair was seen in the window or earlier in this
   * request; `keys` holds each fresh event's dedupe key (undefined without a producer id).
   */
  #withoutDuplicates(prepared: readonly PreparedEvent[], now: number): { fresh: PreparedEvent[]; keys: (DedupeKey | undefined)[]; duplicateSeqs: number[] } {
    const fresh: PreparedEvent[] = [];
    const keys: (DedupeKey | undefined)[] = [];
    const duplicateSeqs: number[] = [];
    const preparedKeys = prepared.map((event) => (event.producerId ? DedupeWindow.keyOf(event.source, event.id) : undefined));
    this.#dedupe.preload(preparedKeys);
    // Hashes of this request's keys so far: a pair repeated in it repeats its hash.
    const requestHashes = prepared.length > 1 ? new Set<number>() : undefined;
    prepared.forEach((event, index) => {
      const key = preparedKeys[index];
      const seq = key === undefined ? undefined : (this.#dedupe.seqOf(key, now) ?? this.#seqInRequest(key, keys, requestHashes));
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
  #seqInRequest(key: DedupeKey, freshKeys: readonly (DedupeKey | undefined)[], requestHashes: Set<number> | undefined): number | undefined {
    if (!requestHashes?.has(key.hash)) return undefined;
    const index = freshKeys.findIndex((other) => other !== undefined && DedupeWindow.samePair(other, key));
    return index === -1 ? undefined : this.#lastSeq + index + 1;
  }

  #remember(keys: readonly (DedupeKey | undefined)[], first: number, now: number): void {
    keys.forEach((key, index) => {
      if (key !== undefined) this.#dedupe.remember(key, first + index, now);
    });
  }

  #prepare(inputs: readonly unknown[], pathOf: (index: number) => string, now: number): PreparedEvent[] {
    const valid = validateEvents(inputs, pathOf);
    const nowIso = this.#isoTimeOf(now);
    return valid.map((input) => prepareEvent(input, nowIso, this.options.newId));
  }

  /** The default `time` of events: formatted once per millisecond, not once per publish. */
  #isoTimeOf(now: number): string {
    if (now !== this.#isoTime.ms) this.#isoTime = { ms: now, text: new Date(now).toISOString() };
    return this.#isoTime.text;
  }

  /** Refuses the whole publish if any required subscriber would hold too many events. */
  #checkBacklogs(events: readonly PreparedEvent[]): void {
    const added = this.#byRequiredSubscriber(events, () => 0, (count) => count + 1);
    for (const [sub, count] of added ?? []) {
      if (sub.backlog + count > sub.options.maxBacklog) throw new BacklogFullError(sub.id, sub.options.maxBacklog);
    }
  }

  #deliverToRequired(events: readonly AcceptedEvent[]): void {
    const units = this.#byRequiredSubscriber(events, () => [] as AcceptedEvent[], (unit, event) => (unit.push(event), unit));
    for (const [sub, unit] of units ?? []) {
      sub.enqueue(unit);
      this.#serveWaiters(sub);
    }
  }

  /** Folds events per active required subscriber they match; undefined when none matches (the common case costs no Map). */
  #byRequiredSubscriber<E extends { type: string }, T>(events: readonly E[], empty: () => T, add: (value: T, event: E) => T): Map<RequiredSubscription, T> | undefined {
    let folded: Map<RequiredSubscription, T> | undefined;
    for (const event of events) {
      for (const sub of this.#requiredIndex.match(event.type)) {
        if (sub.paused) continue;
        folded ??= new Map();
        folded.set(sub, add(folded.get(sub) ?? empty(), event));
      }
    }
    return folded;
  }

  #offerToStreams(events: readonly AcceptedEvent[]): void {
    for (const event of events) {
      let bytes = -1; // measured only when some stream takes the event
      for (const sub of this.#streamIndex.match(event.type)) {
        if (sub.paused) continue;
        if (bytes === -1) bytes = jsonBytes(event);
        if (sub.offer(event, bytes)) this.stats.streamDeliveries++;
        else this.stats.drops++;
      }
    }
  }

  /**
   * Opens a subscription. Streams see events accepted from now on, after a replay of the
   * kept history following `since` when given; required ones see events from now on.
   * Throws ValidationError for a bad spec, TooManySubscriptionsError past the limits.
   */
  subscribe(spec: { kind: "stream" } & StreamSpec, options?: SubscriberOptions): StreamSubscription;
  subscribe(spec: { kind: "required" } & RequiredSpec, options?: SubscriberOptions): RequiredSubscription;
  subscribe(spec: ({ kind: "stream" } & StreamSpec) | ({ kind: "required" } & RequiredSpec), options?: SubscriberOptions): Subscription;
  subscribe(spec: ({ kind: "stream" } & StreamSpec) | ({ kind: "required" } & RequiredSpec), options: SubscriberOptions = {}): Subscription {
    if (this.#closed) throw new BrokerClosedError();
    const { kind, ...rest } = spec;
    const sub = kind === "stream" ? this.#newStream(rest) : this.#newRequired(rest);
    sub.owner = options.owner;
    this.#subscriptions.set(sub.id, sub);
    if (sub.kind === "stream") {
      this.#streamIndex.add(sub, sub.types);
      this.#streamCount++;
    } else this.#requiredIndex.add(sub, sub.types);
    return sub;
  }

  /** Opens several required subscriptions at once: all of them, or none. */
  subscribeBatch(specs: readonly RequiredSpec[], options: SubscriberOptions = {}): RequiredSubscription[] {
    specs.forEach((spec, index) => parseOrThrow(requiredSpecSchema, spec, `/${index}`));
    if (this.#subscriptions.size - this.#streamCount + specs.length > this.options.maxRequired) {
      throw new TooManySubscriptionsError("required", this.options.maxRequired);
    }
    return specs.map((spec) => this.subscribe({ kind: "required", ...spec }, options));
  }

  #newStream(spec: StreamSpec): StreamSubscription {
    const { types, since } = parseOrThrow(streamSpecSchema, spec);
    if (this.#streamCount >= this.options.maxStreams) throw new TooManySubscriptionsError("stream", this.options.maxStreams);
    const limits = { maxEvents: this.options.streamBuffer, maxBytes: this.options.streamBufferBytes };
    const replay = since === undefined ? undefined : { afterSeq: since, untilSeq: this.#lastSeq };
    return new StreamSubscription(this.options.newId(), types, this.#clock.now(), limits, this.#log, replay);
  }

  #newRequired(spec: RequiredSpec): RequiredSubscription {
    const { types, name, ...options } = parseOrThrow(requiredSpecSchema, spec);
    if (this.#subscriptions.size - this.#streamCount >= this.options.maxRequired) {
      throw new TooManySubscriptionsError("required", this.options.maxRequired);
    }
    const { ackTimeoutMs, maxBacklog, expireAfterMs, maxDeliveries, maxParked } = { ...this.options, ...options };
    const settings = { ackTimeoutMs, maxBacklog, expireAfterMs, maxDeliveries, maxParked };
    return new RequiredSubscription(this.options.newId(), name, types, this.#clock.now(), settings, this.#lastSeq);
  }

  /**
   * Removes a subscription: a stream is closed (its reader gets a closing notice with
   * `reason`), a required one's backlog is released and its waiting pulls answered.
   * Returns false when there is no such subscription.
   */
  unsubscribe(id: string, reason = "deleted"): boolean {
    const sub = this.#subscriptions.get(id);
    if (!sub) return false;
    this.#subscriptions.delete(id);
    if (sub.kind === "stream") {
      this.#streamIndex.remove(sub, sub.types);
      this.#streamCount--;
      sub.close(reason);
    } else {
      this.#requiredIndex.remove(sub, sub.types);
      sub.clear();
      for (const waiter of sub.waiters.splice(0)) waiter.deliver([]);
    }
    return true;
  }

  /** Throws SubscriptionNotFoundError for an unknown id. */
  get(id: string): Subscription {
    const sub = this.#subscriptions.get(id);
    if (!sub) throw new SubscriptionNotFoundError(id);
    return sub;
  }

  list(): Subscription[] {
    return [...this.#subscriptions.values()];
  }

  /** Pauses (skips) or resumes a subscription. */
  setPaused(id: string, paused: boolean): Subscription {
    const sub = this.get(id);
    sub.paused = paused;
    return sub;
  }

  /**
   * Acknowledges everything through `seq` (cumulative). Below the ack point it is a
   * no-op; beyond the last delivered seq it throws NeverDeliveredError.
   */
  ack(id: string, seq: number): RequiredSubscription {
    const sub = this.#deliveredSeq(id, seq);
    sub.ackThrough(seq);
    return sub;
  }

  /**
   * Makes the next pull deliver again from `seq` (a negative acknowledgement). Below the
   * ack point it is a no-op; beyond the last delivered seq it throws NeverDeliveredError.
   */
  nack(id: string, seq: number): RequiredSubscription {
    const sub = this.#deliveredSeq(id, seq);
    if (seq > sub.ackedSeq) sub.redeliverFrom(seq);
    this.#serveWaiters(sub);
    return sub;
  }

  /** Extends the lease of everything delivered and unacked to `ms` from now; returns its end. */
  extend(id: string, ms: number): number {
    const sub = this.#required(id);
    if (!Number.isSafeInteger(ms) || ms < 1) throw new ValidationError([{ path: "/ms", message: "must be a whole number of milliseconds, 1 or more" }]);
    const leaseExpiresAt = this.#clock.now() + ms;
    sub.extendLeases(leaseExpiresAt);
    sub.lastPulledAt = this.#clock.now();
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

  /** The lease rule: once the oldest lease lapses, delivery starts over from the first unacked. */
  #take(sub: RequiredSubscription, max: number): Delivery[] {
    const now = this.#clock.now();
    const leaseEnd = sub.oldestLeaseExpiresAt();
    if (leaseEnd !== undefined && leaseEnd <= now) sub.rewind();
    const { delivered, redelivered, parkedCount } = sub;
    const deliveries = sub.take(Math.max(1, max), now + sub.options.ackTimeoutMs);
    this.stats.requiredDeliveries += sub.delivered - delivered;
    this.stats.redeliveries += sub.redelivered - redelivered;
    this.stats.parked += sub.parkedCount - parkedCount;
    return deliveries;
  }

  /** Open streams now. */
  get streamCount(): number {
    return this.#streamCount;
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
    const now = this.#clock.now();
    for (const sub of this.#subscriptions.values()) {
      if (sub.kind !== "required" || sub.options.expireAfterMs === 0 || sub.waiters.length > 0) continue;
      if (now - sub.lastPulledAt >= sub.options.expireAfterMs) this.unsubscribe(sub.id, "expired");
    }
    this.#cancelSweep = this.#clock.setTimer(() => this.#sweep(), this.options.sweepIntervalMs);
  }

  /** Stops the broker: streams get a closing notice, waiting pulls are answered, and nothing more is accepted. */
  close(reason = "shutdown"): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#cancelSweep();
    for (const id of [...this.#subscriptions.keys()]) this.unsubscribe(id, reason);
  }
}

function checkAllowed(events: readonly PreparedEvent[], allowTypes: readonly string[], pathOf: (index: number) => string): void {
  const index = events.findIndex((event) => !matchesAny(allowTypes, event.type));
  if (index !== -1) throw new ForbiddenTypeError(events[index].type, pathOf(index) + "/type");
}

/** The events with seqs from `first`; a ValidationError names the input of the event that could not be encoded. */
function encodeAll(events: readonly PreparedEvent[], first: number, inputPath: (event: PreparedEvent) => string): AcceptedEvent[] {
  const accepted: AcceptedEvent[] = [];
  try {
    for (const event of events) accepted.push(acceptEvent(event, first + accepted.length));
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    const prefix = inputPath(events[accepted.length]);
    throw new ValidationError(error.issues.map((issue) => ({ ...issue, path: prefix + issue.path })));
  }
  return accepted;
}
