import type { MemoryPart } from "./memory-budget.ts";

/** A producer pair as the window knows it, with its hash computed once. */
export interface DedupeKey {
  readonly source: string;
  readonly id: string;
  readonly hash: number;
}

/** An entry's fields, at these offsets from `ENTRY_FIELDS * slot`. */
const SEQ = 0;
const ACCEPTED_AT = 1;
const HASH = 2;
const ENTRY_FIELDS = 3;

/** A key's place, at these offsets from `KEY_PLACE_FIELDS * slot`. */
const START = 0;
const SOURCE_LENGTH = 1;
const ID_LENGTH = 2;
const KEY_PLACE_FIELDS = 3;

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
 * - a ring of entries (seq, time, hash) in acceptance order, which is also expiry order,
 *   each entry's fields side by side: a publish then touches two entries' memory (the
 *   newest and the oldest), where one array per field touched a page of each;
 * - their keys as UTF-16 code units, in a ring of their own (see KeyRing);
 * - an open-addressing table from key hash to ring slot, with linear probing. Each cell
 *   holds the slot and the hash side by side: a probe then reads one cache line, where a
 *   hash looked up in the ring would cost one more line at a random place per cell.
 */
export class DedupeWindow {
  readonly #capacity: number;
  /** `ENTRY_FIELDS` numbers per ring slot: its seq, the time it was accepted, its key's hash. */
  readonly #entries: Float64Array;
  readonly #keys: KeyRing;
  /** Two numbers per table cell: its ring slot + 1 (0 is empty), then that slot's hash. */
  readonly #table: Int32Array;
  readonly #mask: number;
  #oldest = 0;
  #count = 0;
  #preloaded = 0;
  #size = 0;

  /**
   * @param maxBytes what it may hold in all: entries take `ENTRY_BYTES` each (fewer than
   * `maxEntries` fit when that is more than half of it), keys the rest, 2 bytes a unit.
   * @param memory where what it allocates is counted, as it allocates it.
   */
  constructor(private readonly windowMs: number, maxEntries: number, maxBytes = maxEntries * (DedupeWindow.ENTRY_BYTES + 256), memory?: MemoryPart) {
    this.#capacity = windowMs === 0 ? 0 : Math.max(1, Math.min(maxEntries, Math.floor(maxBytes / 2 / DedupeWindow.ENTRY_BYTES)));
    this.#entries = new Float64Array(ENTRY_FIELDS * this.#capacity);
    const keyUnits = this.#capacity === 0 ? 0 : Math.floor((maxBytes - this.#capacity * DedupeWindow.ENTRY_BYTES) / 2);
    this.#keys = new KeyRing(this.#capacity, Math.max(keyUnits, MAX_KEY_UNITS), (units) => memory?.take(2 * units));
    memory?.take(this.bytes);
    // At most half full, so probe runs stay short.
    const cells = this.#capacity === 0 ? 0 : 2 ** Math.ceil(Math.log2(this.#capacity * 2));
    this.#table = new Int32Array(2 * cells);
    this.#mask = cells - 1;
  }

  /** Bytes held per pair beside its key: seq, time, hash, key place and lengths, two table cells. */
  static readonly ENTRY_BYTES = 8 * ENTRY_FIELDS + 4 * KEY_PLACE_FIELDS + 16;

  /** Pairs remembered now. */
  get size(): number {
    return this.#size;
  }

  /** Most pairs it can hold. */
  get capacity(): number {
    return this.#capacity;
  }

