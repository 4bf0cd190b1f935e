/**
 * Streamed ingestion: an NDJSON body accepted line by line as it arrives. The complete
 * lines each read brings are published at once, in groups of at most `maxBatch` events
 * (and about `maxBodyBytes` of text), each group atomic. A bad line is reported alone and
 * never refuses its neighbours. When a required backlog or the memory budget is full, the
 * body is not read until the group fits: TCP flow control slows the producer.
 */
import {
  BacklogFullError,
  BrokerClosedError,
  type Engine,
  type FieldIssue,
  ForbiddenTypeError,
  matchesAny,
  MemoryBudgetError,
  type PublishResult,
  ValidationError,
} from "../src/broker/mod.ts";
import type { IncomingBytes } from "./body.ts";
import { type Line, LineSplitter } from "./ndjson-lines.ts";

/** Media types read as one event per line. */
export const NDJSON_TYPES = new Set(["application/x-ndjson", "application/ndjson", "application/jsonl"]);

/** A bad line, as the answer lists it: 400 unreadable or invalid, 403 forbidden type, 413 too long. */
export interface LineRefusal {
  readonly line: number;
  readonly status: 400 | 403 | 413;
  readonly errors: readonly FieldIssue[];
}

export interface IngestSummary {
  accepted: number;
  first: number | null;
  last: number | null;
  duplicates: number;
  rejected: number;
  /** The first `MAX_LISTED` bad lines. */
  errors: LineRefusal[];
}

/** Why reading stopped: the body ended, the broker is closing, the token expired, the client went away, or a partial line would pass maxIncomingBytes. */
export type IngestEnd = "body-end" | "closed" | "token-expired" | "gone" | "incoming-full";

export interface IngestOptions {
  readonly maxLineBytes: number;
  /** Where the partial line held is counted, among the bodies still arriving. */
  readonly incoming: IncomingBytes;
  readonly allowTypes?: readonly string[];
  /** When the caller's token stops being valid (ms since epoch). */
  readonly expiresAt?: number;
  readonly signal?: AbortSignal;
}

const MAX_LISTED = 100;
/** Issues listed per bad line: a 1 MiB line can hold thousands, and a hundred such lines are listed. */
const MAX_ISSUES = 10;
/** How often an idle read checks for shutdown, token expiry and a gone client. */
const WATCH_MS = 250;
/** Backoff while a group does not fit: from 5 ms, doubling, at most 100 ms between tries. */
const FIRST_WAIT_MS = 5;
const MAX_WAIT_MS = 100;
const FORBIDDEN = "is a type this token may not publish";

interface Entry {
  readonly line: number;
  readonly value: unknown;
  readonly bytes: number;
}

/** Reads `body` to its end (or until it must stop), accepting its lines as they arrive. */
export async function ingestNdjson(broker: Engine, body: ReadableStream<Uint8Array> | null, options: IngestOptions): Promise<{ summary: IngestSummary; end: IngestEnd }> {
  const ingestion = new Ingestion(broker, options);
  const end = body ? await ingestion.run(body.getReader()) : "body-end";
  return { summary: ingestion.summary, end };
}

class Ingestion {
  readonly summary: IngestSummary = { accepted: 0, first: null, last: null, duplicates: 0, rejected: 0, errors: [] };
  readonly #broker: Engine;
  readonly #options: IngestOptions;
  #end: IngestEnd | undefined;

  constructor(broker: Engine, options: IngestOptions) {
    this.#broker = broker;
    this.#options = options;
  }

