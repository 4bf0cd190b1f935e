/**
 * What every request passes through on its way to the app, on either runtime: it gets an
 * absolute URL even without a `Host` header; it is timed by its connection's idle timer
 * unless held; a body that may take long is watched for silence instead (see
 * withBodyTimeout); and it is counted until answered, so that shutdown can wait for it.
 */
import { NDJSON_TYPES } from "../routes/ndjson.ts";
import { problemResponse } from "../routes/problem.ts";
import { withBodyTimeout } from "./body-watch.ts";
import type { ConnectionTimer } from "./connection-watch.ts";
import { InFlight } from "./in-flight.ts";
import type { BrokerServer } from "./server.ts";

/** A body declaring at most this many bytes arrives with its headers in practice, and is timed with them. */
const TIMED_WITH_HEADERS_BYTES = 65_536;

export class HttpEdge {
  readonly inFlight = new InFlight<Response>();
  /** Given to requests that name no host: the address the server listens on. */
  origin = "http://localhost";

  constructor(private readonly server: Pick<BrokerServer, "fetch">, private readonly bodyIdleTimeoutMs: number) {}

  /** The answer to `request`; never rejects. */
  fetch(request: Request, timer: ConnectionTimer): Promise<Response> {
    return this.inFlight.track(this.#answer(request, timer).catch(failed));
  }

  async #answer(original: Request, timer: ConnectionTimer): Promise<Response> {
    // Bun 1.4 gives a request without Host (HTTP/1.0, or `Host:` empty) a URL without origin, which nothing can route.
    const request = original.url.startsWith("/") ? new Request(this.origin + original.url, original) : original;
    let held = false;
    const bindings = {
      holdOpen: () => {
        held = true;
        timer.hold(original);
      },
    };
    if (isNdjson(original)) {
      // A line stream (tail -f … | curl -T -) may be silent for hours between lines: held, not timed.
      timer.hold(original);
      try {
        return await this.server.fetch(request, bindings);
      } finally {
        timer.release(original);
      }
    }
    if (!mayTakeLong(original)) {
      const response = await this.server.fetch(request, bindings);
      if (held && !isStream(response)) timer.release(original); // a pull: its connection idles by the rules again
      return response;
    }
    timer.hold(original);
    try {
      return await this.server.fetch(withBodyTimeout(request, this.bodyIdleTimeoutMs), bindings);
    } finally {
      timer.release(original);
    }
  }
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