  /** Bytes it holds now: its entries, allocated at construction, and its keys' ring as grown so far. */
  get bytes(): number {
    return this.#capacity * DedupeWindow.ENTRY_BYTES + this.#keys.bytes;
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
    for (let i = 0; i < forgetting; i++) sum += table[2 * (this.#hashOf((this.#oldest + i) % this.#capacity) & this.#mask)];
    this.#preloaded = sum; // kept, so that the compiler keeps the reads
  }

  /** The seq already given to the pair with this key within the window, if any. */
  seqOf(key: DedupeKey, now: number): number | undefined {
    if (this.#capacity === 0) return undefined;
    this.#forgetExpired(now);
    const cell = this.#find(key);
    return cell === -1 ? undefined : this.#entries[ENTRY_FIELDS * (this.#table[2 * cell] - 1) + SEQ];
  }

  /** Remembers the pair; a pair remembered again keeps only its newest seq. */
  remember(key: DedupeKey, seq: number, now: number): void {
    if (this.#capacity === 0) return;
    if (this.#count === this.#capacity) this.#forgetOldest();
    if (!this.#keys.fits(key)) this.#keys.grow(this.#liveSlots());
    while (this.#count > 0 && !this.#keys.fits(key)) this.#forgetOldest();
    const previous = this.#find(key);
    if (previous !== -1) this.#removeCell(previous);
    const slot = (this.#oldest + this.#count) % this.#capacity;
    this.#count++;
    const entry = ENTRY_FIELDS * slot;
    this.#entries[entry + SEQ] = seq;
    this.#entries[entry + ACCEPTED_AT] = now;
    this.#entries[entry + HASH] = key.hash;
    this.#keys.write(slot, key);
    this.#insert(slot, key.hash);
  }

  /**
   * Forgets the `count` pairs remembered last (all of them, if fewer), as if they never
   * were: what a publish whose commit failed had remembered. Each must have been new when
   * remembered (a pair remembered again has left its older entry, which stays forgotten);
   * pairs forgotten to make room for them stay forgotten too.
   */
  forgetNewest(count: number): void {
    for (let i = Math.min(count, this.#count); i > 0; i--) {
      const slot = (this.#oldest + this.#count - 1) % this.#capacity;
      this.#count--;
      this.#keys.forgetLast(slot);
      const cell = this.#cellOf(slot);
      if (cell !== -1) this.#removeCell(cell);
    }
  }

  /** Slots of remembered pairs, oldest first. */
  *#liveSlots(): Iterable<number> {
    for (let i = 0; i < this.#count; i++) yield (this.#oldest + i) % this.#capacity;
  }

  #forgetExpired(now: number): void {
    while (this.#count > 0 && now - this.#entries[ENTRY_FIELDS * this.#oldest + ACCEPTED_AT] >= this.windowMs) this.#forgetOldest();
  }

  #forgetOldest(): void {
    const slot = this.#oldest;
    this.#oldest = (this.#oldest + 1) % this.#capacity;
    this.#count--;
    this.#keys.forget(slot);
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
      if (table[2 * cell + 1] === hash && this.#keys.holds(slot, key)) return cell;
    }
    return -1;
  }

  /** The table cell pointing at this ring slot, or -1. */
  #cellOf(slot: number): number {
    const table = this.#table;
    for (let cell = this.#hashOf(slot) & this.#mask; table[2 * cell] !== 0; cell = (cell + 1) & this.#mask) {
      if (table[2 * cell] === slot + 1) return cell;
    }
    return -1;
  }

  #hashOf(slot: number): number {
    return this.#entries[ENTRY_FIELDS * slot + HASH];
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

/** The longest key: a source of 1,024 characters and an id of 256 (the event schema's bounds). */
const MAX_KEY_UNITS = 1_280;

/**
 * The keys of the ring's slots, as the code units of source then id, appended in slot
 * order to a ring of units, so the oldest key is always the next to be overwritten: a key
 * that does not fit makes the window forget its oldest pairs until it does.
 */
class KeyRing {
  #units: Uint16Array;
  /** `KEY_PLACE_FIELDS` numbers per ring slot: where its key starts, its source's length, its id's. */
  readonly #places: Int32Array;
  /** Where the next key goes, and the units held by remembered keys. */
  #end = 0;
  #used = 0;

  /** @param onGrow told of the units each growth adds. */
  constructor(slots: number, private readonly maxUnits: number, private readonly onGrow: (units: number) => void) {
    this.#units = new Uint16Array(Math.min(maxUnits, 4_096));
    this.#places = new Int32Array(KEY_PLACE_FIELDS * slots);
  }

  /** Doubles the ring, up to its bound, moving the keys of `liveSlots` (oldest first) to its start. */
  grow(liveSlots: Iterable<number>): void {
    if (this.#units.length >= this.maxUnits) return;
    const old = this.#units;
    this.#units = new Uint16Array(Math.min(this.maxUnits, 2 * old.length));
    this.onGrow(this.#units.length - old.length);
    let at = 0;
    for (const slot of liveSlots) {
      const start = this.#places[KEY_PLACE_FIELDS * slot + START];
      const length = this.#unitsOf(slot);
      for (let i = 0; i < length; i++) this.#units[at + i] = old[(start + i) % old.length];
      this.#places[KEY_PLACE_FIELDS * slot + START] = at;
      at += length;
    }
    this.#end = at;
  }

  get bytes(): number {
    return this.#units.byteLength;
  }

  fits({ source, id }: DedupeKey): boolean {
    return this.#used + source.length + id.length <= this.#units.length;
  }

  write(slot: number, { source, id }: DedupeKey): void {
    const place = KEY_PLACE_FIELDS * slot;
    this.#places[place + START] = this.#end;
    this.#places[place + SOURCE_LENGTH] = source.length;
    this.#places[place + ID_LENGTH] = id.length;
    this.#end = this.#copy(id, this.#copy(source, this.#end));
    this.#used += source.length + id.length;
  }

  forget(slot: number): void {
    this.#used -= this.#unitsOf(slot);
  }

  /** Takes back the key written last, that of `slot`: the next key goes where it went. */
  forgetLast(slot: number): void {
    this.#used -= this.#unitsOf(slot);
    this.#end = this.#places[KEY_PLACE_FIELDS * slot + START];
  }

  /** The units of the slot's key: its source's, then its id's. */
  #unitsOf(slot: number): number {
    const place = KEY_PLACE_FIELDS * slot;
    return this.#places[place + SOURCE_LENGTH] + this.#places[place + ID_LENGTH];
  }

  holds(slot: number, { source, id }: DedupeKey): boolean {
    const place = KEY_PLACE_FIELDS * slot;
    if (this.#places[place + SOURCE_LENGTH] !== source.length || this.#places[place + ID_LENGTH] !== id.length) return false;
    const idStart = this.#equal(source, this.#places[place + START]);
    return idStart !== -1 && this.#equal(id, idStart) !== -1;
  }

  /** Copies `text` from unit `at`, wrapping round; returns where it ended. */
  #copy(text: string, at: number): number {
    const units = this.#units;
    for (let i = 0; i < text.length; i++) {
      units[at] = text.charCodeAt(i);
      if (++at === units.length) at = 0;
    }
    return at;
  }

  /** Where `text` ends if the units from `at` hold it, else -1. */
  #equal(text: string, at: number): number {
    const units = this.#units;
    for (let i = 0; i < text.length; i++) {
      if (units[at] !== text.charCodeAt(i)) return -1;
      if (++at === units.length) at = 0;
    }
    return at;
  }
}
