/**
 * The broker as the HTTP edge sees it: asynchronous, whatever keeps its state (memory, a
 * journal on disk, a Redis shared by several instances), and answering with snapshots,
 * never live objects, except a stream, which is a local reader by nature.
 */
import type { PublishOptions, PublishResult, SubscriberOptions } from "./broker.ts";
import type { AcceptedEvent } from "./event.ts";
import type { Filter } from "./filters.ts";
import type { Selector } from "./selector.ts";
import type { MemoryBudget } from "./memory-budget.ts";
import type { Ledger, SubscriptionView } from "./ledger.ts";

export type { AckResult, SubscriptionView } from "./ledger.ts";
import type { StreamSubscription } from "./stream-subscription.ts";
import type { StreamSpec } from "./subscription-spec.ts";

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
  /** Failures of background work so far, by task. */
  readonly backgroundFailures?: Readonly<Record<BackgroundFault["task"], number>>;
}

/** Work an engine does in the background that is failing now. */
export interface BackgroundFault {
  /** Following the shared log (`tail`), or expiry and retention (`sweep`). */
  readonly task: "tail" | "sweep";
  /** Its latest error. */
  readonly error: string;
  /** Since when it fails (ms since epoch). */
  readonly since: number;
}

/** Whether the engine serves, and why not. */
export interface EngineHealth {
  readonly serving: boolean;
  readonly lastSeq: number;
  /** Why its storage cannot be written or reached, while that lasts. */
  readonly storageFailure?: string;
  /** Background work failing now: the engine may serve meanwhile, but not as it should. */
  readonly faults?: readonly BackgroundFault[];
}

/** An engine: the ledger of required subscriptions (ledger.ts), and publishing, streams, the log and the rest. */
export interface Engine extends Ledger {
  /** What this process keeps in memory, by part. */
  readonly memory: MemoryBudget;
  /** Whether it has been closed: it accepts nothing more. */
  readonly closed: boolean;
  /** Most events one publish may hold. */
  readonly maxBatch: number;
  send(event: unknown, options?: PublishOptions): Promise<PublishResult>;
  sendBatch(events: readonly unknown[], options?: PublishOptions): Promise<PublishResult>;
  /** A live stream in this process; it ends when removed, when the engine closes, or by `StreamSubscription.release`. */
  openStream(spec: StreamSpec, options?: SubscriberOptions): Promise<StreamSubscription>;
  /** Throws SubscriptionNotFoundError for an unknown id. */
  describe(id: string): Promise<SubscriptionView>;
  list(): Promise<SubscriptionView[]>;
  /** Removes a subscription; a stream's reader gets a closing notice with `reason`. False when there is none. */
  remove(id: string, reason?: string): Promise<boolean>;
  setPaused(id: string, paused: boolean): Promise<SubscriptionView>;
  /** Kept events after `afterSeq`, at most `max` of them examined, those `selector` selects. */
  read(afterSeq: number, max: number, selector: Selector): Promise<LogPage>;
  stats(): EngineStats;
  health(): Promise<EngineHealth>;
  /** Refuses new work, ends streams with a closing notice, answers waiting pulls. */
  close(): Promise<void>;
}
