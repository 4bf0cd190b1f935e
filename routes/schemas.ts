/**
 * The Zod schemas of the HTTP API beyond the core's: request bodies and queries the
 * routes validate with, and the answers they give. `/openapi.json` is generated from
 * these and the core's schemas, so the document cannot drift from the code.
 */
import { z } from "zod";

const SEQ_TEXT = /^\d{1,15}$/;
const wholeNumber = (what: string) => z.number({ error: `must be ${what}` }).int("must be a whole number");
const seq = wholeNumber("a seq").min(0, "must not be negative");

const streamQueryShape = {
  types: z.string().optional().describe("Comma list of type patterns: `order.filled`, `trade.*`, `*`."),
  since: z.string().regex(SEQ_TEXT, "must be a seq: a whole number, 0 or more").optional().describe("Replay kept events after this seq."),
  named: z.enum(["1", "0", "true", "false"], { error: 'must be "1" or "0"' }).optional().describe("Add `event: <type>` to each event."),
  source: z.string().min(1, "must not be empty").optional().describe("Only events with exactly this `source`."),
  subject: z.string().min(1, "must not be empty").optional().describe("Only events with exactly this `subject`."),
  filter: z.string().optional().describe('A CloudEvents Subscriptions API filter, or an array of them, as JSON: `{"prefix":{"subject":"orders/"}}`.'),
  access_token: z.string().optional().describe("A token, for clients that cannot send Authorization (EventSource)."),
  // The Last-Event-ID header, or the query parameter event-source-polyfill sends it as on reconnect.
  lastEventId: z.string().regex(SEQ_TEXT, "must be the seq of the last event received").optional(),
};

/** An unknown parameter is refused: ignored, a misspelled `?type=x` would stream every type without a word. */
export const streamQuerySchema = z.object(streamQueryShape).catchall(
  z.undefined({ error: `is not a parameter of the stream; it takes ${Object.keys(streamQueryShape).join(", ")}` }),
);

/** `GET /events`: a page of kept events after a seq, selected like a stream. */
export const readQuerySchema = z.strictObject({
  after: z.string().regex(SEQ_TEXT, "must be a seq: a whole number, 0 or more").default("0").describe("Events after this seq."),
  limit: z.string().regex(/^\d{1,5}$/, "must be a number of events").default("1000").refine((limit) => Number(limit) >= 1 && Number(limit) <= 10_000, "must be 1 to 10000").describe("Most events examined (1,000; at most 10,000)."),
  types: z.string().optional(),
  source: z.string().min(1, "must not be empty").optional(),
  subject: z.string().min(1, "must not be empty").optional(),
  filter: z.string().optional(),
  access_token: z.string().optional(),
});

export function pullRequestSchema(maxWaitMs: number, defaultWaitMs: number) {
  return z.strictObject({
    max: wholeNumber("a number of events").min(1, "must be at least 1").max(10_000, "must be at most 10000").default(100),
    waitMs: wholeNumber("a number of milliseconds").min(0, "must not be negative").max(maxWaitMs, `must be at most ${maxWaitMs}`).default(defaultWaitMs),
    ack: seq.optional().describe("Acknowledge through this seq before pulling."),
  });
}

export const seqRequestSchema = z.strictObject({ seq });
export const extendRequestSchema = z.strictObject({
  ms: wholeNumber("a number of milliseconds").min(1, "must be at least 1").max(86_400_000, "must be at most 86400000"),
});
export const patchRequestSchema = z.strictObject({ paused: z.boolean({ error: "must be true or false" }) });

export const publishResultSchema = z.object({
  accepted: z.number().int(),
  first: z.number().int().nullable(),
  last: z.number().int().nullable(),
  duplicates: z.number().int().optional(),
  duplicateSeqs: z.array(z.number().int()).optional(),
});

export const streamSummarySchema = z.object({
  accepted: z.number().int(),
  first: z.number().int().nullable().describe("The seq of the first event accepted from this body; others' events may lie between first and last."),
  last: z.number().int().nullable(),
  duplicates: z.number().int(),
  rejected: z.number().int().describe("Bad lines: every one counted, the first 100 listed in `errors`."),
  errors: z.array(z.object({
    line: z.number().int().describe("Numbered from 1 as the lines came, blank ones included."),
    status: z.union([z.literal(400), z.literal(403), z.literal(413)]).describe("400 unreadable or invalid, 403 a type the token may not publish, 413 longer than maxBodyBytes."),
    errors: z.array(z.object({ path: z.string(), message: z.string() })),
  })),
});

export const deliveredEventSchema = z.looseObject({
  specversion: z.literal("1.0"),
  id: z.string(),
  source: z.string(),
  type: z.string(),
  time: z.string(),
  seq: z.number().int(),
  deliveries: z.number().int().optional(),
});

export const eventsAnswerSchema = z.object({ events: z.array(deliveredEventSchema) });

export const subscriptionSchema = z.object({
  id: z.string(),
  kind: z.enum(["required", "stream"]),
  types: z.array(z.string()),
  paused: z.boolean(),
  created: z.string(),
  delivered: z.number().int(),
  backlog: z.number().int(),
  dropped: z.number().int(),
  name: z.string().optional(),
  filters: z.array(z.record(z.string(), z.unknown())).describe("CloudEvents Subscriptions API filters, ANDed with `types`."),
  ackedSeq: z.number().int().optional(),
  lastDeliveredSeq: z.number().int().optional(),
  redelivered: z.number().int().optional(),
  parked: z.number().int().optional(),
  ackTimeoutMs: z.number().int().optional(),
  maxBacklog: z.number().int().optional(),
  expireAfterMs: z.number().int().optional(),
  maxDeliveries: z.number().int().optional(),
});

export const ackAnswerSchema = z.object({ ackedSeq: z.number().int(), backlog: z.number().int() });
export const extendAnswerSchema = z.object({ leaseExpiresAt: z.string() });

export const problemSchema = z.looseObject({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  detail: z.string(),
  errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
});
