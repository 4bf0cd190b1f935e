/**
 * Cross-site request refusal: a page on another origin must not publish or subscribe
 * through a visitor's browser, whether access control is on or off. A page may send a
 * `no-cors` fetch or a form POST anywhere without asking; the browser tells us where it
 * came from, and such a request is refused before its body is read.
 */
import type { MiddlewareHandler } from "hono";
import { HttpProblem } from "./problem.ts";

/** Methods that change nothing, which any page may send. */
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** `Sec-Fetch-Site` values of requests a page on another origin did not make. */
const OWN_SITE = new Set(["same-origin", "none"]);

/** Refuses state-changing requests from pages on origins other than the broker's own and `allowed`. */
export function sameOriginOnly(allowed: readonly string[]): MiddlewareHandler {
  const listed = new Set(allowed);
  // Not async: it has nothing to wait for, and an async middleware costs one more promise on every request.
  return function sameOrigin(c, next) {
    if (!SAFE_METHODS.has(c.req.method)) assertNotCrossSite(c.req.raw, listed);
    return next();
  };
}

function assertNotCrossSite(request: Request, listed: ReadonlySet<string>): void {
  const origin = request.headers.get("origin");
  const site = request.headers.get("sec-fetch-site");
  // Sandboxed frames, file: and data: pages and cross-origin redirects send "null": it vouches for no one.
  if (origin === "null") throw crossOrigin("origin", origin);
  if (origin !== null && listed.has(origin)) return;
  // Only a browser sets Sec-Fetch-Site, and a page cannot forge it; it holds behind a proxy that rewrites Host.
  if (site !== null) {
    if (OWN_SITE.has(site)) return;
    throw origin === null ? crossOrigin("sec-fetch-site", site) : crossOrigin("origin", origin);
  }
  // A browser without Sec-Fetch-Site: compare with the request's own scheme://host:port. No Origin: not a page.
  if (origin !== null && origin !== new URL(request.url).origin) throw crossOrigin("origin", origin);
}

function crossOrigin(header: string, value: string): HttpProblem {
  return new HttpProblem(
    403,
    "forbidden",
    `a request from a page on another origin (${header}: ${value}) may not change anything here; list the page's origin in BROKER_CORS_ORIGINS to allow it`,
    [{ path: header, message: "is neither the broker's own origin nor listed in BROKER_CORS_ORIGINS" }],
  );
}
