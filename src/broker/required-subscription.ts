import { DeliveryRuns } from "./delivery-runs.ts";
import type { AcceptedEvent } from "./event.ts";
import { ENTRY_BYTES, eventMemory, type MemoryPart } from "./memory-budget.ts";
import type { Filter } from "./filters.ts";
import type { SubscriptionRecord } from "./journal.ts";
import { Selector } from "./selector.ts";
import { Unit } from "./unit.ts";

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
 * The backlog of a required subscriber: the units it is owed, in seq order, kept until
 * acknowledged. From (`#head`, `#headOffset`) to (`#next`, `#nextOffset`) events are
 * delivered and leased; from there on they wait for a pull. An offset inside a unit is
 * where an ack or a nack fell inside a batch. The broker decides when each move happens.
 */
export class RequiredSubscription {
  readonly kind = "required";
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

  /** Units from index `#base` on; acknowledged ones are emptied at once, dropped in bulk. */
  #units: (Unit | undefined)[] = [];
  #base = 0;
  #head = 0;
  #headOffset = 0;
  #next = 0;
  #nextOffset = 0;
  #backlog = 0;
  readonly #runs = new DeliveryRuns();
  /** Seqs accepted while it was paused, after its ack point: none of them is owed, even later. */
  #skipped: [number, number][] = [];
  /** Seqs parked ahead of the ack point, as `[from, to]` ranges: no longer owed, though not acknowledged. */
  #parkedAhead: [number, number][] = [];
  /** The first seq accepted since it was paused, while it is. */
  #pausedFrom: number | undefined;

