/**
 * Group commit: what a durable broker accepted in one turn of the event loop, waiting for
 * the one commit they share. A staged publish has passed every check and has its seqs,
 * but nothing of it shows (no seq, no delivery) until that commit succeeds; if it fails,
 * none of the group's publishes ever shows, and the dedupe window forgets their producer
 * pairs again. Later publishes of the turn are checked as if the earlier ones were
 * accepted: their seqs follow on, their producer pairs are duplicates (they are in the
 * window), their events count against the backlogs.
 */
import type { DedupeKey } from "./dedupe-window.ts";
import type { AcceptedEvent } from "./event.ts";
import type { Attributes } from "./filters.ts";
import type { PublishResult } from "./broker.ts";
import type { RequiredSubscription } from "./required-subscription.ts";
import type { Unit } from "./unit.ts";

/** A publish that passed every check, as it will be applied once committed. */
export interface StagedPublish {
  /** Its new events, with their seqs (from `first`). */
  readonly events: readonly AcceptedEvent[];
  readonly first: number;
  /** Each new event's dedupe key (undefined when its producer gave no id). */
  readonly keys: readonly (DedupeKey | undefined)[];
  /** How many of them it remembered in the dedupe window when staged. */
  readonly remembered: number;
  /** When it was accepted (ms since epoch). */
  readonly acceptedAt: number;
  readonly attributesOf: (event: AcceptedEvent) => Attributes;
  /** What each required subscriber takes, as routed when staged, and the routing it was made under. */
  readonly required: Map<RequiredSubscription, Unit>;
  readonly routing: number;
  /** Bytes those units add to the required backlogs' part of the memory budget. */
  readonly requiredBytes: number;
  readonly duplicates: number;
  /** The answer, once it is committed. */
  readonly result: PublishResult;
}

/** The publishes of one turn, and the promise their callers and the turn's other changes wait on. */
export class CommitGroup {
  readonly publishes: StagedPublish[] = [];
  /** Events staged: the next publish's seqs come after them. */
  events = 0;
  /** Bytes the staged publishes will hold in required backlogs. */
  requiredBytes = 0;
  /** Producer pairs the staged publishes remembered in the dedupe window, newest of all. */
  remembered = 0;
  readonly #backlogs = new Map<RequiredSubscription, number>();
  #outcome: { readonly failure?: Error } | undefined;
  #waiting: { promise: Promise<void>; resolve: () => void; reject: (error: Error) => void } | undefined;

  add(publish: StagedPublish): void {
    this.publishes.push(publish);
    this.events += publish.events.length;
    this.requiredBytes += publish.requiredBytes;
    for (const [sub, unit] of publish.required) this.#backlogs.set(sub, (this.#backlogs.get(sub) ?? 0) + unit.count);
    this.remembered += publish.remembered;
  }

  /** Events staged for `sub`. */
  backlogOf(sub: RequiredSubscription): number {
    return this.#backlogs.get(sub) ?? 0;
  }

  /** Why its commit failed; undefined before the commit and after a successful one. */
  get failure(): Error | undefined {
    return this.#outcome?.failure;
  }

  /** Settles once the group is committed; rejects with the commit's error. Made on first ask: a turn nobody waits on costs no promise. */
  committed(): Promise<void> {
    if (this.#outcome) return this.#outcome.failure ? Promise.reject(this.#outcome.failure) : Promise.resolve();
    if (!this.#waiting) {
      let resolve!: () => void;
      let reject!: (error: Error) => void;
      const promise = new Promise<void>((res, rej) => [resolve, reject] = [res, rej]);
      this.#waiting = { promise, resolve, reject };
    }
    return this.#waiting.promise;
  }

  /** Answers everyone waiting: committed, or refused with `failure`. */
  settle(failure?: Error): void {
    this.#outcome = failure ? { failure } : {};
    if (failure) this.#waiting?.reject(failure);
    else this.#waiting?.resolve();
  }
}
