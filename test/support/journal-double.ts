// A journal in memory that counts its commits and fails them on demand: what the core
// asked to write, commit by commit, without SQLite.
import { type Journal, type JournalChanges, type JournalEvent, type RecoveredState, StorageError, type SubscriptionRecord } from "../../src/broker/mod.ts";

export class JournalDouble implements Journal {
  /** Every commit that succeeded, in order. */
  readonly commits: JournalChanges[] = [];
  /** Commits refused while `failing`. */
  refused = 0;
  failing = false;
  readonly events: JournalEvent[] = [];
  readonly subscriptions = new Map<string, SubscriptionRecord>();

  recover(): RecoveredState {
    return { lastSeq: this.events.at(-1)?.seq ?? 0, subscriptions: [...this.subscriptions.values()], parked: [], recentProducers: () => [] };
  }

  commit(changes: JournalChanges): void {
    if (this.failing) {
      this.refused++;
      throw new StorageError("the data directory cannot be written: the double is failing");
    }
    this.commits.push(changes);
    for (const publish of changes.publishes ?? []) this.events.push(...publish);
    for (const record of changes.subscriptions ?? []) this.subscriptions.set(record.id, record);
    for (const id of changes.removed ?? []) this.subscriptions.delete(id);
  }

  readAfter(afterSeq: number, max: number): JournalEvent[] {
    return this.events.filter((event) => event.seq > afterSeq).slice(0, max);
  }

  scan(from: number, to: number): Iterable<JournalEvent> {
    return this.events.filter((event) => event.seq >= from && event.seq <= to);
  }

  oldestSeq(): number {
    return this.events[0]?.seq ?? this.recover().lastSeq + 1;
  }

  firstSeqSince(time: number): number {
    return this.events.find((event) => event.acceptedAt >= time)?.seq ?? this.recover().lastSeq + 1;
  }

  trim(): number {
    return 0;
  }

  close(): void {}
}
