/**
 * Cross-site request refusal: a page on another origin must not publish or subscribe
 * through a visitor's browser, whether access control is on or off. A page may send a
 * `no-cors` fetch or a form POST anywhere without asking, or point its own name at this
 * machine; the browser tells us where it came from and which name it used, and such a
 * request is refused before it is routed, so before its body is read.
 */
import { HttpProblem } from "./problem.ts";

/** Methods that change nothing, which any page may send. */
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** `Sec-Fetch-Site` values of requests a page on another origin did not make. */
const OWN_SITE = new Set(["same-origin", "none"]);

/** Who a browser may reach the broker as, and from where. */
export interface BrowserPolicy {
  /** Origins of pages on other sites that may call the broker (`BROKER_CORS_ORIGINS`). */
  readonly allowedOrigins: readonly string[];
  /**
   * Names besides addresses and `localhost` that browsers may use for the broker
   * (`BROKER_HOSTS`, `HOST`); undefined for any, as with access control on: a page on
   * another site holds no token, whatever name it reaches the broker by.
   */
  readonly hosts?: readonly string[];
}

/**
 * The refusal of a browser's request reaching the broker by a name not its own, or of a
 * state-changing request from a page on an origin other than the broker's own and those
 * allowed; undefined for any other request. Asked once per request before routing, not as
 * a Hono middleware: a middleware makes Hono compose a chain for every route, which cost a
 * single publish ≈ 2 µs, 7% of its time (bench/README, "Round five").
 */
export function crossSiteRefusal({ allowedOrigins, hosts }: BrowserPolicy): (request: Request) => HttpProblem | undefined {
  const listed = new Set(allowedOrigins);
  const names = hosts && new Set(hosts.map((host) => host.toLowerCase()));
  return (request) => {
    const origin = request.headers.get("origin");
    const site = request.headers.get("sec-fetch-site");
    if (origin === null && site === null) return undefined; // not a browser: curl, servers, the `broker` command
    // Sandboxed frames, file: and data: pages and cross-origin redirects send "null": it vouches for no one.
    if (origin !== null && origin !== "null" && listed.has(origin)) return undefined;
    return (names && strangeHostRefusal(request, names)) ?? (SAFE_METHODS.has(request.method) ? undefined : crossSiteOf(request, origin, site));
  };
}

/**
 * DNS rebinding: a page at `attacker.example` whose name its owner then points at this
 * machine is same-origin with the broker to the browser, Sec-Fetch-Site and Origin
 * included; only `Host` still says which name the browser used. An address or `localhost`
 * cannot be rebound; any other name must be one the operator gave.
 */
function strangeHostRefusal(request: Request, names: ReadonlySet<string>): HttpProblem | undefined {
  const host = new URL(request.url).hostname;
  if (isAddress(host) || host === "localhost" || host.endsWith(".localhost") || names.has(host)) return undefined;
  return new HttpProblem(
    403,
    "forbidden",
    `a browser reached the broker by the name ${host}, which is not one of its own: a page on another site may have pointed that name at this machine (DNS rebinding); list the name in BROKER_HOSTS to serve browsers by it`,
    [{ path: "host", message: "is neither an address, localhost, nor listed in BROKER_HOSTS" }],
  );
}

/** An IPv4 address as URL normalises it, or an IPv6 one in its brackets. */
function isAddress(hostname: string): boolean {
  return hostname.startsWith("[") || /^\d+\.\d+\.\d+\.\d+$/.test(hostname);
}

function crossSiteOf(request: Request, origin: string | null, site: string | null): HttpProblem | undefined {
  if (origin === "null") return crossOrigin("origin", origin);
  // Only a browser sets Sec-Fetch-Site, and a page cannot forge it; it holds behind a proxy that rewrites Host.
  if (site !== null) {
    if (OWN_SITE.has(site)) return undefined;
    return origin === null ? crossOrigin("sec-fetch-site", site) : crossOrigin("origin", origin);
  }
  // A browser without Sec-Fetch-Site: compare with the request's own scheme://host:port.
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
