/** A producer pair as the window knows it: its text and that text's hash, computed once. */
export interface DedupeKey {
  readonly text: string;
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
 * the broker more than the rest of the publish path. So the window is a few typed arrays
 * and a few hundred strings:
 * - a ring of entries (seq, time, hash) in acceptance order, which is also expiry order;
 * - their keys packed into one string per block of ring slots (see KeyBlock);
 * - an open-addressing table from key hash to ring slot, with linear probing.
 */
export class DedupeWindow {
  readonly #capacity: number;
  readonly #seqs: Float64Array;
  readonly #acceptedAt: Float64Array;
  readonly #hashes: Int32Array;
  readonly #blocks: KeyBlock[] = [];
  /** Ring slot + 1 per table cell; 0 is empty. */
  readonly #table: Int32Array;
  #oldest = 0;
  #count = 0;
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
    this.#table = new Int32Array(this.#capacity === 0 ? 0 : 2 ** Math.ceil(Math.log2(this.#capacity * 2)));
  }

  /** Pairs remembered now. */
  get size(): number {
    return this.#size;
  }

  /** The key of a (source, id) pair: length-prefixed, so no two pairs collide. */
  static keyOf(source: string, id: string): DedupeKey {
    // Hashed part by part: hashing `text` would first copy the two parts into one string.
    const hash = finalMix(fnv1a(fnv1a(HASH_SEED ^ source.length, source), id));
    return { text: `${source.length}:${source}${id}`, hash };
  }

  /** The seq already given to the pair with this key within the window, if any. */
  seqOf(key: DedupeKey, now: number): number | undefined {
    if (this.#capacity === 0) return undefined;
    this.#forgetExpired(now);
    const cell = this.#find(key);
    return cell === -1 ? undefined : this.#seqs[this.#table[cell] - 1];
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
    this.#blocks[Math.floor(slot / KEY_BLOCK_SLOTS)].write(slot % KEY_BLOCK_SLOTS, key.text);
    this.#insert(slot);
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
  #find({ text, hash }: DedupeKey): number {
    const mask = this.#table.length - 1;
    for (let cell = hash & mask; this.#table[cell] !== 0; cell = (cell + 1) & mask) {
      const slot = this.#table[cell] - 1;
      if (this.#hashes[slot] === hash && this.#blocks[Math.floor(slot / KEY_BLOCK_SLOTS)].holds(slot % KEY_BLOCK_SLOTS, text)) return cell;
    }
    return -1;
  }

  /** The table cell pointing at this ring slot, or -1. */
  #cellOf(slot: number): number {
    const mask = this.#table.length - 1;
    for (let cell = this.#hashes[slot] & mask; this.#table[cell] !== 0; cell = (cell + 1) & mask) {
      if (this.#table[cell] === slot + 1) return cell;
    }
    return -1;
  }

  #insert(slot: number): void {
    const mask = this.#table.length - 1;
    let cell = this.#hashes[slot] & mask;
    while (this.#table[cell] !== 0) cell = (cell + 1) & mask;
    this.#table[cell] = slot + 1;
    this.#size++;
  }

  /** Empties a cell, moving later cells of its probe run back so every lookup still finds them. */
  #removeCell(cell: number): void {
    const mask = this.#table.length - 1;
    let hole = cell;
    for (let next = (cell + 1) & mask; this.#table[next] !== 0; next = (next + 1) & mask) {
      const home = this.#hashes[this.#table[next] - 1] & mask;
      // The entry may fill the hole unless its home lies cyclically in (hole, next].
      if (((next - home) & mask) >= ((next - hole) & mask)) {
        this.#table[hole] = this.#table[next];
        hole = next;
      }
    }
    this.#table[hole] = 0;
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
 * The keys of one block of consecutive ring slots. Slots are written in order; a block
 * collects its keys in an array, then packs them into one string once every slot is
 * written. The keys of the previous round stay in that string until their slots are
 * written again, which the ring does only after forgetting them.
 */
class KeyBlock {
  #filling: string[] = [];
  #packed = "";
  readonly #starts: Int32Array;
  readonly #lengths: Int32Array;

  constructor(readonly slots: number) {
    this.#starts = new Int32Array(slots);
    this.#lengths = new Int32Array(slots);
  }

  write(index: number, key: string): void {
    this.#starts[index] = index === 0 ? 0 : this.#starts[index - 1] + this.#lengths[index - 1];
    this.#lengths[index] = key.length;
    this.#filling.push(key);
    if (this.#filling.length === this.slots) {
      this.#packed = this.#filling.join("");
      this.#filling = [];
    }
  }

  holds(index: number, key: string): boolean {
    if (index < this.#filling.length) return this.#filling[index] === key;
    return this.#lengths[index] === key.length && this.#packed.startsWith(key, this.#starts[index]);
  }
}