  async run(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<IngestEnd> {
    const splitter = new LineSplitter(this.#options.maxLineBytes);
    const watch = setInterval(() => this.#watch(reader), WATCH_MS);
    let held = 0; // of the partial line, taken from the incoming bytes
    try {
      for (let chunk = await this.#read(reader); chunk; chunk = await this.#read(reader)) {
        await this.#acceptLines(splitter.push(chunk));
        held = this.#holdPartialLine(held, splitter.heldBytes, reader);
      }
      if (!this.#end) await this.#acceptLines(splitter.end());
    } catch (error) {
      if (!(error instanceof BrokerClosedError)) {
        reader.cancel().catch(() => {});
        throw error;
      }
      this.#stop("closed", reader);
    } finally {
      clearInterval(watch);
      this.#options.incoming.give(held);
    }
    return this.#end ?? "body-end";
  }

  /** What the partial line now holds, counted; when it no longer fits, reading stops. */
  #holdPartialLine(held: number, now: number, reader: ReadableStreamDefaultReader<Uint8Array>): number {
    if (now <= held) {
      this.#options.incoming.give(held - now);
      return now;
    }
    if (this.#options.incoming.tryTake(now - held)) return now;
    this.#stop("incoming-full", reader);
    return held;
  }

  /** The next chunk; none at the body's end, once stopped, or when the connection broke. */
  async #read(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<Uint8Array | undefined> {
    if (this.#end) return undefined;
    try {
      return (await reader.read()).value;
    } catch {
      this.#end ??= this.#broker.closed ? "closed" : "gone";
      return undefined;
    }
  }

  #watch(reader: ReadableStreamDefaultReader<Uint8Array>): void {
    const { expiresAt, signal } = this.#options;
    if (this.#broker.closed) this.#stop("closed", reader);
    else if (expiresAt !== undefined && expiresAt <= Date.now()) this.#stop("token-expired", reader);
    else if (signal?.aborted) this.#stop("gone", reader);
  }

  /** Ends reading; a pending read resolves as done. */
  #stop(end: IngestEnd, reader: ReadableStreamDefaultReader<Uint8Array>): void {
    this.#end ??= end;
    reader.cancel().catch(() => {});
  }

  /** Publishes the good lines in groups as soon as they are complete: never waits for more to fill one. */
  async #acceptLines(lines: Iterable<Line>): Promise<void> {
    let group: Entry[] = [];
    let groupBytes = 0;
    for (const line of lines) {
      if (this.#end) return;
      const entry = this.#entryOf(line);
      if (!entry) continue;
      group.push(entry);
      groupBytes += entry.bytes;
      if (group.length >= this.#broker.maxBatch || groupBytes >= this.#options.maxLineBytes) {
        await this.#acceptGroup(group);
        group = [];
        groupBytes = 0;
      }
    }
    if (group.length > 0) await this.#acceptGroup(group);
  }

  /** The line's event, or undefined for a blank line and a bad one (reported). */
  #entryOf(line: Line): Entry | undefined {
    if (!("text" in line)) return this.#refuse(line.number, line.status, [line.issue]);
    if (!/\S/.test(line.text)) return undefined;
    let value: unknown;
    try {
      value = JSON.parse(line.text);
    } catch (error) {
      const reason = error instanceof RangeError ? "it is nested too deeply" : (error as Error).message;
      return this.#refuse(line.number, 400, [{ path: "", message: `is not valid JSON: ${reason}` }]);
    }
    // Checked here as well as by the broker, which names only the first forbidden event of a batch.
    if (this.#isForbidden(value)) return this.#refuse(line.number, 403, [{ path: "/type", message: FORBIDDEN }]);
    return { line: line.number, value, bytes: line.bytes };
  }

  #isForbidden(value: unknown): boolean {
    const { allowTypes } = this.#options;
    const type = typeof value === "object" && value !== null ? (value as { type?: unknown }).type : undefined;
    return allowTypes !== undefined && typeof type === "string" && !matchesAny(allowTypes, type);
  }

  /**
   * Publishes `entries` in order, none lost. Lines the broker refuses are reported and
   * the rest sent again; after a second refusal, one line at a time, so that a group of
   * bad lines costs linear work. While there is no room, it waits and tries again with
   * half as many lines (down to one), so that a group larger than the room still goes in.
   */
  async #acceptGroup(entries: readonly Entry[]): Promise<void> {
    let rest = entries;
    let partSize = entries.length;
    let refusals = 0;
    let waitMs = FIRST_WAIT_MS;
    while (rest.length > 0 && !this.#end) {
      const part = rest.slice(0, partSize);
      const outcome = await this.#send(part);
      if (outcome === "accepted") {
        rest = rest.slice(part.length);
        waitMs = FIRST_WAIT_MS;
      } else if (outcome === "no-room") {
        partSize = Math.ceil(part.length / 2);
        await new Promise((resolve) => setTimeout(resolve, waitMs));
        waitMs = Math.min(waitMs * 2, MAX_WAIT_MS);
      } else {
        rest = rest.filter((_, index) => !outcome.has(index));
        if (++refusals >= 2) partSize = 1;
      }
    }
  }

  /** One atomic publish: accepted, no room for it, or the indices of the lines refused (reported). */
  async #send(part: readonly Entry[]): Promise<"accepted" | "no-room" | Set<number>> {
    try {
      this.#count(await this.#broker.sendBatch(part.map((entry) => entry.value), { allowTypes: this.#options.allowTypes }));
      return "accepted";
    } catch (error) {
      if (error instanceof BacklogFullError || error instanceof MemoryBudgetError) return "no-room";
      if (error instanceof ValidationError) return this.#refuseNamed(part, error.issues, 400);
      if (error instanceof ForbiddenTypeError) return this.#refuseNamed(part, [{ path: error.path, message: FORBIDDEN }], 403);
      throw error;
    }
  }

  /** Reports each line the issues name (`/3/data` names the part's fourth line, at `/data`). */
  #refuseNamed(part: readonly Entry[], issues: readonly FieldIssue[], status: 400 | 403): Set<number> {
    const byIndex = new Map<number, FieldIssue[]>();
    for (const issue of issues) {
      const [, index, path] = /^\/(\d+)(.*)$/s.exec(issue.path) ?? [];
      if (index === undefined || Number(index) >= part.length) throw new Error(`a refusal names no line of the group: ${issue.path}`);
      const lineIssues = byIndex.get(Number(index)) ?? [];
      lineIssues.push({ path, message: issue.message });
      byIndex.set(Number(index), lineIssues);
    }
    for (const [index, errors] of byIndex) this.#refuse(part[index].line, status, errors);
    return new Set(byIndex.keys());
  }

  /**
   * Counts a bad line and lists it among the first `MAX_LISTED` by number: the broker's
   * refusals of a group come after the unreadable lines read with it, so a later line may
   * take the place of an earlier one.
   */
  #refuse(line: number, status: LineRefusal["status"], errors: readonly FieldIssue[]): undefined {
    const listed = this.summary.errors;
    this.summary.rejected++;
    if (listed.length === MAX_LISTED && line > listed[listed.length - 1].line) return undefined;
    const at = listed.findLastIndex((refusal) => refusal.line < line) + 1;
    listed.splice(at, 0, { line, status, errors: errors.length > MAX_ISSUES ? [...errors.slice(0, MAX_ISSUES), moreIssues(errors.length - MAX_ISSUES)] : errors });
    if (listed.length > MAX_LISTED) listed.pop();
    return undefined;
  }

  #count(result: PublishResult): void {
    const summary = this.summary;
    summary.accepted += result.accepted;
    summary.duplicates += result.duplicates ?? 0;
    summary.first ??= result.first;
    summary.last = result.last ?? summary.last;
  }
}

function moreIssues(count: number): FieldIssue {
  return { path: "", message: `and ${count} more issues, not listed` };
}
