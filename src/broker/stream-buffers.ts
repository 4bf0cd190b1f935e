import type { MemoryPart } from "./memory-budget.ts";
import type { Unit } from "./unit.ts";

/** What the shared budget needs of a stream: to give up what it buffers. */
export interface EvictableBuffer {
  /** Drops everything buffered, reporting it as dropped, and takes nothing more until its reader comes back. */
  evict(): void;
}

/**
 * The streams' part of the memory budget, shared by every stream's buffer. A unit of
 * events is counted once however many buffers hold it, so fanning out to a thousand
 * readers costs one copy. When a new event does not fit, the buffers whose readers came back longest
 * ago are emptied (their events reported as dropped), and those streams take nothing
 * more until their readers come back: a reader that keeps up is never the one to lose
 * events because others stalled.
 */
export class StreamBuffers {
  /** Streams with events buffered, the one whose reader came back longest ago first. */
  readonly #filled = new Set<EvictableBuffer>();
  /** Bytes readers handed on to their runtime and have not come back for (one write each, at most). */
  handedBytes = 0;

  constructor(readonly memory: MemoryPart) {}

  /** `unit` is now in one more buffer. */
  hold(unit: Unit): void {
    if (unit.holders++ === 0) this.memory.take(unit.bytes);
  }

  /** `unit` left a buffer. */
  release(unit: Unit): void {
    if (--unit.holders === 0) this.memory.release(unit.bytes);
  }

  /** `stream` holds events now: a reader that came back with some left is moved to the end. */
  filled(stream: EvictableBuffer): void {
    this.#filled.delete(stream);
    this.#filled.add(stream);
  }

  /** `stream` holds no event now. */
  emptied(stream: EvictableBuffer): void {
    this.#filled.delete(stream);
  }

  /** Whether `bytes` more fit, after evicting the longest-waiting buffers other than `stream`'s if need be. */
  makeRoom(bytes: number, stream: EvictableBuffer): boolean {
    for (const oldest of this.#filled) {
      if (this.memory.fits(bytes)) return true;
      if (oldest !== stream) oldest.evict();
    }
    return this.memory.fits(bytes);
  }
}
