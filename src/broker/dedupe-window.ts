/**
 * Remembers the seq given to each producer (`source`, `id`) pair for `windowMs`, holding
 * at most `maxEntries` pairs (the oldest are forgotten first), so memory stays bounded
 * whatever producers send.
 */
export class DedupeWindow {
  /** In acceptance order, which is also expiry order. */
  readonly #entries = new Map<string, { seq: number; acceptedAt: number }>();

  constructor(private readonly windowMs: number, private readonly maxEntries: number) {}

  get size(): number {
    return this.#entries.size;
  }

  /** The seq already given to this pair within the window, if any. */
  seqOf(source: string, id: string, now: number): number | undefined {
    if (this.windowMs === 0) return undefined;
    this.#forgetExpired(now);
    return this.#entries.get(keyOf(source, id))?.seq;
  }

  remember(source: string, id: string, seq: number, now: number): void {
    if (this.windowMs === 0) return;
    const key = keyOf(source, id);
    this.#entries.delete(key);
    this.#entries.set(key, { seq, acceptedAt: now });
    if (this.#entries.size > this.maxEntries) this.#entries.delete(this.#entries.keys().next().value!);
  }

  #forgetExpired(now: number): void {
    for (const [key, entry] of this.#entries) {
      if (now - entry.acceptedAt < this.windowMs) return;
      this.#entries.delete(key);
    }
  }
}

/** Length-prefixed, so no (source, id) pair can collide with another. */
function keyOf(source: string, id: string): string {
  return `${source.length}:${source}${id}`;
}
