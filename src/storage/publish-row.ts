/**
 * How the SQLite journal keeps a publish in one row: a line with each event's type, then
 * one with its JSON (neither can hold "\n"), deflated together once they are large enough
 * to gain from it, as Kafka compresses a record batch. The events of a publish repeat each
 * other's names and values, and bytes written, not compressing them, are what a commit
 * costs (a system call per page, in the write-ahead log and again at the checkpoint).
 */
import { deflateRawSync, inflateRawSync } from "node:zlib";
import { type JournalEvent, utf8Bytes } from "../broker/mod.ts";

/** Smaller rows are kept as text: deflating them would save no page, and a call costs 3–10 µs. */
const DEFLATE_FROM_BYTES = 1_024;
const NEWLINE = 0x0a;

export interface PublishRow {
  first: number;
  last: number;
  accepted_at: number;
  /** The lines as text, or deflated. */
  events: string | Uint8Array;
  /** Which events carry an id their producer chose, a "1" or "0" each; null for none. Their `source` and `id` are in their JSON. */
  producers: string | null;
}

type StoredEvent = Pick<JournalEvent, "type" | "json" | "producer">;

export function storedEvents(events: readonly StoredEvent[]): Pick<PublishRow, "events" | "producers"> {
  let length = 0;
  for (const event of events) length = appendLine(event.json, appendLine(event.type, length));
  const lines = scratch.subarray(0, length - 1);
  const stored = length > DEFLATE_FROM_BYTES ? deflateRawSync(lines, { level: 1 }) : utf8.decode(lines);
  if (scratch.length > KEPT_SCRATCH_BYTES) scratch = new Uint8Array(INITIAL_SCRATCH_BYTES); // grown for an unusually large publish
  return {
    events: stored,
    producers: events.some((event) => event.producer) ? events.map((event) => (event.producer ? "1" : "0")).join("") : null,
  };
}

/** With `withProducers`, each event's producer pair, read from its JSON: only the dedupe window needs it. */
export function eventsOf(row: PublishRow, withProducers: boolean): JournalEvent[] {
  const lines = (typeof row.events === "string" ? row.events : utf8.decode(inflateRawSync(row.events))).split("\n");
  const flags = withProducers ? row.producers : null;
  const events: JournalEvent[] = [];
  for (let index = 0; index * 2 < lines.length; index++) {
    const [type, json] = [lines[index * 2], lines[index * 2 + 1]];
    const event = { seq: row.first + index, type, json, size: utf8Bytes(json), batch: row.first, acceptedAt: row.accepted_at };
    events.push(flags?.[index] === "1" ? { ...event, producer: producerOf(json) } : event);
  }
  return events;
}

function producerOf(json: string): { source: string; id: string } {
  const { source, id } = JSON.parse(json) as { source: string; id: string };
  return { source, id };
}

const utf8 = new TextDecoder();
const encoder = new TextEncoder();
const INITIAL_SCRATCH_BYTES = 64 * 1024;
const KEPT_SCRATCH_BYTES = 1024 * 1024;
/** Where a publish's lines are encoded (one string of them all would cost more); grows for a larger publish, kept up to 1 MiB. */
let scratch: Uint8Array = new Uint8Array(INITIAL_SCRATCH_BYTES);

/** Writes `text` and a newline into the scratch buffer at `at`; returns where they end. */
function appendLine(text: string, at: number): number {
  const room = text.length * 3 + 1; // UTF-8 takes at most 3 bytes per UTF-16 unit
  if (scratch.length - at < room) scratch = grown(scratch, at + room);
  const end = at + encoder.encodeInto(text, scratch.subarray(at)).written;
  scratch[end] = NEWLINE;
  return end + 1;
}

function grown(buffer: Uint8Array, atLeast: number): Uint8Array {
  const larger = new Uint8Array(Math.max(atLeast, buffer.length * 2));
  larger.set(buffer);
  return larger;
}
