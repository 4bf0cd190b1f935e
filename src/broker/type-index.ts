import { isTypePattern } from "./type-pattern.ts";

/**
 * Finds the subscribers whose patterns select an event type without scanning every
 * subscriber: exact types and dotted prefixes are map lookups, and each type's answer
 * is cached until the set of subscribers changes.
 */
export class TypeIndex<T> {
  readonly #everything = new Set<T>();
  readonly #exact = new Map<string, Set<T>>();
  readonly #prefix = new Map<string, Set<T>>();
  readonly #cache = new Map<string, readonly T[]>();
  readonly #specificCache = new Map<string, readonly T[]>();
  #everythingList: readonly T[] | null = null;
  /** Items across every cached answer: ten thousand types each matched by every one of ten thousand subscribers would be 10^8. */
  #cachedItems = 0;

  /**
   * @param maxCachedTypes bound on cached answers, since producers choose the types;
   * @param maxCachedItems bound on the items they hold together (8 bytes each).
   */
  constructor(private readonly maxCachedTypes = 10_000, private readonly maxCachedItems = 1_000_000) {}

  add(item: T, patterns: readonly string[]): void {
    for (const pattern of patterns) {
      if (!isTypePattern(pattern)) throw new RangeError(`bad type pattern: ${pattern}`);
      const [bucket, key] = this.#bucketOf(pattern);
      if (!bucket) this.#everything.add(item);
      else setOf(bucket, key).add(item);
    }
    this.#clearCache();
  }

  remove(item: T, patterns: readonly string[]): void {
    for (const pattern of patterns) {
      const [bucket, key] = this.#bucketOf(pattern);
      if (!bucket) this.#everything.delete(item);
      else {
        bucket.get(key)?.delete(item);
        if (bucket.get(key)?.size === 0) bucket.delete(key);
      }
    }
    this.#clearCache();
  }

  /** Every item with a pattern that selects `type`, each once. */
  match(type: string): readonly T[] {
    return this.#cached(this.#cache, type, () => [...new Set([...this.everything, ...this.matchSpecific(type)])]);
  }

  /** Items with `*`: they select every type. */
  get everything(): readonly T[] {
    return (this.#everythingList ??= [...this.#everything]);
  }

  /** Items that select `type` by name or prefix and are not in `everything`; the same list for the same type until the items change. */
  matchSpecific(type: string): readonly T[] {
    return this.#cached(this.#specificCache, type, () => this.#lookUp(type).filter((item) => !this.#everything.has(item)));
  }

  #cached(cache: Map<string, readonly T[]>, type: string, lookUp: () => readonly T[]): readonly T[] {
    let found = cache.get(type);
    if (found) return found;
    found = lookUp();
    if (cache.size >= this.maxCachedTypes || this.#cachedItems + found.length > this.maxCachedItems) this.#clearCache();
    cache.set(type, found);
    this.#cachedItems += found.length;
    return found;
  }

  /** Types with an answer cached (the larger of the two caches, each bounded alike), and the items all answers hold. */
  get cached(): { types: number; items: number } {
    return { types: Math.max(this.#cache.size, this.#specificCache.size), items: this.#cachedItems };
  }

  #clearCache(): void {
    this.#cache.clear();
    this.#specificCache.clear();
    this.#everythingList = null;
    this.#cachedItems = 0;
  }

  #lookUp(type: string): T[] {
    const found = new Set<T>();
    for (const item of this.#exact.get(type) ?? []) found.add(item);
    for (let dot = type.indexOf("."); dot !== -1; dot = type.indexOf(".", dot + 1)) {
      for (const item of this.#prefix.get(type.slice(0, dot + 1)) ?? []) found.add(item);
    }
    return [...found];
  }

  /** `order.*` is stored under the prefix `order.`; `*` under no bucket. */
  #bucketOf(pattern: string): [Map<string, Set<T>> | null, string] {
    if (pattern === "*") return [null, ""];
    if (pattern.endsWith(".*")) return [this.#prefix, pattern.slice(0, -1)];
    return [this.#exact, pattern];
  }
}

function setOf<T>(map: Map<string, Set<T>>, key: string): Set<T> {
  let set = map.get(key);
  if (!set) map.set(key, (set = new Set()));
  return set;
}
