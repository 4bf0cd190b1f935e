/**
 * Remembers the seq given to each producer (`source`, `id`) pair for `windowMs`, holding
 * at most `maxEntries` pairs (the oldest are forgotten first), so memory stays bounded
 * whatever producers send.
 *
 * Pairs are kept in a ring in acceptance order, which is also expiry order, beside a map
 * for lookups. (A Map alone, trimmed from its front, slows down as deleted slots pile up.)
 */
export class DedupeWindow {
  readonly #seqs = new Map<string, number>();
  readonly #ring: ({ key: string; seq: number; acceptedAt: number } | undefined)[];
  #oldest = 0;
  #count = 0;

  constructor(private readonly windowMs: number, maxEntries: number) {
    this.#ring = new Array(windowMs === 0 ? 0 : maxEntries);
  }

  get size(): number {
    return this.#seqs.size;
  }

  /** The key of a (source, id) pair: length-prefixed, so no two pairs collide. */
  static keyOf(source: string, id: string): string {
    return `${source.length}:${source}${id}`;
  }

  /** The seq already given to the pair with this key within the window, if any. */
  seqOf(key: string, now: number): number | undefined {
    if (this.windowMs === 0) return undefined;
    this.#forgetExpired(now);
    return this.#seqs.get(key);
  }

  remember(key: string, seq: number, now: number): void {
    if (this.windowMs === 0 || this.#ring.length === 0) return;
    if (this.#count === this.#ring.length) this.#forgetOldest();
    this.#ring[(this.#oldest + this.#count) % this.#ring.length] = { key, seq, acceptedAt: now };
    this.#count++;
    this.#seqs.set(key, seq);
  }

  #forgetExpired(now: number): void {
    while (this.#count > 0 && now - this.#ring[this.#oldest]!.acceptedAt >= this.windowMs) this.#forgetOldest();
  }

  #forgetOldest(): void {
    const entry = this.#ring[this.#oldest]!;
    this.#ring[this.#oldest] = undefined;
    this.#oldest = (this.#oldest + 1) % this.#ring.length;
    this.#count--;
    // The pair may have been accepted again since; only forget this acceptance.
    if (this.#seqs.get(entry.key) === entry.seq) this.#seqs.delete(entry.key);
  }
}
