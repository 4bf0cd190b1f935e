/** Reading request bodies: JSON whatever the client called it, within the size limit. */
import type { Context, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HttpProblem, problemResponse } from "./problem.ts";

/** Content types whose body is read as JSON: curl's `-d` default and fetch's string default included. */
const JSON_LIKE = new Set(["", "application/json", "application/x-www-form-urlencoded", "text/plain"]);

/** The media type alone, lower-cased, without parameters. */
export function mediaTypeOf(c: Context): string {
  return (c.req.header("content-type") ?? "").split(";")[0].trim().toLowerCase();
}

/**
 * Refuses bodies over `maxBodyBytes` with 413, before any is parsed. A declared length
 * is trusted (the server reads no more than it); only other bodies are counted as they
 * stream in, because touching `request.body` turns Bun's native body into a stream.
 */
export function limitBodySize(maxBodyBytes: number): MiddlewareHandler {
  const tooLarge = () => problemResponse(413, "body-too-large", `the body is larger than ${maxBodyBytes} bytes`);
  const countingLimit = bodyLimit({ maxSize: maxBodyBytes, onError: tooLarge });
  return (c, next) => {
    const headers = c.req.raw.headers;
    const length = headers.get("content-length");
    if (length === null || headers.has("transfer-encoding")) return countingLimit(c, next);
    return Number(length) > maxBodyBytes ? Promise.resolve(tooLarge()) : next();
  };
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    const reason = error instanceof RangeError ? "it is nested too deeply" : (error as Error).message;
    throw new HttpProblem(400, "invalid-json", `the body is not valid JSON: ${reason}`, [{ path: "", message: "is not valid JSON" }]);
  }
}

/** The body of a JSON request to a management route; empty means `{}`. */
export async function readJsonBody(c: Context): Promise<unknown> {
  const type = mediaTypeOf(c);
  if (!JSON_LIKE.has(type) && !type.endsWith("+json")) throw unsupportedMediaType(type, "application/json");
  const text = await c.req.text();
  return text.trim() === "" ? {} : parseJson(text);
}

export function isJsonLike(type: string): boolean {
  return JSON_LIKE.has(type);
}

export function unsupportedMediaType(type: string, wanted: string): HttpProblem {
  return new HttpProblem(415, "unsupported-media-type", `content type "${type}" cannot be read; send ${wanted}`);
}
