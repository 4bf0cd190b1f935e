/**
 * The Redis keys of one broker. All share one hash slot (the prefix is a hash tag), so a
 * Redis Cluster keeps them on one node and the scripts can touch them together; the
 * broker's one `seq` order needs nothing less.
 */
export class RedisKeys {
  readonly #tag: string;

  constructor(prefix: string) {
    this.#tag = `{${prefix}}`;
  }

  seq(): string {
    return `${this.#tag}seq`;
  }

  log(): string {
    return `${this.#tag}log`;
  }

  subs(): string {
    return `${this.#tag}subs`;
  }

  version(): string {
    return `${this.#tag}subs:version`;
  }

  state(id: string): string {
    return `${this.#tag}sub:${id}`;
  }

  queue(id: string): string {
    return `${this.#tag}sub:${id}:queue`;
  }

  parked(id: string): string {
    return `${this.#tag}sub:${id}:parked`;
  }

  /** The ids of the instances that keep streams. */
  instances(): string {
    return `${this.#tag}instances`;
  }

  /** One instance's streams, as views. */
  streams(instance: string): string {
    return `${this.#tag}streams:${instance}`;
  }

  /** The number of the last publish call of an instance carried out: its calls are run in the order it sent them. */
  calls(instance: string): string {
    return `${this.#tag}calls:${instance}`;
  }

  /** Orders between instances, read by every instance's tail. */
  control(): string {
    return `${this.#tag}control`;
  }

  /** The publish script's fixed keys, in its order: seq, log, dedupe, dedupe order, version. */
  publishKeys(): string[] {
    return [this.seq(), this.log(), `${this.#tag}dedupe`, `${this.#tag}dedupe:order`, this.version()];
  }
}
