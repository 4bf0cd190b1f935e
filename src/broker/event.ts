/**
 * The event model: CloudEvents 1.0 plus the broker's `seq`, validated with Zod and
 * encoded to JSON once, at acceptance, for every subscriber to share.
 */
import { z } from "zod";
import { misspelledAttribute } from "./attribute-names.ts";
import { type FieldIssue, ValidationError } from "./errors.ts";
import { nonFinitePaths } from "./json-numbers.ts";
import { EVENT_TYPE, EVENT_TYPE_RULE } from "./type-pattern.ts";

/**
 * An accepted event: what delivery reads (seq, type) and its encoded CloudEvent, nothing
 * more, because the log retains thousands of them and each field is one more cell for
 * the garbage collector to visit.
 */
export interface AcceptedEvent {
  /** Broker-wide position: starts at 1, strictly increasing, never reused. */
  readonly seq: number;
  readonly type: string;
  /**
   * The CloudEvent with `seq`, as JSON text. Text rather than UTF-8 bytes: the runtimes
   * store ASCII text at a byte per character, as bytes would be, and whoever writes it out
   * encodes once per write (a pull of 1,000 events is one encoding), not once per event.
   */
  readonly json: string;
  /** The length of `json` in UTF-8 bytes: what stream buffers and the memory budget count. */
  readonly size: number;
}

/** A validated event with its defaults applied, waiting for its seq to be encoded. */
export interface PreparedEvent {
  readonly type: string;
  readonly source: string;
  readonly id: string;
  /** Whether the producer chose `id` (only those are deduplicated). */
  readonly producerId: boolean;
  /** The CloudEvent's attributes in their encoded order, `seq` included; acceptance sets it. */
  readonly attributes: Record<string, unknown>;
}

const EXTENSION_NAME = /^[a-z0-9]{1,20}$/;
const EXTENSION_RULE = "is not a CloudEvents attribute; extension names are 1-20 lowercase letters or digits";
const text = (max: number) =>
  z.string({ error: "must be a string" }).min(1, "must not be empty").max(max, `must be at most ${max} characters`);

/** What a producer may send; CloudEvents extension attributes are kept as given. */
export const eventInputSchema = z
  .object({
    specversion: z.literal("1.0", { error: 'must be "1.0"' }).optional(),
    type: z.string({ error: "is required: a string naming the event type" }).regex(EVENT_TYPE, EVENT_TYPE_RULE),
    id: text(256).optional(),
    source: text(1024).optional(),
    time: z.iso.datetime({ offset: true, error: "must be an RFC 3339 timestamp" }).optional(),
    datacontenttype: text(256).optional(),
    dataschema: text(1024).optional(),
    subject: text(1024).optional(),
    data: z.unknown().optional(),
    data_base64: z.base64({ error: "must be base64" }).optional(),
    // Assigned by the broker: ignored on input, so a consumed event can be re-published.
    seq: z.unknown().optional(),
    deliveries: z.unknown().optional(),
  }, { error: "must be an event object" })
  .catchall(z.union([z.string(), z.number(), z.boolean()], {
    // `"dta": {…}` fails here, before the names are checked: name the attribute it meant.
    error: (issue) => misspelling(issue.path?.at(-1)) ?? "must be a string, number or boolean (a CloudEvents extension attribute)",
  }))
  .superRefine((event, ctx) => {
    for (const key of Object.keys(event)) {
      if (Object.hasOwn(eventInputSchema.shape, key)) continue;
      const message = extensionNameProblem(key);
      if (message) ctx.addIssue({ code: "custom", path: [key], message });
    }
    if (event.data !== undefined && event.data_base64 !== undefined) {
      ctx.addIssue({ code: "custom", path: ["data_base64"], message: "must not be sent together with data" });
    }
  });

export type EventInput = z.infer<typeof eventInputSchema>;

/** What is wrong with `key` as an extension attribute's name, or undefined when nothing is. */
export function extensionNameProblem(key: string): string | undefined {
  return misspelling(key) ?? (EXTENSION_NAME.test(key) ? undefined : EXTENSION_RULE);
}

/** The message for an extension name that is probably a misspelled attribute (`sorce`), or undefined. */
function misspelling(key: PropertyKey | undefined): string | undefined {
  const meant = typeof key === "string" ? misspelledAttribute(key) : undefined;
  return meant && `is not a CloudEvents attribute; did you mean ${meant}?`;
}

