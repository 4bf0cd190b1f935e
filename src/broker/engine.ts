/**
 * The broker as the HTTP edge sees it: asynchronous, whatever keeps its state (memory, a
 * journal on disk, a Redis shared by several instances), and answering with snapshots,
 * never live objects, except a stream, which is a local reader by nature.
 */
import type { PublishOptions, PublishResult, PullOptions, SubscriberOptions } from "./broker.ts";
import type { AcceptedEvent } from "./event.ts";
import type { Filter } from "./filters.ts";
import type { Selector } from "./selector.ts";
import type { MemoryBudget } from "./memory-budget.ts";
import type { Delivery, ParkedEvent } from "./required-subscription.ts";
import type { StreamSubscription } from "./stream-subscription.ts";
import type { RequiredSpec, StreamSpec } from "./subscription-spec.ts";

/** A subscription and its counters, as it stood when asked. */
export interface SubscriptionView {
  readonly id: string;
  readonly kind: "required" | "stream";
  readonly types: readonly string[];
  readonly filters: readonly Filter[];
  readonly paused: boolean;
  /** When it was made (ms since epoch). */
  readonly created: number;
  /** Who made it, when access control is on. */
  readonly owner: string | undefined;
  readonly delivered: number;
  readonly backlog: number;
  readonly dropped: number;
  /** Required subscriptions only. */
  readonly required?: {
    readonly name: string | undefined;
    readonly ackedSeq: number;
    readonly lastDeliveredSeq: number;
    readonly redelivered: number;
    readonly parked: number;
    /** Pulls waiting on it now. */
    readonly waiting: number;
    readonly ackTimeoutMs: number;
    readonly maxBacklog: number;
    readonly expireAfterMs: number;
    readonly maxDeliveries: number;
  };
}

/** A page of the log: the events selected, in seq order, and how far it was read. */
export interface LogPage {
  readonly events: readonly AcceptedEvent[];
  /** The last seq this page covered (selected or not): the next page starts after it. */
  readonly through: number;
  /** Seqs asked for that are no longer kept. */
  readonly gap?: { readonly from: number; readonly to: number };
  /** The broker's last seq when the page was read. */
  readonly lastSeq: number;
}

/** Where a required subscription stands after an ack or a nack. */
export interface AckResult {
  readonly ackedSeq: number;
  readonly backlog: number;
}

/** The engine's lifetime counters and gauges, for metrics. */
export interface EngineStats {
  readonly accepted: number;
  readonly duplicates: number;
  readonly streamDeliveries: number;
  readonly drops: number;
  readonly requiredDeliveries: number;
  readonly redeliveries: number;
  readonly parked: number;
  readonly lastSeq: number;
  readonly openStreams: number;
  readonly streamHandedBytes: number;
}

/** Whether the engine serves, and why not. */
export interface EngineHealth {
  readonly serving: boolean;
  readonly lastSeq: number;
  /** Why its storage cannot be written or reached, while that lasts. */
  readonly storageFailure?: string;
}

export interface Engine {
  /** What this process keeps in memory, by part. */
  readonly memory: MemoryBudget;
  /** Whether it has been closed: it accepts nothing more. */
  readonly closed: boolean;
  /** Most events one publish may hold. */
  readonly maxBatch: number;
  send(event: unknown, options?: PublishOptions): Promise<PublishResult>;
  sendBatch(events: readonly unknown[], options?: PublishOptions): Promise<PublishResult>;
  subscribe(spec: RequiredSpec, options?: SubscriberOptions): Promise<SubscriptionView>;
  /** All of them, or none. */
  subscribeBatch(specs: readonly RequiredSpec[], options?: SubscriberOptions): Promise<SubscriptionView[]>;
  /** A live stream in this process; it ends when removed, when the engine closes, or by `StreamSubscription.release`. */
  openStream(spec: StreamSpec, options?: SubscriberOptions): Promise<StreamSubscription>;
  /** Throws SubscriptionNotFoundError for an unknown id. */
  describe(id: string): Promise<SubscriptionView>;
  list(): Promise<SubscriptionView[]>;
  /** Removes a subscription; a stream's reader gets a closing notice with `reason`. False when there is none. */
  remove(id: string, reason?: string): Promise<boolean>;
  setPaused(id: string, paused: boolean): Promise<SubscriptionView>;
  pull(id: string, options?: PullOptions): Promise<Delivery[]>;
  ack(id: string, seq: number): Promise<AckResult>;
  nack(id: string, seq: number): Promise<AckResult>;
  /** The lease's new end (ms since epoch). */
  extend(id: string, ms: number): Promise<number>;
  parked(id: string): Promise<readonly ParkedEvent[]>;
  /** Kept events after `afterSeq`, at most `max` of them examined, those `selector` selects. */
  read(afterSeq: number, max: number, selector: Selector): Promise<LogPage>;
  /** Expires idle required subscriptions and applies retention now, as the engine does every `sweepIntervalMs`. */
  sweep(): Promise<void>;
  stats(): EngineStats;
  health(): Promise<EngineHealth>;
  /** Refuses new work, ends streams with a closing notice, answers waiting pulls. */
  close(): Promise<void>;
}
