/** `broker token`: mints an HS256 access token for the broker's access control. */
import { sign } from "hono/jwt";

export interface TokenRequest {
  /** Who the token is for; owns the subscriptions it creates. */
  readonly sub: string;
  /** Type patterns it may publish and subscribe to. */
  readonly publish: readonly string[];
  readonly subscribe: readonly string[];
  /** Lifetime in seconds; 0 = no expiry. */
  readonly ttlSeconds: number;
}

export function mintToken(secret: string, request: TokenRequest, nowMs = Date.now()): Promise<string> {
  const iat = Math.floor(nowMs / 1_000);
  return sign({
    sub: request.sub,
    iat,
    ...(request.ttlSeconds > 0 ? { exp: iat + request.ttlSeconds } : {}),
    "broker.publish": [...request.publish],
    "broker.subscribe": [...request.subscribe],
  }, secret, "HS256");
}
