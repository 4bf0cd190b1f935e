/** `GET /events/stream`: a live stream subscription over Server-Sent Events. */
import { Hono } from "hono";
import { type Engine, parseOrThrow, typePatternsSchema } from "../src/broker/mod.ts";
import { allowedTypes, callerOf } from "./auth.ts";
import type { AppEnv } from "./env.ts";
import { streamQuerySchema } from "./schemas.ts";
import { filtersOf, namingParameters, parseTypes } from "./selection.ts";
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
