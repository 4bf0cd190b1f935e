/** A producer pair as the window knows it, with its hash computed once. */
export interface DedupeKey {
  readonly source: string;
  readonly id: string;
  readonly hash: number;
}

/** Per process, so producers cannot choose ids that all land in one probe run. */
const HASH_SEED = (Math.random() * 0x7fffffff) | 0;

/**
 * Remembers the seq given to each producer (`source`, `id`) pair for `windowMs`, holding
 * at most `maxEntries` pairs (the oldest are forgotten first), so memory stays bounded
 * whatever producers send.
 *
 * Why not a Map: a full window is 100,000 pairs, and as 100,000 key strings plus a Map's
 * entries the garbage collector revisits them all the time; under publish load that cost
 * the broker more than the rest of the publish path. So the window holds no JavaScript
 * object per pair, only typed arrays:
 * - a ring of entries (seq, time, hash) in acceptance order, which is also expiry order;
 * - their keys as UTF-16 code units, per block of ring slots (see KeyBlock);
 * - an open-addressing table from key hash to ring slot, with linear probing. Each cell
 *   holds the slot and the hash side by side: a probe then reads one cache line, where a
 *   hash looked up in the ring would cost one more line at a random place per cell.
 */
export class DedupeWindow {
  readonly #capacity: number;
  readonly #seqs: Float64Array;
  readonly #acceptedAt: Float64Array;
  readonly #hashes: Int32Array;
  readonly #blocks: KeyBlock[] = [];
  /** Two numbers per table cell: its ring slot + 1 (0 is empty), then that slot's hash. */
  readonly #table: Int32Array;
  readonly #mask: number;
  #oldest = 0;
  #count = 0;
  #preloaded = 0;
  #size = 0;

  constructor(private readonly windowMs: number, maxEntries: number) {
    this.#capacity = windowMs === 0 ? 0 : maxEntries;
    this.#seqs = new Float64Array(this.#capacity);
    this.#acceptedAt = new Float64Array(this.#capacity);
    this.#hashes = new Int32Array(this.#capacity);
    for (let first = 0; first < this.#capacity; first += KEY_BLOCK_SLOTS) {
      this.#blocks.push(new KeyBlock(Math.min(KEY_BLOCK_SLOTS, this.#capacity - first)));
    }
    // At most half full, so probe runs stay short.
    const cells = this.#capacity === 0 ? 0 : 2 ** Math.ceil(Math.log2(this.#capacity * 2));
    this.#table = new Int32Array(2 * cells);
    this.#mask = cells - 1;
  }

  /** Pairs remembered now. */
  get size(): number {
    return this.#size;
  }

  /** The key of a (source, id) pair; the hash runs over each part, never over a joined copy. */
  static keyOf(source: string, id: string): DedupeKey {
    return { source, id, hash: finalMix(fnv1a(fnv1a(HASH_SEED ^ source.length, source), id)) };
  }

  /** Whether two keys name the same (source, id) pair. */
  static samePair(a: DedupeKey, b: DedupeKey): boolean {
    return a.hash === b.hash && a.source === b.source && a.id === b.id;
  }

