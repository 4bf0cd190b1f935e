import type { AcceptedEvent } from "./event.ts";
import { ENTRY_BYTES, eventMemory } from "./memory-budget.ts";
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

/**
 * The unit each subscriber of `index` takes of a publish's `events`. Events are grouped by
 * the buckets that select their types; a subscriber takes the groups of its buckets, and
 * subscribers taking the same groups share one unit. The work is one step per event and
 * one per subscriber in a bucket that an event reached, whatever the batch and however
 * many subscribers.
 */
export function unitsFor<S extends object>(events: readonly AcceptedEvent[], index: TypeIndex<S>, skip: (subscriber: S) => boolean): Map<S, Unit> {
  const taken = new Map<S, Unit>();
  if (events.length === 0) return taken;
  let everyone: Unit | undefined;
  for (const subscriber of index.everything) if (!skip(subscriber)) taken.set(subscriber, (everyone ??= new Unit([events])));
  const gathered = new Map<S, number[]>();
  const groups = groupByBucket(events, index);
  groups.forEach(([bucket], group) => {
    for (const subscriber of bucket) {
      if (skip(subscriber)) continue;
      const some = gathered.get(subscriber);
      if (some) some.push(group);
      else gathered.set(subscriber, [group]);
    }
  });
  const shared = new Map<string, Unit>();
  for (const [subscriber, some] of gathered) {
    const key = some.join(",");
    let unit = shared.get(key);
    if (!unit) shared.set(key, (unit = new Unit(some.map((group) => groups[group][1]))));
    taken.set(subscriber, unit);
  }
  return taken;
}

/** The buckets the events' types select, each with its events in seq order. */
function groupByBucket<S>(events: readonly AcceptedEvent[], index: TypeIndex<S>): [ReadonlySet<S>, AcceptedEvent[]][] {
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
