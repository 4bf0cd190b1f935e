/** `GET /healthz`: 200 while serving, 503 once shutting down. */
import { Hono } from "hono";
import type { Broker } from "../src/broker/mod.ts";
import { problemResponse } from "./problem.ts";

export function healthRoutes(broker: Broker, accessControl: boolean) {
  return new Hono().get("/", (c) =>
    broker.closed ? problemResponse(503, "closed", "the broker is shutting down") : c.json({ status: "ok", lastSeq: broker.lastSeq, accessControl })
  );
}
