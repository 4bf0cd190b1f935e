/**
 * The port through which the core keeps its state durable: what one turn of the event loop
 * changed is written here in one commit (see `Journal.commit`), before any caller is
 * answered for it and before a publish takes effect; on start the core is rebuilt from what
 * it holds. The core only ever calls it synchronously; an implementation that cannot write
 * throws `StorageError`, having written nothing of that commit.
 */
import type { AcceptedEvent } from "./event.ts";
import type { Filter } from "./filters.ts";
import type { RequiredOptions } from "./required-subscription.ts";

/** An accepted event as the journal keeps it. */
export interface JournalEvent extends AcceptedEvent {
  /** The first seq of the publish that brought it: a publish's events are delivered together. */
  readonly batch: number;
  readonly acceptedAt: number;
  /** The producer's (`source`, `id`), when the producer chose the id: what the dedupe window remembers. Given to `commit`, and by `recentProducers`; reads may leave it out. */
  readonly producer?: { readonly source: string; readonly id: string };
}

/** How often, and until when, a range of seqs was delivered: `[start, end)`. */
export type DeliveryRecord = readonly [start: number, end: number, deliveries: number, leaseExpiresAt: number];

/** A required subscription, as the journal keeps it. */
export interface SubscriptionRecord {
  readonly id: string;
  readonly name: string | undefined;
  readonly types: readonly string[];
  readonly filters: readonly Filter[];
  readonly owner: string | undefined;
  readonly created: number;
  readonly options: RequiredOptions;
  readonly paused: boolean;
  /** While paused: the first seq accepted since. */
  readonly pausedFrom: number | undefined;
  /** Seqs accepted while it was paused, after its ack point, as `[from, to]` ranges: never owed. */
  readonly skipped: readonly (readonly [number, number])[];
  /** Seqs parked ahead of the ack point, as `[from, to]` ranges: no longer owed (absent in records of older brokers). */
  readonly parkedAhead?: readonly (readonly [number, number])[];
  /** Everything at or below is done; what follows and matches is owed. */
  readonly ackedSeq: number;
  readonly lastDeliveredSeq: number;
  readonly lastPulledAt: number;
  readonly deliveries: readonly DeliveryRecord[];
  readonly counters: { readonly delivered: number; readonly redelivered: number; readonly parked: number };
}

/** A parked event of a subscription, with the event itself: retention may have removed it from the log. */
export interface ParkedRecord {
  readonly subscriptionId: string;
  readonly event: AcceptedEvent;
  readonly deliveries: number;
}

/** What a journal holds, to rebuild the core from. */
export interface RecoveredState {
  readonly lastSeq: number;
  readonly subscriptions: readonly SubscriptionRecord[];
  readonly parked: readonly ParkedRecord[];
  /** The events of the dedupe window: accepted at or after `since`, the last `max` at most, oldest first. */
  readonly recentProducers: (since: number, max: number) => Iterable<JournalEvent>;
}

/** What one commit writes: all of it, or nothing. A removed subscription is in neither of the other lists. */
export interface JournalChanges {
  /** The events of each publish, in seq order, each publish's seqs following the previous one's. */
  readonly publishes?: readonly (readonly JournalEvent[])[];
  /** Subscriptions' records to create or replace. */
  readonly subscriptions?: readonly SubscriptionRecord[];
  /** Subscriptions to remove, with their parked events. */
  readonly removed?: readonly string[];
  /** Subscriptions whose parked events are replaced by these. */
  readonly parked?: readonly { readonly subscriptionId: string; readonly events: readonly ParkedRecord[] }[];
}

export interface Journal {
  recover(): RecoveredState;
  /**
   * Writes `changes` in one transaction: the core calls it once a turn for everything
   * changed in that turn (group commit). Throws StorageError, having written nothing of
   * them, when it cannot.
   */
  commit(changes: JournalChanges): void;
  /** Up to `max` events with a seq above `afterSeq`, oldest first. */
  readAfter(afterSeq: number, max: number): JournalEvent[];
  /** The events with a seq in `[from, to]`, oldest first, a page at a time. */
  scan(from: number, to: number): Iterable<JournalEvent>;
  /** The oldest seq kept (lastSeq + 1 when none is). */
  oldestSeq(): number;
  /** The first seq accepted at or after `time` (lastSeq + 1 when none was). */
  firstSeqSince(time: number): number;
  /** Removes the oldest publishes whose events all have a seq below `beforeSeq`, about `max` events (a publish goes whole); returns how many. */
  trim(beforeSeq: number, max: number): number;
  close(): void;
}

