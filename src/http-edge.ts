/**
 * What every request passes through on its way to the app, on either runtime: it gets an
 * absolute URL even without a `Host` header; it is timed by its connection's idle timer
 * unless held; a body that may take long is watched for silence instead (see
 * withBodyTimeout); and it is counted until answered, so that shutdown can wait for it.
 */
import type { Hono } from "hono";
import type { AppEnv } from "../routes/env.ts";
import { NDJSON_TYPES } from "../routes/ndjson.ts";
import { problemResponse } from "../routes/problem.ts";
import { withBodyTimeout } from "./body-watch.ts";
import type { ConnectionTimer } from "./connection-watch.ts";
import { InFlight } from "./in-flight.ts";

/** A body declaring at most this many bytes arrives with its headers in practice, and is timed with them. */
const TIMED_WITH_HEADERS_BYTES = 65_536;

export class HttpEdge {
  readonly inFlight = new InFlight<Response>();
  /** Given to requests that name no host: the address the server listens on. */
  origin = "http://localhost";

  constructor(private readonly app: Hono<AppEnv>, private readonly bodyIdleTimeoutMs: number) {}

  /** The answer to `request`; never rejects. */
  fetch(request: Request, timer: ConnectionTimer): Promise<Response> {
    // A line stream (tail -f … | curl -T -) may be silent for hours between lines: held, not timed.
    if (isNdjson(request)) return this.inFlight.track(this.#answerHeld(request, request, timer));
    if (mayTakeLong(request)) return this.inFlight.track(this.#answerHeld(request, withBodyTimeout(request, this.bodyIdleTimeoutMs), timer));
    return this.#answerQuick(request, timer);
  }

  /**
   * A request whose body came with its headers: timed by its connection, and only counted
   * while in flight, in this one async call, since the time it takes to answer is its own:
   * no promise more per request (most requests are these, and each promise costs).
   */
  async #answerQuick(original: Request, timer: ConnectionTimer): Promise<Response> {
    this.inFlight.enter();
    let held = false;
    const hold = () => {
      held = true;
      timer.hold(original);
    };
    try {
      const response = await this.app.fetch(withOrigin(original, this.origin), { holdOpen: hold });
      if (held && !isStream(response)) timer.release(original); // a pull: its connection idles by the rules again
      return response;
    } catch (error) {
      return failed(error);
    } finally {
      this.inFlight.leave();
    }
  }

  /** A request whose body may still be arriving: held from its connection's timer, and answered early (503) at shutdown. */
  async #answerHeld(original: Request, request: Request, timer: ConnectionTimer): Promise<Response> {
    timer.hold(original);
    try {
      return await this.app.fetch(withOrigin(request, this.origin), { holdOpen: () => {} });
    } catch (error) {
      return failed(error);
    } finally {
      timer.release(original);
    }
  }
}

/** Bun 1.4 gives a request without Host (HTTP/1.0, or `Host:` empty) a URL without origin, which nothing can route. */
function withOrigin(request: Request, origin: string): Request {
  return request.url.startsWith("/") ? new Request(origin + request.url, request) : request;
}

/** Whether a request's body may take longer than its headers: chunked, or declared large. */
function mayTakeLong(request: Request): boolean {
  if (request.method === "GET" || request.method === "HEAD") return false;
  const length = request.headers.get("content-length");
  if (length !== null && !request.headers.has("transfer-encoding")) return Number(length) > TIMED_WITH_HEADERS_BYTES;
  return request.body !== null;
}

function isNdjson(request: Request): boolean {
  const mediaType = (request.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
  return (request.method === "POST" || request.method === "PUT") && NDJSON_TYPES.has(mediaType);
}

function isStream(response: Response): boolean {
  return response.headers.get("content-type")?.startsWith("text/event-stream") ?? false;
}

function failed(error: unknown): Response {
  console.error(`a request failed before the app could answer: ${error instanceof Error && error.stack ? error.stack : String(error)}`);
  return problemResponse(500, "internal", "the broker failed to handle this request");
}
