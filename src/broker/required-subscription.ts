import type { AcceptedEvent } from "./event.ts";

/** Settings of one required subscription. */
export interface RequiredOptions {
  /** How long delivered events stay leased before they are delivered again (ms). */
  readonly ackTimeoutMs: number;
  /** Most unacknowledged events it may hold; a publish beyond is refused. */
  readonly maxBacklog: number;
  /** Closed when not pulled for this long (ms); 0 = never. */
  readonly expireAfterMs: number;
}

/** Events handed to a consumer together: a published batch is never split. */
export interface Delivery {
  readonly events: readonly AcceptedEvent[];
  /** How many times these events have been delivered, this time included. */
  readonly deliveries: number;
}

interface Unit {
  events: readonly AcceptedEvent[];
  deliveries: number;
  leaseExpiresAt: number;
}

/** A consumer's long-poll, waiting for events. */
export interface PullWaiter {
  readonly max: number;
  readonly deliver: (deliveries: Delivery[]) => void;
}

/**
 * The backlog of a required subscriber: matching events, in seq order, kept until
 * acknowledged. Units from `#head` to `#next` are delivered and leased; from `#next`
 * on they wait for a pull. The broker decides when each of these moves happens.
 */
export class RequiredSubscription {
  readonly kind = "required";
  paused = false;
  /** Events handed out (redeliveries included). */
  delivered = 0;
  /** Everything at or below this seq is done. */
  ackedSeq: number;
  /** Highest seq ever handed out; acking beyond it is a conflict. */
  lastDeliveredSeq: number;
  /** Unacknowledged events held. */
  backlog = 0;
  lastPulledAt: number;
  readonly waiters: PullWaiter[] = [];

  #units: Unit[] = [];
  #head = 0;
  #next = 0;

  constructor(
    readonly id: string,
    readonly name: string | undefined,
    readonly types: readonly string[],
    readonly created: number,
    readonly options: RequiredOptions,
    startSeq: number,
  ) {
    this.ackedSeq = startSeq;
    this.lastDeliveredSeq = startSeq;
    this.lastPulledAt = created;
  }

  /** Appends the events of one publish, as one unit. */
  enqueue(events: readonly AcceptedEvent[]): void {
    this.#units.push({ events, deliveries: 0, leaseExpiresAt: 0 });
    this.backlog += events.length;
  }

  hasUndelivered(): boolean {
    return this.#next < this.#units.length;
  }

  /** When the oldest lease lapses (ms since epoch), or undefined when nothing is leased. */
  oldestLeaseExpiresAt(): number | undefined {
    return this.#head < this.#next ? this.#units[this.#head].leaseExpiresAt : undefined;
  }

  /** Delivers whole units from the first undelivered one, at least one, up to `max` events. */
  take(max: number, leaseExpiresAt: number): Delivery[] {
    const taken: Delivery[] = [];
    let count = 0;
    while (this.#next < this.#units.length) {
      const unit = this.#units[this.#next];
      if (count > 0 && count + unit.events.length > max) break;
      unit.deliveries++;
      unit.leaseExpiresAt = leaseExpiresAt;
      taken.push({ events: unit.events, deliveries: unit.deliveries });
      count += unit.events.length;
      this.#next++;
      this.lastDeliveredSeq = Math.max(this.lastDeliveredSeq, unit.events.at(-1)!.seq);
    }
    this.delivered += count;
    return taken;
  }

  /** Makes every delivered, unacknowledged event undelivered again. */
  rewind(): void {
    this.#next = this.#head;
  }

  /** Drops everything at or below `seq` (cumulative). */
  ackThrough(seq: number): void {
    if (seq <= this.ackedSeq) return;
    this.ackedSeq = seq;
    while (this.#head < this.#units.length) {
      const unit = this.#units[this.#head];
      const keep = unit.events.findIndex((event) => event.seq > seq);
      if (keep === 0) break;
      const removed = keep === -1 ? unit.events.length : keep;
      this.backlog -= removed;
      if (keep !== -1) {
        unit.events = unit.events.slice(keep);
        break;
      }
      this.#head++;
    }
    this.#next = Math.max(this.#next, this.#head);
    this.#compact();
  }

  /** Releases the backlog, for a subscription that is going away. */
  clear(): void {
    this.#units = [];
    this.#head = this.#next = 0;
    this.backlog = 0;
  }

  #compact(): void {
    if (this.#head < 1024 || this.#head * 2 < this.#units.length) return;
    this.#units = this.#units.slice(this.#head);
    this.#next -= this.#head;
    this.#head = 0;
  }
}
