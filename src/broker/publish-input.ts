/**
 * From a publish's inputs to encoded events: validation, defaults, the caller's grant, and
 * the one encoding every subscriber shares. Every engine publishes through these, so an
 * event is the same whichever keeps it.
 */
import { ForbiddenTypeError, ValidationError } from "./errors.ts";
import { acceptEvent, type AcceptedEvent, type EventInput, type PreparedEvent, prepareEvent, validateEvents } from "./event.ts";
import { vouchedEvent } from "./event-fast-path.ts";
import { matchesAny } from "./type-pattern.ts";

/**
 * The inputs validated, with their defaults applied; throws ValidationError naming every
 * bad field, or ForbiddenTypeError for a type outside `allowTypes`.
 */
export function prepareInputs(inputs: readonly unknown[], pathOf: (index: number) => string, nowIso: string, newId: () => string, allowTypes?: readonly string[]): PreparedEvent[] {
  const prepared = validInputs(inputs, pathOf).map((input) => prepareEvent(input, nowIso, newId));
  if (allowTypes) {
    const index = prepared.findIndex((event) => !matchesAny(allowTypes, event.type));
    if (index !== -1) throw new ForbiddenTypeError(prepared[index].type, pathOf(index) + "/type");
  }
  return prepared;
}

/** The inputs as events: each vouched for by the fast path or, if one is not, all validated by Zod, which names every bad field. */
function validInputs(inputs: readonly unknown[], pathOf: (index: number) => string): EventInput[] {
  const valid: EventInput[] = [];
  for (const input of inputs) {
    const event = vouchedEvent(input);
    if (event === undefined) return validateEvents(inputs, pathOf);
    valid.push(event);
  }
  return valid;
}

/** The events with seqs from `first`; a ValidationError names the input of the event that could not be encoded. */
export function encodeEvents(events: readonly PreparedEvent[], first: number, inputPath: (event: PreparedEvent) => string): AcceptedEvent[] {
  const accepted: AcceptedEvent[] = [];
  try {
    for (const event of events) accepted.push(acceptEvent(event, first + accepted.length));
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    const prefix = inputPath(events[accepted.length]);
    throw new ValidationError(error.issues.map((issue) => ({ ...issue, path: prefix + issue.path })));
  }
  return accepted;
}

/**
 * An event encoded before its seq is known: the JSON either side of the seq's digits, for
 * a store that gives the seq as it appends. `seq` comes before `data` and after attributes
 * whose values cannot hold a raw quote, so its first `"seq":` is the event's own.
 */
export interface EventTemplate {
  readonly type: string;
  readonly head: string;
  readonly tail: string;
  /** UTF-8 bytes of head and tail. */
  readonly size: number;
}

export function templatesOf(events: readonly PreparedEvent[], inputPath: (event: PreparedEvent) => string): EventTemplate[] {
  return events.map((prepared) => {
    const [event] = encodeEvents([prepared], 0, inputPath); // each with seq 0, so the split below finds it
    const at = event.json.indexOf('"seq":0') + 6;
    const head = event.json.slice(0, at);
    const tail = event.json.slice(at + 1);
    return { type: event.type, head, tail, size: event.size - 1 }; // less the seq's one digit
  });
}

/** ISO 8601 text of a time, remembered for the last millisecond asked: publishes in one millisecond share it. */
export function isoTimeFormatter(): (ms: number) => string {
  let last = { ms: Number.NaN, text: "" };
  return (ms) => {
    if (ms !== last.ms) last = { ms, text: new Date(ms).toISOString() };
    return last.text;
  };
}
