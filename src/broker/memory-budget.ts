/**
 * The broker's memory budget: one total, split into parts, each with its own bound and
 * its own answer when full. What the broker keeps is counted where it is kept; a count is
 * an estimate of the heap it holds (the UTF-8 bytes of event JSON plus a fixed overhead
 * per record), so that the budget bounds the process, not just the payloads.
 */

/** Heap held per accepted event beyond its JSON: the record and its type. */
export const EVENT_OVERHEAD_BYTES = 96;
/** Heap held per event a required subscription still owes: its slot in the subscription's queue. */
export const ENTRY_BYTES = 8;

/** The parts of the budget; each is a share of the total. */
export const BUDGET_SHARES = {
  /** Unacknowledged events of required subscriptions, counted once however many hold them. Full: publishes are refused (503). */
  required: 0.4,
  /** Events waiting in stream buffers and chunks handed to the runtime. Full: stalled streams drop. */
  streams: 0.25,
  /** Retained history for resuming streams. Full: the oldest events are forgotten. */
  history: 0.15,
  /** Remembered producer (source, id) pairs. Full: the oldest pairs are forgotten. */
  dedupe: 0.1,
  /** Large pull answers handed to the runtime. Full: pulls are refused (503) until it drains. */
  pulls: 0.1,
} as const;

export type BudgetPartName = keyof typeof BUDGET_SHARES;

/** One part of the budget: a running count of the bytes it holds against its bound. */
export class MemoryPart {
  #used = 0;
  #peak = 0;

  constructor(readonly name: BudgetPartName, readonly limit: number) {}

  get used(): number {
    return this.#used;
  }

  /** The most it has held, since start. */
  get peak(): number {
    return this.#peak;
  }

  /** Whether `bytes` more fit under the bound. */
  fits(bytes: number): boolean {
    return this.#used + bytes <= this.limit;
  }

  /** Counts `bytes` as held, whether or not they fit: callers that may refuse ask `fits` first. */
  take(bytes: number): void {
    this.#used += bytes;
    if (this.#used > this.#peak) this.#peak = this.#used;
  }

  /** Takes `bytes` if they fit; returns whether they did. */
  tryTake(bytes: number): boolean {
    if (!this.fits(bytes)) return false;
    this.take(bytes);
    return true;
  }

  release(bytes: number): void {
    this.#used -= bytes;
  }
}

/** The whole budget: `totalBytes` split by `BUDGET_SHARES`. */
export class MemoryBudget {
  readonly parts: Readonly<Record<BudgetPartName, MemoryPart>>;

  constructor(readonly totalBytes: number) {
    const parts = {} as Record<BudgetPartName, MemoryPart>;
    for (const [name, share] of Object.entries(BUDGET_SHARES) as [BudgetPartName, number][]) {
      parts[name] = new MemoryPart(name, Math.floor(totalBytes * share));
    }
    this.parts = parts;
  }

  get used(): number {
    return Object.values(this.parts).reduce((sum, part) => sum + part.used, 0);
  }
}

/** The heap an accepted event holds, as the budget counts it. */
export function eventMemory(event: { readonly size: number }): number {
  return event.size + EVENT_OVERHEAD_BYTES;
}
