import type { AcceptedEvent } from "./event.ts";

/** Settings of one required subscription. */
export interface RequiredOptions {
  /** How long delivered events stay leased before they are delivered again (ms). */
  readonly ackTimeoutMs: number;
  /** Most unacknowledged events it may hold; a publish beyond is refused. */
  readonly maxBacklog: number;
  /** Closed when not pulled for this long (ms); 0 = never. */
  readonly expireAfterMs: number;
  /** Deliveries after which an unacked event is parked; 0 = unlimited. */
  readonly maxDeliveries: number;
  /** Parked events kept for inspection, newest kept. */
  readonly maxParked: number;
}

/** Events handed to a consumer together: a published batch is never split. */
export interface Delivery {
  readonly events: readonly AcceptedEvent[];
  /** How many times these events have been delivered, this time included. */
  readonly deliveries: number;
}

/** An event given up on after `maxDeliveries` deliveries. */
export interface ParkedEvent {
  readonly event: AcceptedEvent;
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
  /** Who created it, when access control is on; anyone else is told it does not exist. */
  owner: string | undefined;
  /** Events handed out, redeliveries included; of which redelivered; and parked. */
  delivered = 0;
  redelivered = 0;
  parkedCount = 0;
  /** Everything at or below this seq is done. */
  ackedSeq: number;
  /** Highest seq ever handed out; acking beyond it is a conflict. */
  lastDeliveredSeq: number;
  /** Unacknowledged events held. */
  backlog = 0;
  lastPulledAt: number;
  readonly waiters: PullWaiter[] = [];
  /** The newest parked events, oldest first. */
  readonly parked: ParkedEvent[] = [];

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

  /**
   * Delivers whole units from the first undelivered one, at least one, up to `max`
   * events; a unit already delivered `maxDeliveries` times is parked instead.
   */
  take(max: number, leaseExpiresAt: number): Delivery[] {
    const taken: Delivery[] = [];
    let count = 0;
    while (this.#next < this.#units.length) {
      const unit = this.#units[this.#next];
      if (this.options.maxDeliveries > 0 && unit.deliveries >= this.options.maxDeliveries) {
        this.#parkNext();
        continue;
      }
      if (count > 0 && count + unit.events.length > max) break;
      if (unit.deliveries > 0) this.redelivered += unit.events.length;
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

  /** Makes delivered events from `seq` on undelivered again, splitting a batch if `seq` falls inside it. */
  redeliverFrom(seq: number): void {
    for (let index = this.#head; index < this.#next; index++) {
      const unit = this.#units[index];
      const from = unit.events.findIndex((event) => event.seq >= seq);
      if (from === -1) continue;
      if (from > 0) {
        this.#units.splice(index + 1, 0, { ...unit, events: unit.events.slice(from) });
        unit.events = unit.events.slice(0, from);
        index++;
      }
      this.#next = index;
      return;
    }
  }

  /** Sets the lease of everything delivered and unacked to end at `leaseExpiresAt`. */
  extendLeases(leaseExpiresAt: number): void {
    for (let index = this.#head; index < this.#next; index++) this.#units[index].leaseExpiresAt = leaseExpiresAt;
  }

  /** Drops everything at or below `seq` (cumulative). */
  ackThrough(seq: number): void {
    if (seq <= this.ackedSeq) return;
    this.ackedSeq = seq;
    while (this.#head < this.#units.length) {
      const unit = this.#units[this.#head];
      const keep = unit.events.findIndex((event) => event.seq > seq);
      if (keep === 0) break;
      this.backlog -= keep === -1 ? unit.events.length : keep;
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

  /** Moves the next unit to the parked list; at the head, the ack point moves past it. */
  #parkNext(): void {
    const [unit] = this.#units.splice(this.#next, 1);
    this.backlog -= unit.events.length;
    this.parkedCount += unit.events.length;
    for (const event of unit.events) this.parked.push({ event, deliveries: unit.deliveries });
    const excess = this.parked.length - this.options.maxParked;
    if (excess > 0) this.parked.splice(0, excess);
    if (this.#next === this.#head) this.ackedSeq = Math.max(this.ackedSeq, unit.events.at(-1)!.seq);
  }

  #compact(): void {
    if (this.#head < 1024 || this.#head * 2 < this.#units.length) return;
    this.#units = this.#units.slice(this.#head);
    this.#next -= this.#head;
    this.#head = 0;
  }
}
