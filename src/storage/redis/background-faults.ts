/**
 * What the engine does in the background (follow the log, sweep) fails where no request
 * sees it: each failure is logged when it starts, once, and when it is over, and is shown
 * by `/healthz` and counted in `/metrics` meanwhile, whether Redis is up or not.
 */
import type { BackgroundFault } from "../../broker/mod.ts";

export type BackgroundTask = BackgroundFault["task"];

export class BackgroundFaults {
  readonly #current = new Map<BackgroundTask, BackgroundFault>();
  /** Failures so far, by task. */
  readonly counts: Record<BackgroundTask, number> = { tail: 0, sweep: 0 };

  constructor(private readonly log: (line: string) => void = (line) => console.error(line)) {}

  failed(task: BackgroundTask, error: Error): void {
    this.counts[task]++;
    const known = this.#current.get(task);
    if (known?.error === error.message) return;
    this.#current.set(task, { task, error: error.message, since: known?.since ?? Date.now() });
    this.log(`${new Date().toISOString()} error: the ${task} of the Redis engine fails: ${error.stack ?? error.message}`);
  }

  cleared(task: BackgroundTask): void {
    if (!this.#current.delete(task)) return;
    this.log(`${new Date().toISOString()} info: the ${task} of the Redis engine works again`);
  }

  current(): BackgroundFault[] {
    return [...this.#current.values()];
  }
}
