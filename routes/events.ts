/** `POST /events`: every body shape the contract accepts, one dispatch on the body itself. */
import { Hono } from "hono";
import { type Broker, type PublishOptions, ValidationError } from "../src/broker/mod.ts";
import { callerOf } from "./auth.ts";
import { isJsonLike, mediaTypeOf, parseJson, readBody, readText, unsupportedMediaType } from "./body.ts";
import { binaryModeError, eventFromBinary, isBinaryMode } from "./cloudevents-binary.ts";
import type { AppEnv } from "./env.ts";
import { HttpProblem } from "./problem.ts";

const READABLE = "application/json, application/cloudevents+json, application/cloudevents-batch+json, or CloudEvents binary mode (ce-* headers)";

export function eventRoutes(broker: Broker, maxBodyBytes: number) {
  return new Hono<AppEnv>().post("/", async (c) => {
    const mediaType = mediaTypeOf(c);
    const options = { allowTypes: callerOf(c)?.publish };
    const headers = c.req.raw.headers;
    const result = isBinaryMode(headers)
      ? publishBinary(broker, headers, await readBody(c, maxBodyBytes), mediaType, options)
      : publishStructured(broker, await readText(c, maxBodyBytes), mediaType, options);
    return c.json(result, 202);
  });
}

function publishStructured(broker: Broker, text: string, mediaType: string, options: PublishOptions) {
  if (mediaType === "application/cloudevents+json") return broker.send(parseJson(text), options);
  if (mediaType === "application/cloudevents-batch+json") return broker.sendBatch(asBatch(parseJson(text)), options);
  if (mediaType !== "application/json" && !isJsonLike(mediaType)) throw unsupportedMediaType(mediaType, READABLE);
  if (mediaType !== "application/json" && !/^\s*[[{]/.test(text)) throw unsupportedMediaType(mediaType, READABLE);
  const parsed = parseJson(text);
  return Array.isArray(parsed) ? broker.sendBatch(parsed, options) : broker.send(parsed, options);
}

function publishBinary(broker: Broker, headers: Headers, body: Uint8Array, mediaType: string, options: PublishOptions) {
  try {
    return broker.send(eventFromBinary(headers, body, mediaType), options);
  } catch (error) {
    throw error instanceof ValidationError ? binaryModeError(error) : error;
  }
}

function asBatch(parsed: unknown): unknown[] {
  if (Array.isArray(parsed)) return parsed;
  throw new HttpProblem(400, "invalid", "a CloudEvents batch must be a JSON array of events", [{ path: "", message: "must be an array" }]);
}