  constructor(
    readonly id: string,
    readonly name: string | undefined,
    readonly selector: Selector,
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

  get types(): readonly string[] {
    return this.selector.types;
  }

  get filters(): readonly Filter[] {
    return this.selector.filters;
  }

  /** Unacknowledged events held. */
  get backlog(): number {
    return this.#backlog;
  }

  /** A paused subscription is skipped: what is accepted meanwhile never reaches it. */
  get paused(): boolean {
    return this.#pausedFrom !== undefined;
  }

  /** Pauses or resumes it; `lastSeq` is the broker's last seq at that moment. */
  setPaused(paused: boolean, lastSeq: number): void {
    if (paused === this.paused) return;
    if (paused) this.#pausedFrom = lastSeq + 1;
    else {
      if (this.#pausedFrom! <= lastSeq) this.#skipped.push([this.#pausedFrom!, lastSeq]);
      this.#pausedFrom = undefined;
    }
  }

  /** Whether an event of this seq was accepted while it was paused. */
  skipped(seq: number): boolean {
    if (this.#pausedFrom !== undefined && seq >= this.#pausedFrom) return true;
    return this.#skipped.some(([from, to]) => seq >= from && seq <= to);
  }

  /** The oldest seq it still needs kept, held or parked; undefined when it needs none. */
  oldestHeldSeq(): number | undefined {
    const held = this.#head < this.#end ? this.#unit(this.#head).events[this.#headOffset].seq : undefined;
    const parked = this.parked.length > 0 ? Math.min(...this.parked.map(({ event }) => event.seq)) : undefined;
    return held === undefined ? parked : parked === undefined ? held : Math.min(held, parked);
  }

  /** Its state, as a journal keeps it: what was delivered is kept, where it stood is not (after a restart everything unacked comes again). */
  record(owner: string | undefined): SubscriptionRecord {
    this.#skipped = this.#skipped.filter(([, to]) => to > this.ackedSeq);
    this.#parkedAhead = this.#parkedAhead.filter(([, to]) => to > this.ackedSeq);
    return {
      id: this.id,
      name: this.name,
      types: this.types,
      filters: this.filters,
      owner,
      created: this.created,
      options: this.options,
      paused: this.paused,
      pausedFrom: this.#pausedFrom,
      skipped: this.#skipped,
      parkedAhead: this.#parkedAhead,
      ackedSeq: this.ackedSeq,
      lastDeliveredSeq: this.lastDeliveredSeq,
      lastPulledAt: this.lastPulledAt,
      deliveries: this.#runs.records(),
      counters: { delivered: this.delivered, redelivered: this.redelivered, parked: this.parkedCount },
    };
  }

  /** A subscription as a journal kept it, with nothing queued yet: the broker enqueues what it is owed, then calls `settle`. */
  static restore(record: SubscriptionRecord, memory: MemoryPart): RequiredSubscription {
    const selector = new Selector(record.types, record.filters);
    const sub = new RequiredSubscription(record.id, record.name, selector, record.created, record.options, record.ackedSeq, memory);
    sub.lastDeliveredSeq = record.lastDeliveredSeq;
    sub.lastPulledAt = record.lastPulledAt;
    sub.delivered = record.counters.delivered;
    sub.redelivered = record.counters.redelivered;
    sub.parkedCount = record.counters.parked;
    sub.#pausedFrom = record.pausedFrom;
    sub.#skipped = record.skipped.map(([from, to]) => [from, to]);
    sub.#parkedAhead = (record.parkedAhead ?? []).map(([from, to]) => [from, to]);
    sub.#runs.restore(record.deliveries);
    return sub;
  }

  /** Drops what a restored subscription was enqueued at or below its ack point (the part of a batch acked before). */
  settle(): void {
    const acked = this.ackedSeq;
    this.ackedSeq = Math.min(acked, ...(this.#head < this.#end ? [this.#unit(this.#head).events[0].seq - 1] : []));
    this.ackThrough(acked);
  }

  /** Lists parked events a journal kept, oldest first. */
  restoreParked(parked: readonly ParkedEvent[]): void {
    for (const entry of parked) {
      this.parked.push(entry);
      this.memory.take(eventMemory(entry.event));
    }
  }

  /** Appends the events of one publish, as a journal kept it: less what was parked ahead of the ack point. */
  requeue(unit: Unit): void {
    const parked = (event: AcceptedEvent) => this.#parkedAhead.some(([from, to]) => event.seq >= from && event.seq <= to);
    if (!unit.events.some(parked)) return this.enqueue(unit);
    const kept = unit.events.filter((event) => !parked(event));
    if (kept.length > 0) this.enqueue(new Unit([kept]));
  }

  /** Appends the events of one publish. */
  enqueue(unit: Unit): void {
    this.#units.push(unit);
    this.#hold(unit);
    this.#backlog += unit.count;
  }

  hasUndelivered(): boolean {
    return this.#next < this.#end;
  }

  /** When the oldest lease lapses (ms since epoch), or undefined when nothing is leased. */
  oldestLeaseExpiresAt(): number | undefined {
    if (this.#head === this.#next && this.#headOffset === this.#nextOffset) return undefined;
    return this.#runs.leaseOf(this.#unit(this.#head).events[this.#headOffset].seq);
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
      const unit = this.#unit(this.#next);
      const events = this.#nextOffset === 0 ? unit.events : unit.events.slice(this.#nextOffset);
      const [first, last] = [events[0].seq, events[events.length - 1].seq];
      const deliveries = this.#runs.deliveriesIn(first, last + 1) + 1;
      if (this.options.maxDeliveries > 0 && deliveries > this.options.maxDeliveries) {
        this.#parkNext(events, deliveries - 1);
        continue;
      }
      const unitBytes = events.reduce((sum, event) => sum + event.size, 0);
      if (count > 0 && (count + events.length > limits.maxEvents || bytes + unitBytes > limits.maxBytes)) break;
      if (deliveries > 1) this.redelivered += events.length;
      this.#runs.set(first, last + 1, deliveries, leaseExpiresAt);
      taken.push({ events, deliveries });
      count += events.length;
      bytes += unitBytes;
      this.#next++;
      this.#nextOffset = 0;
      this.lastDeliveredSeq = Math.max(this.lastDeliveredSeq, last);
    }
    this.delivered += count;
    return taken;
  }

  /** The lease rule: once the oldest lease has lapsed at `now`, everything delivered and unacknowledged is due again. */
  lapseLeases(now: number): void {
    const leaseEnd = this.oldestLeaseExpiresAt();
    if (leaseEnd === undefined || leaseEnd > now) return;
    this.#next = this.#head;
    this.#nextOffset = this.#headOffset;
  }

  /** Makes delivered events from `seq` on undelivered again; the rest of a batch split there comes as its own unit. */
  redeliverFrom(seq: number): void {
    const [index, offset] = this.#find(seq);
    if (index < this.#next || (index === this.#next && offset < this.#nextOffset)) {
      this.#next = index;
      this.#nextOffset = index === this.#head ? Math.max(offset, this.#headOffset) : offset;
    }
  }

  /** Sets the lease of everything delivered and unacked to end at `leaseExpiresAt`. */
  extendLeases(leaseExpiresAt: number): void {
    if (this.#next === this.#end) this.#runs.extend(Infinity, leaseExpiresAt);
    else this.#runs.extend(this.#unit(this.#next).events[this.#nextOffset].seq, leaseExpiresAt);
  }

  /** Drops everything at or below `seq` (cumulative). */
  ackThrough(seq: number): void {
    if (seq <= this.ackedSeq) return;
    this.ackedSeq = seq;
    const [index, offset] = this.#find(seq + 1);
    while (this.#head < index) this.#releaseHead();
    if (index < this.#end) {
      this.#backlog -= offset - this.#headOffset;
      this.#headOffset = offset;
    }
    if (this.#next < this.#head || (this.#next === this.#head && this.#nextOffset < this.#headOffset)) {
      this.#next = this.#head;
      this.#nextOffset = this.#headOffset;
    }
    this.#runs.dropBefore(seq + 1);
    this.#compact();
  }

  /** Releases the backlog and the parked events, for a subscription that is going away. */
  clear(): void {
    while (this.#head < this.#end) this.#releaseHead();
    for (const { event } of this.parked.splice(0)) this.memory.release(eventMemory(event));
    this.#units = [];
    this.#base = this.#head = this.#next = 0;
    this.#headOffset = this.#nextOffset = this.#backlog = 0;
    this.#runs.clear();
  }

  get #end(): number {
    return this.#base + this.#units.length;
  }

  #unit(index: number): Unit {
    return this.#units[index - this.#base]!;
  }

  /** The unit and offset of the first unacknowledged event with a seq at or above `seq`, or the end. */
  #find(seq: number): [number, number] {
    let low = this.#head;
    let high = this.#end;
    while (low < high) {
      const middle = (low + high) >>> 1;
      const events = this.#unit(middle).events;
      if (events[events.length - 1].seq < seq) low = middle + 1;
      else high = middle;
    }
    if (low === this.#end) return [low, 0];
    const events = this.#unit(low).events;
    let offset = low === this.#head ? this.#headOffset : 0;
    while (events[offset].seq < seq) offset++;
    return [low, offset];
  }

  #releaseHead(): void {
    const unit = this.#unit(this.#head);
    this.#backlog -= unit.count - this.#headOffset;
    this.#letGo(unit);
    this.#units[this.#head - this.#base] = undefined;
    this.#head++;
    this.#headOffset = 0;
  }

  /** Moves the next (part of a) unit to the parked list; at the head, the ack point moves past it. */
  #parkNext(events: readonly AcceptedEvent[], deliveries: number): void {
    const atHead = this.#next === this.#head && this.#nextOffset === this.#headOffset;
    const index = this.#next - this.#base;
    const unit = this.#units[index]!;
    this.#backlog -= events.length;
    if (this.#nextOffset === 0) this.#units.splice(index, 1);
    else {
      // What was delivered before the nack stays; the unit left becomes this subscription's own.
      const kept = new Unit([unit.events.slice(0, this.#nextOffset)]);
      this.#units[index] = kept;
      this.#hold(kept);
      this.#next++;
      this.#nextOffset = 0;
    }
    this.#letGo(unit);
    this.#park(events, deliveries);
    if (!atHead) {
      this.#parkedAhead.push([events[0].seq, events[events.length - 1].seq]);
      return;
    }
    this.ackedSeq = Math.max(this.ackedSeq, events[events.length - 1].seq);
    while (this.#head < this.#end && this.#headOffset === this.#unit(this.#head).count) this.#releaseHead();
  }

  /** Counts this subscription's reference to `unit`, and the unit itself if it is the first. */
  #hold(unit: Unit): void {
    if (unit.holders++ === 0) this.memory.take(unit.bytes);
    this.memory.take(ENTRY_BYTES);
  }

  #letGo(unit: Unit): void {
    if (--unit.holders === 0) this.memory.release(unit.bytes);
    this.memory.release(ENTRY_BYTES);
  }

  /** Lists events given up on, keeping the newest `maxParked`; each is counted while listed. */
  #park(events: readonly AcceptedEvent[], deliveries: number): void {
    this.parkedCount += events.length;
    for (const event of events) {
      this.parked.push({ event, deliveries });
      this.memory.take(eventMemory(event));
    }
    for (const { event } of this.parked.splice(0, Math.max(0, this.parked.length - this.options.maxParked))) {
      this.memory.release(eventMemory(event));
    }
  }

  /** Lets go of acknowledged slots once they are most of the queue, so it shrinks after a burst. */
  #compact(): void {
    const acknowledged = this.#head - this.#base;
    if (acknowledged < 1_024 || acknowledged * 2 < this.#units.length) return;
    this.#units = this.#units.slice(acknowledged);
    this.#base = this.#head;
  }
}
