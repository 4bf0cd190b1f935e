import { isTypePattern, withoutSubsumed } from "./type-pattern.ts";

/**
 * Finds the subscribers whose patterns select an event type without scanning every
 * subscriber. Subscribers are kept in buckets: `*` in one, each exact type in its own,
 * each dotted prefix (`order.*`) in its own; a type is selected by the exact bucket of its
 * name and the prefix buckets of its prefixes. Since a subscriber's patterns are first
 * reduced to those no other of its patterns covers, the buckets of one subscriber that a
 * type selects never overlap: each event reaches it through one bucket only.
 */
export class TypeIndex<T> {
  readonly #everything = new Set<T>();
  readonly #exact = new Map<string, Set<T>>();
  readonly #prefix = new Map<string, Set<T>>();
  /** The buckets each type selects (besides `everything`), cached until the subscribers change. */
  readonly #cache = new Map<string, readonly ReadonlySet<T>[]>();

  /** @param maxCachedTypes bound on cached answers, since producers choose the types. */
  constructor(private readonly maxCachedTypes = 10_000) {}

  add(item: T, patterns: readonly string[]): void {
    for (const pattern of withoutSubsumed(patterns)) {
      if (!isTypePattern(pattern)) throw new RangeError(`bad type pattern: ${pattern}`);
      const [bucket, key] = this.#bucketOf(pattern);
      if (!bucket) this.#everything.add(item);
      else setOf(bucket, key).add(item);
    }
    this.#cache.clear();
  }

  remove(item: T, patterns: readonly string[]): void {
    for (const pattern of withoutSubsumed(patterns)) {
      const [bucket, key] = this.#bucketOf(pattern);
      if (!bucket) this.#everything.delete(item);
      else {
        bucket.get(key)?.delete(item);
        if (bucket.get(key)?.size === 0) bucket.delete(key);
      }
    }
    this.#cache.clear();
  }

  /** Whether no item selects any type: buckets are deleted when they empty. */
  get isEmpty(): boolean {
    return this.#everything.size === 0 && this.#exact.size === 0 && this.#prefix.size === 0;
  }

  /** Items with `*`: they select every type. */
  get everything(): ReadonlySet<T> {
    return this.#everything;
  }

  /** The buckets besides `everything` that select `type`: its exact one and those of its prefixes. */
  bucketsOf(type: string): readonly ReadonlySet<T>[] {
    let found = this.#cache.get(type);
    if (found) return found;
    found = this.#lookUp(type);
    if (this.#cache.size >= this.maxCachedTypes) this.#cache.clear();
    this.#cache.set(type, found);
    return found;
  }

  /** Every item with a pattern that selects `type`, each once. */
  match(type: string): T[] {
    return [...new Set([...this.#everything, ...this.bucketsOf(type).flatMap((bucket) => [...bucket])])];
  }

  /** Types with their buckets cached now. */
  get cachedTypes(): number {
    return this.#cache.size;
  }

  #lookUp(type: string): ReadonlySet<T>[] {
    const found: ReadonlySet<T>[] = [];
    const exact = this.#exact.get(type);
    if (exact) found.push(exact);
    for (let dot = type.indexOf("."); dot !== -1; dot = type.indexOf(".", dot + 1)) {
      const prefix = this.#prefix.get(type.slice(0, dot + 1));
      if (prefix) found.push(prefix);
    }
    return found;
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
