/**
 * `POST /events`: every body shape the contract accepts, one dispatch on the body itself.
 * `PUT /events` is the same: `curl -T -` (streaming a pipe, as the contract's NDJSON example
 * does) sends PUT unless told otherwise. `GET /events` reads kept events a page at a time.
 */
import { type Context, Hono } from "hono";
import { type Engine, type LogPage, parseOrThrow, type PublishOptions, ValidationError } from "../src/broker/mod.ts";
import { callerOf } from "./auth.ts";
import { type BodyLimits, isJsonLike, mediaTypeOf, parseJson, readBody, readText, unsupportedMediaType } from "./body.ts";
import { binaryModeError, eventFromBinary, isBinaryMode } from "./cloudevents-binary.ts";
import type { AppEnv } from "./env.ts";
import { ingestNdjson, NDJSON_TYPES } from "./ndjson.ts";
import { HttpProblem, problemResponse } from "./problem.ts";
import { readQuerySchema } from "./schemas.ts";
import { selectorOf } from "./selection.ts";

const READABLE = "application/json, application/cloudevents+json, application/cloudevents-batch+json, application/x-ndjson, or CloudEvents binary mode (ce-* headers)";

export function eventRoutes(broker: Engine, bodies: BodyLimits) {
  const publish = async (c: Context<AppEnv>) => {
    const mediaType = mediaTypeOf(c);
    const options = { allowTypes: callerOf(c)?.publish };
    const headers = c.req.raw.headers;
    const binaryMode = isBinaryMode(headers);
    if (NDJSON_TYPES.has(mediaType) && !binaryMode) return await publishStream(c, broker, bodies);
    const result = binaryMode
      ? await publishBinary(broker, headers, await readBody(c, bodies), mediaType, options)
      : await publishStructured(broker, await readText(c, bodies), mediaType, options);
    return c.json(result, 202);
  };
  return new Hono<AppEnv>().post("/", publish).put("/", publish).get("/", async (c) => {
    const query = parseOrThrow(readQuerySchema, c.req.query());
    const page = await broker.read(Number(query.after), Number(query.limit), selectorOf(query, callerOf(c)));
    return c.body(pageBody(page), 200, { "Content-Type": "application/json" });
  });
}

/** `{"events":[…],"through":…,"lastSeq":…}`, each event's stored JSON as it is. */
function pageBody({ events, through, lastSeq, gap }: LogPage): string {
  return `{"events":[${events.map((event) => event.json).join(",")}],"through":${through},"lastSeq":${lastSeq}${gap ? `,"gap":${JSON.stringify(gap)}` : ""}}`;
}

function publishStructured(broker: Engine, text: string, mediaType: string, options: PublishOptions) {
  if (mediaType === "application/cloudevents+json") return broker.send(parseJson(text), options);
  if (mediaType === "application/cloudevents-batch+json") return broker.sendBatch(asBatch(parseJson(text)), options);
  if (mediaType !== "application/json" && !isJsonLike(mediaType)) throw unsupportedMediaType(mediaType, READABLE);
  if (mediaType !== "application/json" && !/^\s*[[{]/.test(text)) throw unsupportedMediaType(mediaType, READABLE);
  const parsed = parseJson(text);
  return Array.isArray(parsed) ? broker.sendBatch(parsed, options) : broker.send(parsed, options);
}

async function publishBinary(broker: Engine, headers: Headers, body: Uint8Array, mediaType: string, options: PublishOptions) {
  try {
    return await broker.send(eventFromBinary(headers, body, mediaType), options);
  } catch (error) {
    throw error instanceof ValidationError ? binaryModeError(error) : error;
  }
}

function asBatch(parsed: unknown): unknown[] {
  if (Array.isArray(parsed)) return parsed;
  throw new HttpProblem(400, "invalid", "a CloudEvents batch must be a JSON array of events", [{ path: "", message: "must be an array" }]);
}

/** An NDJSON body, accepted line by line as it arrives; the answer sums it up when it ends. */
async function publishStream(c: Context<AppEnv>, broker: Engine, { maxBytes: maxLineBytes, incoming }: BodyLimits): Promise<Response> {
  c.env?.holdOpen?.(c.req.raw); // a producer may pause between lines for longer than an idle timeout
  const caller = callerOf(c);
  const request = c.req.raw;
  const { summary, end } = await ingestNdjson(broker, request.body, { maxLineBytes, incoming, allowTypes: caller?.publish, expiresAt: caller?.expiresAt, signal: request.signal });
  const unread = "the lines after those summed up were not read";
  // The rest of the body will not be read: the connection cannot carry another request.
  const closing = { Connection: "close" };
  if (end === "closed") return problemResponse(503, "closed", `the broker is shutting down: ${unread}`, { summary }, closing);
  if (end === "incoming-full") {
    return problemResponse(503, "incoming-full", `a line longer than the broker may hold now among the bodies still arriving (maxIncomingBytes): ${unread}`, { summary }, closing);
  }
  if (end === "token-expired") {
    return problemResponse(401, "unauthorized", `the token expired while the body was being read: ${unread}`, { summary }, { ...closing, "WWW-Authenticate": 'Bearer realm="event-broker"' });
  }
  return c.json(summary, 200);
}
