/** Reading request bodies: JSON whatever the client called it, within the size limit. */
import type { Context } from "hono";
import { HttpProblem } from "./problem.ts";

/** Content types whose body is read as JSON: curl's `-d` default and fetch's string default included. */
const JSON_LIKE = new Set(["", "application/json", "application/x-www-form-urlencoded", "text/plain"]);

/** The media type alone, lower-cased, without parameters. */
export function mediaTypeOf(c: Context): string {
  return (c.req.header("content-type") ?? "").split(";")[0].trim().toLowerCase();
}

/**
 * The body's bytes; 413 over `maxBytes`, before any is parsed. A declared length is
 * checked before reading (the server reads no more than it declares); other bodies are
 * counted as they stream in. Reading is done here, not in a middleware, so that
 * `POST /events` stays a single handler, which Hono runs without composing a chain.
 */
export async function readBody(c: Context, maxBytes: number): Promise<Uint8Array> {
  return hasDeclaredLength(c, maxBytes) ? new Uint8Array(await c.req.arrayBuffer()) : await readCounted(c.req.raw.body, maxBytes);
}

/**
 * The body as text, within `maxBytes` as `readBody`; 400 when it is not UTF-8, which JSON
 * text must be. The runtimes' own `text()` would turn each bad byte into U+FFFD, making two
 * different producer ids one, and duplicates of each other.
 */
export async function readText(c: Context, maxBytes: number): Promise<string> {
  const text = decodeUtf8(await readBody(c, maxBytes));
  if (text === undefined) throw new HttpProblem(400, "invalid-json", "the body is not valid UTF-8", [{ path: "", message: "is not valid UTF-8" }]);
  return text;
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** The text of UTF-8 `bytes`, or undefined when they are not UTF-8. */
export function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/** Whether the request declares its length; throws 413 when that length is over `maxBytes`. */
function hasDeclaredLength(c: Context, maxBytes: number): boolean {
  const length = c.req.header("content-length");
  if (length === undefined || c.req.header("transfer-encoding") !== undefined) return false;
  if (Number(length) > maxBytes) throw bodyTooLarge(maxBytes);
  return true;
}

async function readCounted(body: ReadableStream<Uint8Array> | null, maxBytes: number): Promise<Uint8Array> {
  if (!body) return new Uint8Array(0);
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (let read = await reader.read(); !read.done; read = await reader.read()) {
    size += read.value.length;
    if (size > maxBytes) {
      reader.cancel().catch(() => {}); // the rest is never read
      throw bodyTooLarge(maxBytes);
    }
    chunks.push(read.value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}

function bodyTooLarge(maxBytes: number): HttpProblem {
  return new HttpProblem(413, "body-too-large", `the body is larger than ${maxBytes} bytes`);
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
export async function readJsonBody(c: Context, maxBytes: number): Promise<unknown> {
  const type = mediaTypeOf(c);
  if (!JSON_LIKE.has(type) && !type.endsWith("+json")) throw unsupportedMediaType(type, "application/json");
  const text = await readText(c, maxBytes);
  return text.trim() === "" ? {} : parseJson(text);
}

export function isJsonLike(type: string): boolean {
  return JSON_LIKE.has(type);
}

export function unsupportedMediaType(type: string, wanted: string): HttpProblem {
  return new HttpProblem(415, "unsupported-media-type", `content type "${type}" cannot be read; send ${wanted}`);
}
