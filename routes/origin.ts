/**
 * Cross-site request refusal: a page on another origin must not publish or subscribe
 * through a visitor's browser, whether access control is on or off. A page may send a
 * `no-cors` fetch or a form POST anywhere without asking; the browser tells us where it
 * came from, and such a request is refused before it is routed, so before its body is read.
 */
import { HttpProblem } from "./problem.ts";

/** Methods that change nothing, which any page may send. */
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** `Sec-Fetch-Site` values of requests a page on another origin did not make. */
const OWN_SITE = new Set(["same-origin", "none"]);

/**
 * The refusal of a state-changing request from a page on an origin other than the broker's
 * own and `allowed`, or undefined for any other request. Asked once per request before
 * routing, not as a Hono middleware: a middleware makes Hono compose a chain for every
 * route, which cost a single publish ≈ 2 µs, 7% of its time (bench/README, "Round five").
 */
export function crossSiteRefusal(allowed: readonly string[]): (request: Request) => HttpProblem | undefined {
  const listed = new Set(allowed);
  return (request) => (SAFE_METHODS.has(request.method) ? undefined : refusalOf(request, listed));
}

function refusalOf(request: Request, listed: ReadonlySet<string>): HttpProblem | undefined {
  const origin = request.headers.get("origin");
  const site = request.headers.get("sec-fetch-site");
  // Sandboxed frames, file: and data: pages and cross-origin redirects send "null": it vouches for no one.
  if (origin === "null") return crossOrigin("origin", origin);
  if (origin !== null && listed.has(origin)) return undefined;
  // Only a browser sets Sec-Fetch-Site, and a page cannot forge it; it holds behind a proxy that rewrites Host.
  if (site !== null) {
    if (OWN_SITE.has(site)) return undefined;
    return origin === null ? crossOrigin("sec-fetch-site", site) : crossOrigin("origin", origin);
  }
  // A browser without Sec-Fetch-Site: compare with the request's own scheme://host:port. No Origin: not a page.
  if (origin !== null && origin !== new URL(request.url).origin) return crossOrigin("origin", origin);
  return undefined;
}

function crossOrigin(header: string, value: string): HttpProblem {
  return new HttpProblem(
    403,
    "forbidden",
    `a request from a page on another origin (${header}: ${value}) may not change anything here; list the page's origin in BROKER_CORS_ORIGINS to allow it`,
    [{ path: header, message: "is neither the broker's own origin nor listed in BROKER_CORS_ORIGINS" }],
  );
}
