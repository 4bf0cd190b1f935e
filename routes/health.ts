/** `GET /healthz`: 200 while serving (`degraded`, naming them, while background work fails); 503 once shutting down, or while storage cannot be written or reached. */
import { Hono } from "hono";
import type { Engine } from "../src/broker/mod.ts";
import { problemResponse } from "./problem.ts";

export function healthRoutes(engine: Engine, accessControl: boolean) {
  return new Hono().get("/", async (c) => {
    const health = await engine.health();
    if (engine.closed) return problemResponse(503, "closed", "the broker is shutting down");
    if (!health.serving) return problemResponse(503, "storage-unavailable", `the broker's storage is unavailable: ${health.storageFailure ?? "unknown"}`);
    // Background work failing leaves the broker serving (200), but says so.
    if (health.faults?.length) return c.json({ status: "degraded", lastSeq: health.lastSeq, accessControl, faults: health.faults.map((fault) => ({ ...fault, since: new Date(fault.since).toISOString() })) });
    return c.json({ status: "ok", lastSeq: health.lastSeq, accessControl });
  });
}
