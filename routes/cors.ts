/** CORS for dashboards served from other origins: exact origins only, with credentials. */
import type { MiddlewareHandler } from "hono";
import { cors } from "hono/cors";

const ALLOW_HEADERS = ["Content-Type", "Authorization", "Last-Event-ID", "Cache-Control"];

/** A CloudEvents binary-mode attribute header: `ce-` and an attribute name, extensions included. */
const CE_HEADER = /^ce-[a-z0-9]{1,20}$/;

export function corsFor(origins: readonly string[]): MiddlewareHandler {
  const answer = cors({
    origin: [...origins],
    credentials: true,
    allowMethods: ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
    allowHeaders: ALLOW_HEADERS,
    exposeHeaders: ["Location", "Retry-After", "WWW-Authenticate"],
    maxAge: 600,
  });
  return async function corsWithCeHeaders(c, next) {
    const preflight = await answer(c, next);
    if (!preflight) return;
    const allowed = [...ALLOW_HEADERS, ...ceHeadersAsked(c.req.header("access-control-request-headers"))].join(",");
    // Hono copies c.res's headers over the answer a middleware returns, so both get it.
    c.res.headers.set("Access-Control-Allow-Headers", allowed);
    preflight.headers.set("Access-Control-Allow-Headers", allowed);
    return preflight;
  };
}

/** The `ce-*` headers a preflight asks for: any extension attribute may be sent in binary mode. */
function ceHeadersAsked(asked = ""): string[] {
  return asked.split(",").map((name) => name.trim().toLowerCase()).filter((name) => CE_HEADER.test(name));
}
