import type { AcceptedEvent } from "./event.ts";
import { ENTRY_BYTES, eventMemory } from "./memory-budget.ts";

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

  constructor(readonly events: readonly AcceptedEvent[]) {
    this.size = events.reduce((sum, event) => sum + event.size, 0);
    this.bytes = this.size + events.length * (eventMemory({ size: 0 }) + ENTRY_BYTES);
  }
}

/**
 * The units a publish gives its subscribers: events grouped by the subscribers that
 * `match` gives their type (events of one type share a group); `everyone` gets them all.
 * A subscriber in several groups gets its own unit, in seq order.
 */
export function unitsFor<S extends object>(events: readonly AcceptedEvent[], everyone: readonly S[], match: (type: string) => readonly S[], skip: (subscriber: S) => boolean): Map<S, Unit> {
  const gathered = new Map<S, (readonly AcceptedEvent[])[]>();
  if (events.length === 0) return new Map();
  const gather = (subscriber: S, some: readonly AcceptedEvent[]) => {
    if (skip(subscriber)) return;
    const groups = gathered.get(subscriber);
    if (groups) groups.push(some);
    else gathered.set(subscriber, [some]);
  };
  for (const subscriber of everyone) gather(subscriber, events);
  for (const [subscribers, some] of groupByMatch(events, match)) {
    for (const subscriber of subscribers) gather(subscriber, some.length === events.length ? events : some);
  }
  const units = new Map<readonly AcceptedEvent[], Unit>();
  const taken = new Map<S, Unit>();
  for (const [subscriber, groups] of gathered) {
    const shared = groups.length === 1 ? groups[0] : groups.flat().sort((a, b) => a.seq - b.seq);
    let unit = units.get(shared);
    if (!unit) units.set(shared, (unit = new Unit(shared)));
    taken.set(subscriber, unit);
  }
  return taken;
}

function groupByMatch<S>(events: readonly AcceptedEvent[], match: (type: string) => readonly S[]): Map<readonly S[], AcceptedEvent[]> {
  const groups = new Map<readonly S[], AcceptedEvent[]>();
  for (const event of events) {
    const subscribers = match(event.type);
    if (subscribers.length === 0) continue;
    const group = groups.get(subscribers);
    if (group) group.push(event);
    else groups.set(subscribers, [event]);
  }
  return groups;
}
