/** CORS for dashboards served from other origins: exact origins only, with credentials. */
import { cors } from "hono/cors";

/** CloudEvents binary-mode attributes a browser may send as headers. */
const CE_HEADERS = ["ce-specversion", "ce-type", "ce-id", "ce-source", "ce-time", "ce-subject", "ce-dataschema"];

export function corsFor(origins: readonly string[]) {
  return cors({
    origin: [...origins],
    credentials: true,
    allowMethods: ["GET", "POST", "PATCH", "DELETE", "OPTIONS"],
    allowHeaders: ["Content-Type", "Authorization", "Last-Event-ID", "Cache-Control", ...CE_HEADERS],
    exposeHeaders: ["Location", "Retry-After", "WWW-Authenticate"],
    maxAge: 600,
  });
}
