import type { AcceptedEvent } from "./event.ts";
import { ENTRY_BYTES, eventMemory } from "./memory-budget.ts";
import type { Attributes, CompiledFilters } from "./filters.ts";
import type { TypeIndex } from "./type-index.ts";

/**
 * Events of one publish that a subscriber takes together, in seq order: one object shared
 * by every subscriber that takes the same events, so a batch of a thousand events reaching
 * ten thousand subscribers is ten thousand references, not ten million. Its memory is
 * counted once, while any subscriber holds it.
 */
export class Unit {
  holders = 0;
  /** What it holds, as the memory budget counts it: its events and its slots for them. */
  readonly bytes: number;
  /** The UTF-8 bytes of its events' JSON. */
  readonly size: number;
  readonly count: number;
  #events: readonly AcceptedEvent[] | null;

  /** @param groups events in seq order each, none in two: the unit is their merge, made when first read. */
  constructor(private readonly groups: readonly (readonly AcceptedEvent[])[]) {
    this.#events = groups.length === 1 ? groups[0] : null;
    this.count = groups.reduce((sum, group) => sum + group.length, 0);
    this.size = groups.reduce((sum, group) => group.reduce((total, event) => total + event.size, sum), 0);
    this.bytes = this.size + this.count * (eventMemory({ size: 0 }) + ENTRY_BYTES);
  }

  get events(): readonly AcceptedEvent[] {
    return (this.#events ??= this.groups.flat().sort((a, b) => a.seq - b.seq));
  }
}

/** How `unitsFor` sees the subscribers and the events. */
export interface Fanout<S> {
  /** Subscribers that take nothing now (paused). */
  readonly skip: (subscriber: S) => boolean;
  /** A subscriber's attribute filters, if it has any. */
  readonly filterOf: (subscriber: S) => CompiledFilters | undefined;
  readonly attributesOf: (event: AcceptedEvent) => Attributes;
}

/**
 * The unit each subscriber of `index` takes of a publish's `events`, if any. Events are
 * grouped by the buckets that select their types; a subscriber takes the groups of its
 * buckets, less what its filters refuse, and subscribers taking the same groups through
 * the same filters share one unit. Without filters, the work is one step per event and
 * one per subscriber in a bucket that an event reached, whatever the batch and however
 * many subscribers; filters run once per event for each distinct set of them.
 */
export function unitsFor<S extends object>(events: readonly AcceptedEvent[], index: TypeIndex<S>, fanout: Fanout<S>): Map<S, Unit> {
  const taken = new Map<S, Unit>();
  if (events.length === 0 || index.isEmpty) return taken; // most types have nobody subscribed
  const groups: [ReadonlySet<S> | null, AcceptedEvent[]][] = [[null, events as AcceptedEvent[]], ...groupByBucket(events, index)];
  const gathered = new Map<S, number[]>();
  const gather = (subscriber: S, group: number) => {
    if (fanout.skip(subscriber)) return;
    const some = gathered.get(subscriber);
    if (some) some.push(group);
    else gathered.set(subscriber, [group]);
  };
  for (const subscriber of index.everything) gather(subscriber, 0);
  groups.forEach(([bucket], group) => bucket?.forEach((subscriber) => gather(subscriber, group)));
  const shared = new Map<string, Unit | null>();
  for (const [subscriber, some] of gathered) {
    const filter = fanout.filterOf(subscriber);
    const key = filter ? `${some.join(",")}|${filter.key}` : some.join(",");
    let unit = shared.get(key);
    if (unit === undefined) shared.set(key, (unit = unitOf(some.map((group) => groups[group][1]), filter, fanout.attributesOf)));
    if (unit) taken.set(subscriber, unit);
  }
  return taken;
}

/** The unit of these groups, less what `filter` refuses; null when nothing is left. */
function unitOf(groups: readonly AcceptedEvent[][], filter: CompiledFilters | undefined, attributesOf: (event: AcceptedEvent) => Attributes): Unit | null {
  if (!filter) return new Unit(groups);
  const kept = groups.map((group) => group.filter((event) => filter.test(attributesOf(event)))).filter((group) => group.length > 0);
  return kept.length === 0 ? null : new Unit(kept);
}

/** The buckets the events' types select, each with its events in seq order. */
function groupByBucket<S>(events: readonly AcceptedEvent[], index: TypeIndex<S>): [ReadonlySet<S> | null, AcceptedEvent[]][] {
  const groups = new Map<ReadonlySet<S>, AcceptedEvent[]>();
  for (const event of events) {
    for (const bucket of index.bucketsOf(event.type)) {
      const group = groups.get(bucket);
      if (group) group.push(event);
      else groups.set(bucket, [event]);
    }
  }
  return [...groups];
}
