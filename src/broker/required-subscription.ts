import { DeliveryRuns } from "./delivery-runs.ts";
import type { AcceptedEvent, HeldEvent } from "./event.ts";
import { ENTRY_BYTES, eventMemory, type MemoryPart } from "./memory-budget.ts";

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

/** A consumer's long-poll, waiting for events. */
export interface PullWaiter {
  readonly max: number;
  readonly deliver: (deliveries: Delivery[]) => void;
}

/** How much one take may hand out: events, and bytes of their JSON. */
export interface TakeLimits {
  readonly maxEvents: number;
  readonly maxBytes: number;
}

/**
 * The backlog of a required subscriber: the events it is owed, in seq order, kept until
 * acknowledged. The events themselves are shared with every other holder; the queue
 * keeps one reference per event (8 bytes), so a thousand subscriptions owing the same
 * event cost a thousand slots, not a thousand copies.
 *
 * Positions count every event ever queued: from `#head` to `#next` they are delivered and
 * leased, from `#next` on they wait for a pull. The events of one publish are one unit:
 * consecutive in the queue and sharing their `batch`. The broker decides when each of
 * these moves happens.
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
  lastPulledAt: number;
  readonly waiters: PullWaiter[] = [];
  /** The newest parked events, oldest first. */
  readonly parked: ParkedEvent[] = [];

  /** Queued events from position `#base` on; acknowledged slots are emptied at once, dropped in bulk. */
  #queue: (HeldEvent | undefined)[] = [];
  #base = 0;
  #head = 0;
  #next = 0;
  readonly #runs = new DeliveryRuns();
  /** Events of the publish being checked that would come here; 0 between publishes. */
  #incoming = 0;

  constructor(
    readonly id: string,
    readonly name: string | undefined,
    readonly types: readonly string[],
    readonly created: number,
    readonly options: RequiredOptions,
    startSeq: number,
    /** Where the events it holds are counted. */
    private readonly memory: MemoryPart,
  ) {
    this.ackedSeq = startSeq;
    this.lastDeliveredSeq = startSeq;
    this.lastPulledAt = created;
  }

  /** Unacknowledged events held. */
  get backlog(): number {
    return this.#end - this.#head;
  }

  get #end(): number {
    return this.#base + this.#queue.length;
  }

  /** Counts one more event of the publish being checked; returns how many so far. */
  countIncoming(): number {
    return ++this.#incoming;
  }

  /** The events of the publish being checked, and the count starts again. */
  takeIncoming(): number {
    const incoming = this.#incoming;
    this.#incoming = 0;
    return incoming;
  }

  /** Appends an event; the events of one publish must be enqueued one after another. */
  enqueue(event: HeldEvent): void {
    this.#queue.push(event);
    hold(event, this.memory);
    this.memory.take(ENTRY_BYTES);
  }

  hasUndelivered(): boolean {
    return this.#next < this.#end;
  }

  /** When the oldest lease lapses (ms since epoch), or undefined when nothing is leased. */
  oldestLeaseExpiresAt(): number | undefined {
    return this.#head < this.#next ? this.#runs.firstLeaseExpiresAt : undefined;
  }

  /**
   * Delivers whole units from the first undelivered one, at least one, within `limits`;
   * a unit already delivered `maxDeliveries` times is parked instead.
   */
  take(limits: TakeLimits, leaseExpiresAt: number): Delivery[] {
    const taken: Delivery[] = [];
    let count = 0;
    let bytes = 0;
    while (this.#next < this.#end) {
      const start = this.#next;
      const end = this.#unitEnd(start);
      const deliveries = this.#runs.deliveriesIn(start, end) + 1;
      if (this.options.maxDeliveries > 0 && deliveries > this.options.maxDeliveries) {
        this.#park(start, end, deliveries - 1);
        continue;
      }
      const events = this.#queue.slice(start - this.#base, end - this.#base) as HeldEvent[];
      const unitBytes = events.reduce((sum, event) => sum + event.size, 0);
      if (count > 0 && (count + events.length > limits.maxEvents || bytes + unitBytes > limits.maxBytes)) break;
      if (deliveries > 1) this.redelivered += events.length;
      this.#runs.set(start, end, deliveries, leaseExpiresAt);
      taken.push({ events, deliveries });
      count += events.length;
      bytes += unitBytes;
      this.#next = end;
      this.lastDeliveredSeq = Math.max(this.lastDeliveredSeq, events[events.length - 1].seq);
    }
    this.delivered += count;
    return taken;
  }

  /** Makes every delivered, unacknowledged event undelivered again. */
  rewind(): void {
    this.#next = this.#head;
  }

  /** Makes delivered events from `seq` on undelivered again; the rest of a batch split there comes as its own unit. */
  redeliverFrom(seq: number): void {
    const position = this.#positionOf(seq, this.#head, this.#next);
    if (position < this.#next) this.#next = position;
  }

  /** Sets the lease of everything delivered and unacked to end at `leaseExpiresAt`. */
  extendLeases(leaseExpiresAt: number): void {
    this.#runs.extend(this.#next, leaseExpiresAt);
  }

  /** Drops everything at or below `seq` (cumulative). */
  ackThrough(seq: number): void {
    if (seq <= this.ackedSeq) return;
    this.ackedSeq = seq;
    const position = this.#positionOf(seq + 1, this.#head, this.#end);
    this.#release(this.#head, position);
    this.#head = position;
    this.#next = Math.max(this.#next, position);
    this.#runs.dropBefore(position);
    this.#compact();
  }

  /** Releases the backlog and the parked events, for a subscription that is going away. */
  clear(): void {
    this.#release(this.#head, this.#end);
    for (const { event } of this.parked.splice(0)) release(event as HeldEvent, this.memory);
    this.#queue = [];
    this.#base = this.#head = this.#next = 0;
    this.#runs.clear(0);
  }

  /** Position just past the unit starting at `start`: the events of the same publish. */
  #unitEnd(start: number): number {
    const queue = this.#queue;
    const batch = queue[start - this.#base]!.batch;
    let index = start - this.#base + 1;
    while (index < queue.length && queue[index]!.batch === batch) index++;
    return this.#base + index;
  }

  /** The first position in [from, to) holding a seq at or above `seq`, else `to`. */
  #positionOf(seq: number, from: number, to: number): number {
    let low = from;
    let high = to;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.#queue[middle - this.#base]!.seq < seq) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  /** Moves the unit at [start, end) to the parked list; at the head, the ack point moves past it. */
  #park(start: number, end: number, deliveries: number): void {
    const unit = this.#queue.splice(start - this.#base, end - start) as HeldEvent[];
    this.memory.release(ENTRY_BYTES * unit.length);
    this.#runs.remove(start, end);
    this.parkedCount += unit.length;
    // Parked events stay held (and counted) as long as they are listed; the queue lets go of them.
    for (const event of unit) this.parked.push({ event, deliveries });
    for (const { event } of this.parked.splice(0, Math.max(0, this.parked.length - this.options.maxParked))) {
      release(event as HeldEvent, this.memory);
    }
    if (start === this.#head) this.ackedSeq = Math.max(this.ackedSeq, unit[unit.length - 1].seq);
  }

  #release(from: number, to: number): void {
    for (let index = from - this.#base; index < to - this.#base; index++) {
      release(this.#queue[index]!, this.memory);
      this.#queue[index] = undefined;
    }
    this.memory.release(ENTRY_BYTES * (to - from));
  }

  /** Lets go of acknowledged slots once they are most of the queue, so it shrinks after a burst. */
  #compact(): void {
    const acknowledged = this.#head - this.#base;
    if (acknowledged < 1_024 || acknowledged * 2 < this.#queue.length) return;
    this.#queue = this.#queue.slice(acknowledged);
    this.#base = this.#head;
  }
}

/** Counts one more holder of `event`; its memory is counted once, by the first. */
function hold(event: HeldEvent, memory: MemoryPart): void {
  if (event.holders++ === 0) memory.take(eventMemory(event));
}

function release(event: HeldEvent, memory: MemoryPart): void {
  if (--event.holders === 0) memory.release(eventMemory(event));
}
