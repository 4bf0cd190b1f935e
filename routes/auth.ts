/**
 * Access control: an HS256 JWT from `Authorization: Bearer` or `?access_token=` (EventSource
 * cannot set headers). Its `broker.publish` and `broker.subscribe` claims are lists of type
 * patterns, top-level or nested under `broker`; `sub`, required, owns what it creates.
 * No cookie is read: a browser attaches cookies to requests other sites' pages make.
 */
import type { Context, MiddlewareHandler } from "hono";
import { verify } from "hono/jwt";
import { z } from "zod";
import { intersectPatterns, SubscriptionNotFoundError, type SubscriptionView, typePatternsSchema } from "../src/broker/mod.ts";
import type { AppEnv } from "./env.ts";
import { HttpProblem } from "./problem.ts";

/** What a verified token lets its bearer do. */
export interface Caller {
  readonly sub: string;
  readonly publish: readonly string[];
  readonly subscribe: readonly string[];
  /** When the token stops being valid (ms since epoch), if it says. */
  readonly expiresAt: number | undefined;
}

const grant = z.union([typePatternsSchema, z.array(z.string()).length(0)], { error: "must be a list of type patterns" }).optional();
const seconds = z.number({ error: "must be a number of seconds since the epoch" }).optional();
const claimsSchema = z.looseObject({
  sub: z.string({ error: "must be a string" }).min(1, "must not be empty").optional(),
  exp: seconds,
  nbf: seconds,
  iat: seconds,
  "broker.publish": grant,
  "broker.subscribe": grant,
  broker: z.looseObject({ publish: grant, subscribe: grant }, { error: "must be an object with publish and subscribe lists" }).optional(),
}, { error: "must be a JSON object" });
type Claims = z.infer<typeof claimsSchema>;

/** Paths anyone may call, token or not: health, and the dashboard's static page (it asks for a token itself). */
const OPEN_PATHS = new Set(["/healthz", "/", "/dashboard/index.html", "/dashboard/dashboard.js", "/dashboard/dashboard.css"]);

export function accessControl(secret: string): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (OPEN_PATHS.has(c.req.path) || c.req.method === "OPTIONS") return next();
    const token = tokenOf(c);
    if (!token) throw unauthorized("a token is required: Authorization: Bearer <jwt>, or ?access_token=<jwt>");
    c.set("caller", await verifyToken(token, secret, Date.now()));
    return next();
  };
}

async function verifyToken(token: string, secret: string, nowMs: number): Promise<Caller> {
  let payload: unknown;
  try {
    // Only the signature here: the claims are checked below, so a malformed one is named as such.
    payload = await verify(token, secret, { alg: "HS256", exp: false, nbf: false, iat: false });
  } catch {
    throw unauthorized("the token is not valid");
  }
  const parsed = claimsSchema.safeParse(payload);
  if (!parsed.success) throw unauthorized(malformedClaim(parsed.error.issues[0]));
  const claims = parsed.data;
  assertCurrent(claims, nowMs / 1_000);
  const publish = grantOf(claims, "publish");
  const subscribe = grantOf(claims, "subscribe");
  const missing = missingClaims(claims.sub, publish === undefined && subscribe === undefined);
  if (missing) throw unauthorized(missing);
  const expiresAt = claims.exp === undefined ? undefined : claims.exp * 1_000;
  return { sub: claims.sub!, publish: publish ?? [], subscribe: subscribe ?? [], expiresAt };
}

function malformedClaim(issue: z.core.$ZodIssue): string {
  const claim = issue.path.filter((key) => typeof key === "string").join(".");
  return claim ? `the token's ${claim} claim is malformed: it ${issue.message}` : `the token's payload ${issue.message}`;
}

function assertCurrent(claims: Claims, nowSeconds: number): void {
  if (claims.exp !== undefined && claims.exp <= nowSeconds) throw unauthorized("the token has expired");
  if (claims.nbf !== undefined && claims.nbf > nowSeconds) throw unauthorized("the token is not valid yet (nbf)");
  if (claims.iat !== undefined && claims.iat > nowSeconds) throw unauthorized("the token was issued in the future (iat)");
}

/** A grant given top-level (`broker.publish`) or nested (`broker: {publish}`); both at once is ambiguous. */
function grantOf(claims: Claims, action: "publish" | "subscribe"): readonly string[] | undefined {
  const topLevel = claims[`broker.${action}`];
  const nested = claims.broker?.[action];
  if (topLevel !== undefined && nested !== undefined) {
    throw unauthorized(`the token gives broker.${action} twice, as a top-level key and nested under broker; give it once`);
  }
  return topLevel ?? nested;
}

function missingClaims(sub: string | undefined, noGrant: boolean): string | undefined {
  const missing: string[] = [];
  if (sub === undefined) missing.push("a sub claim (who the token is for; it owns the subscriptions it creates)");
  if (noGrant) missing.push('a broker.publish or broker.subscribe claim (top-level, or nested as {"broker":{"publish":[…],"subscribe":[…]}})');
  return missing.length === 0 ? undefined : `the token lacks ${missing.join(" and ")}`;
}

function tokenOf(c: Context): string | undefined {
  const header = c.req.header("authorization");
  const bearer = header?.match(/^Bearer\s+(\S+)$/i)?.[1];
  return bearer ?? c.req.query("access_token");
}

function unauthorized(detail: string): HttpProblem {
  return new HttpProblem(401, "unauthorized", detail, undefined, { "WWW-Authenticate": 'Bearer realm="event-broker"' });
}

/** The caller of this request, or undefined when access control is off. */
export function callerOf(c: Context<AppEnv>): Caller | undefined {
  return c.get("caller");
}

/** The filter narrowed to what the caller may subscribe to; 403 when nothing is left. */
export function allowedTypes(caller: Caller | undefined, types: readonly string[]): string[] {
  if (!caller) return [...types];
  const allowed = intersectPatterns(types, caller.subscribe);
  if (allowed.length === 0) throw new HttpProblem(403, "forbidden", `this token may not subscribe to any of ${types.join(", ")}`);
  return allowed;
}

/**
 * A subscription whose events the caller may be handed: 403 when its types reach past the
 * token's `broker.subscribe`, as when its owner pulls with a narrower token than it created it with.
 */
export function assertReadable(caller: Caller | undefined, sub: SubscriptionView): SubscriptionView {
  if (!caller) return sub;
  const outside = sub.types.filter((type) => !intersectPatterns([type], caller.subscribe).includes(type));
  if (outside.length > 0) {
    throw new HttpProblem(403, "forbidden", `this token may not subscribe to ${outside.join(", ")}, which subscription ${sub.id} delivers`);
  }
  return sub;
}

/** Subscriptions belong to their creator: to anyone else they do not exist. */
export function assertVisible(caller: Caller | undefined, sub: SubscriptionView): SubscriptionView {
  if (caller && sub.owner !== caller.sub) throw new SubscriptionNotFoundError(sub.id);
  return sub;
}
