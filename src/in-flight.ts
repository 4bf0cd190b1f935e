/** Requests being answered, so that shutdown can wait for them, and answer those that take too long. */
export class InFlight<T> {
  /**
   * Those still unanswered, newest first. A list of their own nodes, not a Set: every
   * request joins and leaves it, and tracking one in a Set cost ≈ 0.35 µs in process, in
   * this list ≈ 0.1 (bench/README, round seven).
   */
  #newest: Pending<T> | undefined;
  #count = 0;
  #onSettled: (() => void)[] = [];

  get count(): number {
    return this.#count;
  }

  /** `answer`, counted until it settles or `answerAll` answers first. */
  track(answer: Promise<T>): Promise<T> {
    const { promise, resolve, reject } = Promise.withResolvers<T>();
    const pending = this.#add(resolve);
    answer.then(
      (value) => this.#remove(pending) && resolve(value),
      (error) => this.#remove(pending) && reject(error),
    );
    return promise;
  }

  /** Answers every request still in flight with `early()`, without waiting for its own answer. */
  answerAll(early: () => T): void {
    const left: Pending<T>[] = [];
    // Bounded by the count as well, so that a list broken by a bug cannot hold shutdown in a loop.
    for (let pending = this.#newest; pending !== undefined && left.length < this.#count; pending = pending.older) left.push(pending);
    for (const pending of left) {
      const answer = early(); // first: should it throw, the request stays counted, and can still be answered
      if (this.#remove(pending)) pending.resolve(answer);
    }
  }

  /** True once nothing is in flight; false if something still is after `timeoutMs`. */
  async settled(timeoutMs: number): Promise<boolean> {
    if (this.#count === 0) return true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const settled = await Promise.race([
      new Promise<boolean>((resolve) => this.#onSettled.push(() => resolve(true))),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs))),
    ]);
    clearTimeout(timer);
    return settled;
  }

  #add(resolve: (answer: T) => void): Pending<T> {
    const pending: Pending<T> = { resolve, older: this.#newest, newer: undefined, listed: true };
    if (this.#newest !== undefined) this.#newest.newer = pending;
    this.#newest = pending;
    this.#count++;
    return pending;
  }

  /** Takes `pending` off the list; false when it was already off (answered). */
  #remove(pending: Pending<T>): boolean {
    if (!pending.listed) return false;
    pending.listed = false;
    const { older, newer } = pending;
    if (newer === undefined) this.#newest = older;
    else newer.older = older;
    if (older !== undefined) older.newer = newer;
    // Off the list, it holds no neighbour: one whose own answer never comes keeps only itself alive.
    pending.older = pending.newer = undefined;
    if (--this.#count === 0) this.#onSettled.splice(0).forEach((notify) => notify());
    return true;
  }
}

/** A request in flight: how to answer it, and its neighbours in the list. */
interface Pending<T> {
  readonly resolve: (answer: T) => void;
  older: Pending<T> | undefined;
  newer: Pending<T> | undefined;
  /** Still unanswered: on the list. */
  listed: boolean;
}
