/**
 * The required-subscription ledger: the port through which an engine keeps required
 * subscriptions and what they are owed. Two implementations keep it: the core, in this
 * process (Broker and RequiredSubscription; durable with a journal), and the Redis
 * engine, for instances sharing Redis, where each decision is one Lua script
 * (src/storage/redis/lua/). They are held together by test/engine/differential.test.ts,
 * which runs random calls on both and compares every answer, view and parked list.
 *
 * The contract, whatever keeps it:
 *
 * - **subscribe**: all of the specs, or none; refused past `maxRequired`, counted in the same
 *   decision as the creation. A new subscription is owed every event it selects accepted
 *   after it, in seq order, and nothing before.
 * - **backlog check** (part of accepting a publish): a publish is refused whole when any
 *   active subscription it reaches would hold more than its `maxBacklog` unacknowledged
 *   events; the refusal names the one made first (then the least id). Otherwise each takes
 *   its share of the publish as one unit, never split by a pull.
 * - **pause**: what is accepted while a subscription is paused is never owed to it, even
 *   after it resumes.
 * - **take** (a pull): the lease rule first: once the oldest lease has lapsed, everything
 *   delivered and unacknowledged is due again. Then whole units from the first due one, at
 *   least one, within `max` events and `maxPullBytes`; each is leased for `ackTimeoutMs` and
 *   carries how often it has been delivered. A unit already delivered `maxDeliveries` times
 *   (0: no limit) is parked instead: listed (the newest `maxParked` kept), out of the
 *   backlog, and, at the ack point, passed by it.
 * - **ack**: cumulative; at or below the ack point it changes nothing; beyond the last
 *   delivered seq it is refused (NeverDeliveredError).
 * - **nack**: the next take starts again from that seq; refused as `ack` is.
 * - **extend**: the lease rule first (a lapsed lease is not revived); then everything
 *   delivered and unacknowledged is leased until now plus the given time.
 * - **expire**: a subscription with `expireAfterMs` (0: never) neither pulled, acked,
 *   nacked nor extended for that long is removed, unless a pull waits on it.
 * - Every call naming a subscription that does not exist is refused (SubscriptionNotFoundError);
 *   one naming a stream is refused as not required (NotRequiredError).
 */
import type { PullOptions, SubscriberOptions } from "./broker.ts";
import type { Filter } from "./filters.ts";
import type { Delivery, ParkedEvent } from "./required-subscription.ts";
import type { RequiredSpec } from "./subscription-spec.ts";

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

/** Where a required subscription stands after an ack or a nack. */
export interface AckResult {
  readonly ackedSeq: number;
  readonly backlog: number;
}

export interface Ledger {
  subscribe(spec: RequiredSpec, options?: SubscriberOptions): Promise<SubscriptionView>;
  /** All of them, or none. */
  subscribeBatch(specs: readonly RequiredSpec[], options?: SubscriberOptions): Promise<SubscriptionView[]>;
  /** Takes the next deliveries; with `waitMs`, waits for some (a lapsing lease or a new event). */
  pull(id: string, options?: PullOptions): Promise<Delivery[]>;
  ack(id: string, seq: number): Promise<AckResult>;
  nack(id: string, seq: number): Promise<AckResult>;
  /** The lease's new end (ms since epoch). */
  extend(id: string, ms: number): Promise<number>;
  parked(id: string): Promise<readonly ParkedEvent[]>;
  /** Expires idle subscriptions now (and applies retention), as the engine does every `sweepIntervalMs`. */
  sweep(): Promise<void>;
}
