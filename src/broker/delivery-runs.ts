/**
 * How often, and until when, the delivered events of a required subscription have been
 * handed out, kept as runs of seqs that share both: a pull leases everything it takes
 * until one time, so 100,000 delivered events are typically a handful of runs, not
 * 100,000 records. Seqs a subscription does not hold may fall inside a run; they are
 * never asked about.
 */
interface Run {
  /** Just past the run's last seq. */
  end: number;
  deliveries: number;
  leaseExpiresAt: number;
}

export class DeliveryRuns {
  /** Sorted by `end`; the first starts at `#start`, each next one where the previous ends. */
  #runs: Run[] = [];
  #start = 0;

  /** The most times any seq in [start, end) has been delivered (0 for never). */
  deliveriesIn(start: number, end: number): number {
    let most = 0;
    for (let index = this.#indexOf(start); index < this.#runs.length && this.#startOf(index) < end; index++) {
      most = Math.max(most, this.#runs[index].deliveries);
    }
    return most;
  }

  /** When the lease of `seq` lapses, if it has been delivered. */
  leaseOf(seq: number): number | undefined {
    const run = this.#runs[this.#indexOf(seq)];
    return run && run.deliveries > 0 && this.#startOf(this.#indexOf(seq)) <= seq ? run.leaseExpiresAt : undefined;
  }

  /** Records [start, end) as delivered `deliveries` times, leased until `leaseExpiresAt`. */
  set(start: number, end: number, deliveries: number, leaseExpiresAt: number): void {
    if (this.#runs.length === 0) this.#start = start;
    else if (start > this.#reached) this.#runs.push({ end: start, deliveries: 0, leaseExpiresAt: 0 });
    else if (start < this.#start) this.#start = start;
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
      if (this.#runs[index].deliveries > 0) this.#runs[index].leaseExpiresAt = leaseExpiresAt;
    }
  }

  /** Forgets seqs before `seq` (acknowledged). */
  dropBefore(seq: number): void {
    let drop = 0;
    while (drop < this.#runs.length && this.#runs[drop].end <= seq) drop++;
    if (drop > 0) this.#runs.splice(0, drop);
    this.#start = Math.max(this.#start, seq);
  }

  clear(): void {
    this.#runs = [];
  }

  /** The runs as `[start, end, deliveries, leaseExpiresAt]`, for a journal. */
  records(): [number, number, number, number][] {
    return this.#runs.map((run, index) => [this.#startOf(index), run.end, run.deliveries, run.leaseExpiresAt]);
  }

  /** Takes back runs a journal kept. */
  restore(records: readonly (readonly [number, number, number, number])[]): void {
    this.#runs = [];
    for (const [start, end, deliveries, leaseExpiresAt] of records) this.set(start, end, deliveries, leaseExpiresAt);
  }

  get #reached(): number {
    return this.#runs.at(-1)?.end ?? this.#start;
  }

  /** Index of the run holding `seq`, or the number of runs when none does. */
  #indexOf(seq: number): number {
    let low = 0;
    let high = this.#runs.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.#runs[middle].end <= seq) low = middle + 1;
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
