/** `GET /events/stream`: a live stream subscription over Server-Sent Events. */
import { Hono } from "hono";
import { type Engine, parseOrThrow, typePatternsSchema, ValidationError } from "../src/broker/mod.ts";
import { allowedTypes, callerOf } from "./auth.ts";
import type { AppEnv } from "./env.ts";
import { streamQuerySchema } from "./schemas.ts";
import { HttpProblem } from "./problem.ts";
import { SSE_HEADERS, type SseHub } from "./sse.ts";

export interface StreamRouteOptions {
  readonly retryMs: number;
}

export function streamRoutes(broker: Engine, hub: SseHub, options: StreamRouteOptions) {
  return new Hono<AppEnv>().get("/", async (c) => {
    const params = c.req.query();
    const query = parseOrThrow(streamQuerySchema, { ...params, lastEventId: c.req.header("last-event-id") ?? params.lastEventId });
    // EventSource sends Last-Event-ID on reconnect while the URL keeps the first ?since.
    const since = query.lastEventId ?? query.since;
    const caller = callerOf(c);
    const types = allowedTypes(caller, parseOrThrow(typePatternsSchema, parseTypes(query.types), "/types"));
    const { filters, origins } = filtersOf(query);
    const subscription = await namingParameters(origins, () =>
      broker.openStream({ types, filters, since: since === undefined ? undefined : Number(since) }, { owner: caller?.sub })
    );
    const expiry = endAtExpiry(broker, subscription.id, caller?.expiresAt);
    const connection = hub.open(subscription, {
      retryMs: options.retryMs,
      named: query.named === "1" || query.named === "true",
      onEnd: () => {
        clearTimeout(expiry);
        void broker.remove(subscription.id, "client-gone").catch(() => {});
      },
    });
    c.req.raw.signal.addEventListener("abort", () => connection.end(), { once: true });
    c.env?.holdOpen?.(c.req.raw);
    return new Response(connection.body(), { headers: SSE_HEADERS });
  });
}

/** Timers run at most 2^31 - 1 ms; a token valid for longer than that outlives most streams anyway. */
const LONGEST_TIMER_MS = 2_147_483_647;

/** Ends the stream with `broker.closing {"reason":"token-expired"}` when its token expires. */
function endAtExpiry(broker: Engine, id: string, expiresAt: number | undefined) {
  if (expiresAt === undefined || expiresAt - Date.now() > LONGEST_TIMER_MS) return undefined;
  return setTimeout(() => void broker.remove(id, "token-expired").catch(() => {}), Math.max(0, expiresAt - Date.now()));
}

/**
 * `?source=` and `?subject=` as exact filters, and `?filter=` (one filter or an array, as
 * JSON), all ANDed; `origins` names the parameter each filter came from.
 */
function filtersOf(query: { source?: string; subject?: string; filter?: string }): { filters: unknown[]; origins: string[] } {
  const filters: unknown[] = [];
  const origins: string[] = [];
  const add = (filter: unknown, origin: string) => {
    filters.push(filter);
    origins.push(origin);
  };
  if (query.source !== undefined) add({ exact: { source: query.source } }, "source");
  if (query.subject !== undefined) add({ exact: { subject: query.subject } }, "subject");
  if (query.filter !== undefined) {
    const parsed = parseFilterParameter(query.filter);
    if (Array.isArray(parsed)) parsed.forEach((filter, index) => add(filter, `filter/${index}`));
    else add(parsed, "filter");
  }
  return { filters, origins };
}

/** Runs `open`, naming a bad filter by the query parameter it came from (`filter/exact/Region`), not its place in the list. */
async function namingParameters<T>(origins: readonly string[], open: () => Promise<T>): Promise<T> {
  try {
    return await open();
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    throw new ValidationError(error.issues.map((issue) => {
      const match = /^\/filters\/(\d+)(.*)$/.exec(issue.path);
      if (!match) return issue.path === "/filters" ? { ...issue, path: "filter" } : issue;
      return { ...issue, path: origins[Number(match[1])] + match[2] };
    }), error.message);
  }
}

function parseFilterParameter(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpProblem(400, "invalid", "the filter parameter is not JSON", [{ path: "filter", message: "must be a filter as JSON, for example {\"prefix\":{\"subject\":\"orders/\"}}" }]);
  }
}

/** `a,b.*` as a list; absent, empty or `*` means every type. */
function parseTypes(types: string | undefined): string[] {
  const list = (types ?? "").split(",").map((type) => type.trim()).filter((type) => type !== "");
  return list.length > 0 ? list : ["*"];
}
