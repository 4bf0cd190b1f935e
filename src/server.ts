/** Builds the broker and its HTTP app for any runtime; entry points only serve it. */
import { Hono } from "hono";
import { Broker, type Clock, systemClock } from "./broker/mod.ts";
import type { Settings } from "./config.ts";
import { accessControl } from "../routes/auth.ts";
import { corsFor } from "../routes/cors.ts";
import type { AppEnv } from "../routes/env.ts";
import { dashboardRoutes } from "../routes/dashboard.ts";
import { eventRoutes } from "../routes/events.ts";
import { healthRoutes } from "../routes/health.ts";
import { BrokerMetrics } from "../routes/metrics.ts";
import { openApiRoutes } from "../routes/openapi.ts";
import { errorToResponse, problemResponse } from "../routes/problem.ts";
import { SseHub } from "../routes/sse.ts";
import { streamRoutes } from "../routes/stream.ts";
import { subscriptionRoutes } from "../routes/subscriptions.ts";

export interface BrokerServer {
  readonly app: Hono<AppEnv>;
  readonly broker: Broker;
  /** Refuses new work, ends every stream with `broker.closing`, answers waiting pulls. */
  close(): Promise<void>;
}

export function createBrokerServer(settings: Settings, clock: Clock = systemClock): BrokerServer {
  const broker = new Broker({ ...settings, clock });
  const hub = new SseHub(settings.heartbeatMs);
  const app = new Hono<AppEnv>();
  if (settings.corsOrigins.length > 0) app.use(corsFor(settings.corsOrigins));
  if (settings.jwtSecret) app.use(accessControl(settings.jwtSecret));
  const metrics = new BrokerMetrics(broker);
  app
    .route("/events/stream", streamRoutes(broker, hub, settings))
    .route("/events", eventRoutes(broker, settings.maxBodyBytes))
    .route("/metrics", metrics.routes())
    .route("/openapi.json", openApiRoutes(settings))
    .route("/", dashboardRoutes())
    .route("/subscriptions", subscriptionRoutes(broker, settings))
    .route("/healthz", healthRoutes(broker, Boolean(settings.jwtSecret)));
  app.notFound((c) => problemResponse(404, "not-found", `nothing is served at ${c.req.method} ${c.req.path}`));
  app.onError((error, c) => {
    const response = errorToResponse(error, c);
    if (c.req.method === "POST" && c.req.path === "/events") metrics.countRefusal(response.status, error);
    return response;
  });
  return {
    app,
    broker,
    async close() {
      broker.close("shutdown");
      await hub.close(settings.shutdownGraceMs);
    },
  };
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1", "[::1]"]);

/** The server's own origin, `http://host:port`. */
export function originOf(host: string, port: number): string {
  return `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/** The lines printed at start: the address, and a warning when exposed without access control. */
export function startupLines(settings: Settings, port: number): string[] {
  const lines = [`event-broker listening on ${originOf(settings.host, port)}`];
  if (!LOOPBACK.has(settings.host) && !settings.jwtSecret) {
    lines.push(`warning: listening on ${settings.host} with access control off; anyone who can reach it may publish and subscribe`);
  }
  return lines;
}
