/**
 * How the SQLite journal keeps a publish in one row: a line with each event's type, then
 * one with its JSON (neither can hold "\n"), deflated together once they are large enough
 * to gain from it, as Kafka compresses a record batch. The events of a publish repeat each
 * other's names and values, and bytes written, not compressing them, are what a commit
 * costs (a system call per page, in the write-ahead log and again at the checkpoint).
 */
import { deflateRawSync, inflateRawSync } from "node:zlib";
import { type JournalEvent, utf8Bytes } from "../broker/mod.ts";

/** Rows of fewer bytes are kept as text: deflating them would save no page, and a call costs 3–10 µs. */
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

export function encodePublish(events: readonly StoredEvent[]): Pick<PublishRow, "events" | "producers"> {
  let length = 0;
  for (const event of events) length = appendLine(event.json, appendLine(event.type, length));
  const lines = scratch.subarray(0, length - 1);
  const stored = lines.length >= DEFLATE_FROM_BYTES ? deflateRawSync(lines, { level: 1 }) : decoder.decode(lines);
  if (scratch.length > KEPT_SCRATCH_BYTES) scratch = new Uint8Array(INITIAL_SCRATCH_BYTES); // grown for an unusually large publish
  return {
    events: stored,
    producers: events.some((event) => event.producer) ? events.map((event) => (event.producer ? "1" : "0")).join("") : null,
  };
}

/** With `withProducers`, each event's producer pair, read from its JSON: only the dedupe window needs it. */
export function decodePublish(row: PublishRow, withProducers: boolean): JournalEvent[] {
  const lines = (typeof row.events === "string" ? row.events : decoder.decode(inflateRawSync(row.events))).split("\n");
  const flags = withProducers ? row.producers : null;
  const events: JournalEvent[] = [];
  for (let index = 0; index * 2 < lines.length; index++) {
    const type = lines[index * 2];
    const json = lines[index * 2 + 1];
    const event = { seq: row.first + index, type, json, size: utf8Bytes(json), batch: row.first, acceptedAt: row.accepted_at };
    events.push(flags?.[index] === "1" ? { ...event, producer: producerOf(json) } : event);
  }
  return events;
}

/**
 * The core writes `id` then `source` first (prepareEvent): they are read without parsing
 * the rest, which may be large (a restart reads up to `dedupeMaxEntries` of them). Any
 * other shape is parsed whole.
 */
export function producerOf(json: string): { source: string; id: string } {
  const idEnd = json.startsWith(ID_FIRST) ? endOfString(json, ID_FIRST.length) : -1;
  const sourceEnd = idEnd !== -1 && json.startsWith(SOURCE_NEXT, idEnd) ? endOfString(json, idEnd + SOURCE_NEXT.length) : -1;
  if (sourceEnd !== -1) return { id: JSON.parse(json.slice(ID_FIRST.length, idEnd)), source: JSON.parse(json.slice(idEnd + SOURCE_NEXT.length, sourceEnd)) };
  const { source, id } = JSON.parse(json) as { source: string; id: string };
  return { source, id };
}

const ID_FIRST = '{"specversion":"1.0","id":';
const SOURCE_NEXT = ',"source":';

/** The index just past the JSON string that opens at `start`, or -1 when none does. */
function endOfString(json: string, start: number): number {
  if (json.charCodeAt(start) !== QUOTE) return -1;
  for (let i = start + 1; i < json.length; i++) {
    const unit = json.charCodeAt(i);
    if (unit === BACKSLASH) i++; // the escaped unit cannot end the string
    else if (unit === QUOTE) return i + 1;
  }
  return -1;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const decoder = new TextDecoder();
const encoder = new TextEncoder();
const INITIAL_SCRATCH_BYTES = 64 * 1024;
const KEPT_SCRATCH_BYTES = 1024 * 1024;
/** Where a publish's lines are encoded (one string of them all would cost more); grown for a larger publish, and let go after one past 1 MiB. */
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
