/** Requests being answered, so that shutdown can wait for them, and answer those that take too long. */
export class InFlight<T> {
  /** Settles one request's answer, with its own or an earlier one, whichever comes first. */
  readonly #pending = new Set<(answer: T | Promise<T>) => void>();
  #onSettled: (() => void)[] = [];

  get count(): number {
    return this.#pending.size;
  }

  /** `answer`, counted until it settles or `answerAll` answers first. */
  track(answer: Promise<T>): Promise<T> {
    return new Promise<T>((resolve) => {
      const settle = (settled: T | Promise<T>) => {
        if (!this.#pending.delete(settle)) return;
        resolve(settled);
        if (this.#pending.size === 0) this.#onSettled.splice(0).forEach((notify) => notify());
      };
      this.#pending.add(settle);
      answer.then(settle, () => settle(answer));
    });
  }

  /** Answers every request still in flight with `early()`, without waiting for its own answer. */
  answerAll(early: () => T): void {
    for (const settle of [...this.#pending]) settle(early());
  }

  /** True once nothing is in flight; false if something still is after `timeoutMs`. */
  async settled(timeoutMs: number): Promise<boolean> {
    if (this.#pending.size === 0) return true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const settled = await Promise.race([
      new Promise<boolean>((resolve) => this.#onSettled.push(() => resolve(true))),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs))),
    ]);
    clearTimeout(timer);
    return settled;
  }
}
