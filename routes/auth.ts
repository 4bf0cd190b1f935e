/**
 * Access control: an HS256 JWT from `Authorization: Bearer`, `?access_token=` (EventSource
 * cannot set headers) or the `broker_token` cookie. Its `broker.publish` and
 * `broker.subscribe` claims are lists of type patterns; `sub` owns what it creates.
 */
import type { Context, MiddlewareHandler } from "hono";
import { getCookie } from "hono/cookie";
import { verify } from "hono/jwt";
import { z } from "zod";
import { intersectPatterns, type Subscription, SubscriptionNotFoundError, typePatternsSchema } from "../src/broker/mod.ts";
import type { AppEnv } from "./env.ts";
import { HttpProblem } from "./problem.ts";

/** What a verified token lets its bearer do. */
export interface Caller {
  readonly sub: string | undefined;
  readonly publish: readonly string[];
  readonly subscribe: readonly string[];
  /** When the token stops being valid (ms since epoch), if it says. */
  readonly expiresAt: number | undefined;
}

const patterns = typePatternsSchema.or(z.array(z.string()).length(0)).default([]);
const claimsSchema = z.looseObject({
  sub: z.string().optional(),
  exp: z.number().optional(),
  "broker.publish": patterns,
  "broker.subscribe": patterns,
});

/** Paths anyone may call, token or not: health, and the dashboard's static page (it asks for a token itself). */
const OPEN_PATHS = new Set(["/healthz", "/", "/dashboard/index.html", "/dashboard/dashboard.js", "/dashboard/dashboard.css"]);

export function accessControl(secret: string): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (OPEN_PATHS.has(c.req.path) || c.req.method === "OPTIONS") return next();
    const token = tokenOf(c);
    if (!token) throw unauthorized("a token is required: Authorization: Bearer <jwt>, ?access_token=<jwt>, or the broker_token cookie");
    c.set("caller", await verifyToken(token, secret));
    return next();
  };
}

async function verifyToken(token: string, secret: string): Promise<Caller> {
  let payload: unknown;
  try {
    payload = await verify(token, secret, "HS256");
  } catch (error) {
    const expired = (error as Error).name === "JwtTokenExpired";
    throw unauthorized(expired ? "the token has expired" : "the token is not valid");
  }
  const claims = claimsSchema.safeParse(payload);
  if (!claims.success) throw unauthorized("the token's broker.publish and broker.subscribe claims must be lists of type patterns");
  const { sub, exp } = claims.data;
  return { sub, publish: claims.data["broker.publish"], subscribe: claims.data["broker.subscribe"], expiresAt: exp === undefined ? undefined : exp * 1_000 };
}

function tokenOf(c: Context): string | undefined {
  const header = c.req.header("authorization");
  const bearer = header?.match(/^Bearer\s+(\S+)$/i)?.[1];
  return bearer ?? c.req.query("access_token") ?? getCookie(c, "broker_token");
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

/** Subscriptions belong to their creator: to anyone else they do not exist. */
export function assertVisible(caller: Caller | undefined, sub: Subscription): Subscription {
  if (caller && sub.owner !== caller.sub) throw new SubscriptionNotFoundError(sub.id);
  return sub;
}