/** Validates every input; throws one ValidationError naming every bad field, or none. */
export function validateEvents(inputs: readonly unknown[], pathPrefix: (index: number) => string): EventInput[] {
  const issues: FieldIssue[] = [];
  const valid: EventInput[] = [];
  inputs.forEach((input, index) => {
    // JSON.parse makes "__proto__" an own key, which Zod drops without a word.
    if (typeof input === "object" && input !== null && Object.hasOwn(input, "__proto__")) {
      issues.push({ path: `${pathPrefix(index)}/__proto__`, message: EXTENSION_RULE });
    }
    const result = eventInputSchema.safeParse(input);
    if (result.success) valid.push(result.data);
    else for (const issue of result.error.issues) {
      issues.push({ path: pathPrefix(index) + toPointer(issue.path), message: issue.message });
    }
  });
  if (issues.length > 0) throw new ValidationError(issues, "the event is not valid");
  return valid;
}

/**
 * Whether the broker places this input key itself; every other one is an extension
 * attribute, kept as given. A switch rather than a Set: it runs for every key of every
 * event, and JavaScriptCore answers it several times faster.
 */
function isPlacedKey(key: string): boolean {
  switch (key) {
    case "specversion":
    case "id":
    case "source":
    case "type":
    case "time":
    case "datacontenttype":
    case "dataschema":
    case "subject":
    case "seq":
    case "deliveries":
    case "data":
    case "data_base64":
      return true;
    default:
      return false;
  }
}

/**
 * Applies the defaults (generated id, source "/", time now); `seq` keeps its place, unset.
 * Every attribute has its place, extensions after them in the input's order, so an input
 * gives the same JSON whether Zod's copy of it or the input itself (the fast path's) comes here.
 */
export function prepareEvent(input: EventInput, nowIso: string, newId: () => string): PreparedEvent {
  const attributes: Record<string, unknown> = {
    specversion: "1.0",
    id: input.id ?? newId(),
    source: input.source ?? "/",
    type: input.type,
    time: input.time ?? nowIso,
    datacontenttype: input.datacontenttype ?? (input.data === undefined ? undefined : "application/json"),
    dataschema: input.dataschema,
    subject: input.subject,
  };
  for (const key in input) if (!isPlacedKey(key)) attributes[key] = input[key as keyof EventInput];
  attributes.seq = 0;
  attributes.data = input.data;
  attributes.data_base64 = input.data_base64;
  return { type: input.type, source: attributes.source as string, id: attributes.id as string, producerId: input.id !== undefined, attributes };
}

/**
 * Encodes a prepared event with its seq: the one encoding every subscriber shares. Throws
 * ValidationError when the runtime cannot encode `data`, so the broker accepts only
 * after every event of a publish has encoded.
 */
export function acceptEvent(prepared: PreparedEvent, seq: number): AcceptedEvent {
  prepared.attributes.seq = seq;
  const json = encodeOnce(prepared.attributes);
  return { seq, type: prepared.type, json, size: utf8Bytes(json) };
}

const utf8 = new TextEncoder();
const scratch = new Uint8Array(65_536);

/** The length of `text` in UTF-8 bytes. */
export function utf8Bytes(text: string): number {
  // Encoding into a scratch buffer is the runtimes' fastest count; it stops when the buffer is full.
  const { read, written } = utf8.encodeInto(text, scratch);
  return read === text.length ? written : utf8Length(text);
}

function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    // JSON.stringify escapes lone surrogates, so each surrogate here is half of a 4-byte pair.
    bytes += unit < 0x80 ? 1 : unit < 0x800 ? 2 : unit >= 0xd800 && unit <= 0xdfff ? 2 : 3;
  }
  return bytes;
}

function encodeOnce(attributes: Record<string, unknown>): string {
  let json: string;
  try {
    json = JSON.stringify(attributes);
  } catch {
    // JSON.parse accepts nesting that JSON.stringify overflows its stack on.
    throw new ValidationError([{ path: "/data", message: "is nested too deeply to encode" }]);
  }
  // JSON.stringify writes Infinity (JSON.parse's 1e400) and NaN as null: only an event whose text has "null" is walked.
  if (json.includes("null")) refuseNonFinite(attributes);
  return json;
}

function refuseNonFinite(attributes: Record<string, unknown>): void {
  const paths = nonFinitePaths(attributes);
  if (paths.length === 0) return;
  throw new ValidationError(paths.map((path) => ({ path: toPointer(path), message: "is a number JSON cannot carry (beyond ±1.8e308): it would arrive as null" })));
}

/** A Zod issue path as a JSON Pointer (RFC 6901). */
export function toPointer(path: readonly PropertyKey[]): string {
  return path.map((key) => "/" + String(key).replaceAll("~", "~0").replaceAll("/", "~1")).join("");
}