  /**
   * Reads, ahead of a publish, the table cells where looking up its keys and forgetting as
   * many of the oldest pairs will start. Each is a read at a random place in a table of
   * megabytes; issued together they overlap, where the lookups themselves would wait for
   * them one at a time (≈ 0.2 µs less per event of a batch of 100; even a single event has
   * two: its own cell and the oldest pair's).
   */
  preload(keys: readonly (DedupeKey | undefined)[]): void {
    if (this.#capacity === 0) return;
    const table = this.#table;
    let sum = 0;
    for (const key of keys) if (key !== undefined) sum += table[2 * (key.hash & this.#mask)];
    const forgetting = Math.max(0, Math.min(keys.length, this.#count + keys.length - this.#capacity));
    for (let i = 0; i < forgetting; i++) sum += table[2 * (this.#hashes[(this.#oldest + i) % this.#capacity] & this.#mask)];
    this.#preloaded = sum; // kept, so that the compiler keeps the reads
  }

  /** The seq already given to the pair with this key within the window, if any. */
  seqOf(key: DedupeKey, now: number): number | undefined {
    if (this.#capacity === 0) return undefined;
    this.#forgetExpired(now);
    const cell = this.#find(key);
    return cell === -1 ? undefined : this.#seqs[this.#table[2 * cell] - 1];
  }

  /** Remembers the pair; a pair remembered again keeps only its newest seq. */
  remember(key: DedupeKey, seq: number, now: number): void {
    if (this.#capacity === 0) return;
    if (this.#count === this.#capacity) this.#forgetOldest();
    const previous = this.#find(key);
    if (previous !== -1) this.#removeCell(previous);
    const slot = (this.#oldest + this.#count) % this.#capacity;
    this.#count++;
    this.#seqs[slot] = seq;
    this.#acceptedAt[slot] = now;
    this.#hashes[slot] = key.hash;
    this.#blocks[Math.floor(slot / KEY_BLOCK_SLOTS)].write(slot % KEY_BLOCK_SLOTS, key);
    this.#insert(slot, key.hash);
  }

  #forgetExpired(now: number): void {
    while (this.#count > 0 && now - this.#acceptedAt[this.#oldest] >= this.windowMs) this.#forgetOldest();
  }

  #forgetOldest(): void {
    const slot = this.#oldest;
    this.#oldest = (this.#oldest + 1) % this.#capacity;
    this.#count--;
    // A pair remembered again has already left the table for its newer slot.
    const cell = this.#cellOf(slot);
    if (cell !== -1) this.#removeCell(cell);
  }

  /** The table cell holding this key, or -1. */
  #find(key: DedupeKey): number {
    const table = this.#table;
    const hash = key.hash;
    for (let cell = hash & this.#mask; table[2 * cell] !== 0; cell = (cell + 1) & this.#mask) {
      const slot = table[2 * cell] - 1;
      if (table[2 * cell + 1] === hash && this.#blocks[Math.floor(slot / KEY_BLOCK_SLOTS)].holds(slot % KEY_BLOCK_SLOTS, key)) return cell;
    }
    return -1;
  }

  /** The table cell pointing at this ring slot, or -1. */
  #cellOf(slot: number): number {
    const table = this.#table;
    for (let cell = this.#hashes[slot] & this.#mask; table[2 * cell] !== 0; cell = (cell + 1) & this.#mask) {
      if (table[2 * cell] === slot + 1) return cell;
    }
    return -1;
  }

  #insert(slot: number, hash: number): void {
    const table = this.#table;
    let cell = hash & this.#mask;
    while (table[2 * cell] !== 0) cell = (cell + 1) & this.#mask;
    table[2 * cell] = slot + 1;
    table[2 * cell + 1] = hash;
    this.#size++;
  }

  /** Empties a cell, moving later cells of its probe run back so every lookup still finds them. */
  #removeCell(cell: number): void {
    const table = this.#table;
    const mask = this.#mask;
    let hole = cell;
    for (let next = (cell + 1) & mask; table[2 * next] !== 0; next = (next + 1) & mask) {
      const home = table[2 * next + 1] & mask;
      // The entry may fill the hole unless its home lies cyclically in (hole, next].
      if (((next - home) & mask) >= ((next - hole) & mask)) {
        table[2 * hole] = table[2 * next];
        table[2 * hole + 1] = table[2 * next + 1];
        hole = next;
      }
    }
    table[2 * hole] = 0;
    this.#size--;
  }
}

/** FNV-1a, continued from `hash` (a random basis to begin with) over `text`. */
function fnv1a(hash: number, text: string): number {
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash;
}

/** So that the low bits used as the table index depend on every character. */
function finalMix(hash: number): number {
  hash = Math.imul(hash ^ (hash >>> 16), 0x85ebca6b);
  return hash ^ (hash >>> 13);
}

const KEY_BLOCK_SLOTS = 1_024;

/**
 * The keys of one block of consecutive ring slots, as the code units of source then id.
 * Slots are written in order into this round's buffer; the previous round's buffer keeps
 * the keys of slots not yet written again (the ring writes a slot only after forgetting
 * it). When the round completes the buffers swap, so a block allocates only to grow.
 */
class KeyBlock {
  #current = new Uint16Array(0);
  #previous = new Uint16Array(0);
  /** Slots written in this round: lower ones are in `#current`, the others in `#previous`. */
  #written = 0;
  readonly #starts: Int32Array;
  readonly #lengths: Int32Array;
  readonly #sourceLengths: Int32Array;

  constructor(readonly slots: number) {
    this.#starts = new Int32Array(slots);
    this.#lengths = new Int32Array(slots);
    this.#sourceLengths = new Int32Array(slots);
  }

  write(index: number, { source, id }: DedupeKey): void {
    const start = index === 0 ? 0 : this.#starts[index - 1] + this.#lengths[index - 1];
    this.#starts[index] = start;
    this.#lengths[index] = source.length + id.length;
    this.#sourceLengths[index] = source.length;
    const units = this.#room(start + source.length + id.length);
    copyUnits(source, units, start);
    copyUnits(id, units, start + source.length);
    this.#written = index + 1;
    if (this.#written === this.slots) {
      [this.#previous, this.#current] = [this.#current, this.#previous];
      this.#written = 0;
    }
  }

  holds(index: number, { source, id }: DedupeKey): boolean {
    if (this.#sourceLengths[index] !== source.length || this.#lengths[index] !== source.length + id.length) return false;
    const units = index < this.#written ? this.#current : this.#previous;
    const start = this.#starts[index];
    return unitsEqual(source, units, start) && unitsEqual(id, units, start + source.length);
  }

  /** This round's buffer, grown (by doubling, keeping what is written) to hold `units` code units. */
  #room(units: number): Uint16Array {
    if (units > this.#current.length) {
      const grown = new Uint16Array(Math.max(units, 2 * this.#current.length, 1_024));
      grown.set(this.#current);
      this.#current = grown;
    }
    return this.#current;
  }
}

function copyUnits(text: string, units: Uint16Array, at: number): void {
  for (let i = 0; i < text.length; i++) units[at + i] = text.charCodeAt(i);
}

function unitsEqual(text: string, units: Uint16Array, at: number): boolean {
  for (let i = 0; i < text.length; i++) if (units[at + i] !== text.charCodeAt(i)) return false;
  return true;
}
