/**
 * How often, and until when, each delivered position of a required subscription's queue
 * has been handed out, kept as runs of consecutive positions that share both: a pull
 * leases everything it takes until one time, so a queue of 100,000 delivered events is
 * typically a handful of runs, not 100,000 records.
 */
interface Run {
  /** Position just past the run's last one. */
  end: number;
  deliveries: number;
  leaseExpiresAt: number;
}

export class DeliveryRuns {
  /** Sorted by `end`; the first starts at `#start`, each next one where the previous ends. */
  #runs: Run[] = [];
  #start = 0;

  /** Position just past the last one ever delivered (and not yet acknowledged). */
  get reached(): number {
    return this.#runs.at(-1)?.end ?? this.#start;
  }

  /** When the lease of the first position lapses, if it has been delivered. */
  get firstLeaseExpiresAt(): number | undefined {
    return this.#runs[0]?.leaseExpiresAt;
  }

  /** The most times any position in [start, end) has been delivered (0 for never). */
  deliveriesIn(start: number, end: number): number {
    let most = 0;
    for (let index = this.#indexOf(start); index < this.#runs.length && this.#startOf(index) < end; index++) {
      most = Math.max(most, this.#runs[index].deliveries);
    }
    return most;
  }

  /** Records [start, end) as delivered `deliveries` times, leased until `leaseExpiresAt`. */
  set(start: number, end: number, deliveries: number, leaseExpiresAt: number): void {
    if (this.#runs.length === 0) this.#start = start;
    else if (start > this.reached) this.#runs.push({ end: start, deliveries: 0, leaseExpiresAt: 0 });
    const first = this.#indexOf(start);
    let last = first;
    while (last < this.#runs.length && this.#runs[last].end <= end) last++;
    const replaced: Run[] = [];
    if (first < this.#runs.length && this.#startOf(first) < start) replaced.push({ ...this.#runs[first], end: start });
    replaced.push({ end, deliveries, leaseExpiresAt });
    this.#runs.splice(first, last - first, ...replaced);
    this.#mergeAround(first + replaced.length - 1);
  }

  /** Sets the lease of every run that starts before `before`. */
  extend(before: number, leaseExpiresAt: number): void {
    for (let index = 0; index < this.#runs.length && this.#startOf(index) < before; index++) {
      this.#runs[index].leaseExpiresAt = leaseExpiresAt;
    }
  }

  /** Forgets positions before `position` (acknowledged). */
  dropBefore(position: number): void {
    let drop = 0;
    while (drop < this.#runs.length && this.#runs[drop].end <= position) drop++;
    if (drop > 0) this.#runs.splice(0, drop);
    this.#start = Math.max(this.#start, position);
  }

  /** Removes [start, end) (parked) and moves every later position back by its length. */
  remove(start: number, end: number): void {
    const length = end - start;
    for (const run of this.#runs) {
      if (run.end > end) run.end -= length;
      else if (run.end > start) run.end = start;
    }
    this.#dropEmpty();
  }

  clear(start: number): void {
    this.#runs = [];
    this.#start = start;
  }

  #dropEmpty(): void {
    let previousEnd = this.#start;
    this.#runs = this.#runs.filter((run) => {
      const keep = run.end > previousEnd;
      if (keep) previousEnd = run.end;
      return keep;
    });
  }

  /** Index of the run holding `position`, or the number of runs when none does. */
  #indexOf(position: number): number {
    let low = 0;
    let high = this.#runs.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.#runs[middle].end <= position) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  #startOf(index: number): number {
    return index === 0 ? this.#start : this.#runs[index - 1].end;
  }

  /** Joins the run at `index` with equal neighbours. */
  #mergeAround(index: number): void {
    const same = (a: Run, b: Run) => a.deliveries === b.deliveries && a.leaseExpiresAt === b.leaseExpiresAt;
    const next = this.#runs[index + 1];
    if (next && same(this.#runs[index], next)) this.#runs.splice(index, 1);
    const previous = this.#runs[index - 1];
    if (previous && same(previous, this.#runs[index])) {
      previous.end = this.#runs[index].end;
      this.#runs.splice(index, 1);
    }
  }
}
