/** Builds the broker and its HTTP app for any runtime; entry points only serve it. */
import { Hono } from "hono";
import { getPath } from "hono/utils/url";
import { type Broker, type BrokerOptions, type Clock, type Engine, LocalEngine, MemoryBudget, systemClock } from "./broker/mod.ts";
import type { Settings } from "./config.ts";
import { storageLine } from "./storage-line.ts";
import { accessControl } from "../routes/auth.ts";
import { corsFor } from "../routes/cors.ts";
import type { AppEnv, RuntimeBindings } from "../routes/env.ts";
import { IncomingBytes } from "../routes/body.ts";
import { dashboardRoutes } from "../routes/dashboard.ts";
import { eventRoutes } from "../routes/events.ts";
import { healthRoutes } from "../routes/health.ts";
import { BrokerMetrics } from "../routes/metrics.ts";
import { openApiRoutes } from "../routes/openapi.ts";
import { crossSiteRefusal } from "../routes/origin.ts";
import { errorToResponse, httpProblemResponse, problemResponse } from "../routes/problem.ts";
import { SseHub } from "../routes/sse.ts";
import { streamRoutes } from "../routes/stream.ts";
import { subscriptionRoutes } from "../routes/subscriptions.ts";

export interface BrokerServer {
  /** The answer to one request: a cross-site refusal, or what the routes answer. */
  fetch(request: Request, bindings?: RuntimeBindings): Response | Promise<Response>;
  readonly engine: Engine;
  /** The core, when the engine is one process's (in memory or on a journal). */
  readonly broker: Broker;
  /** Refuses new work, ends every stream with `broker.closing`, answers waiting pulls. */
  close(): Promise<void>;
}

/** The core's settings, named one by one: a setting renamed on one side fails to compile, instead of silently taking its default. */
export function brokerOptionsOf(settings: Settings, clock: Clock): Partial<BrokerOptions> {
  const options: Omit<BrokerOptions, "newId" | "log" | "journal" | "sweepIntervalMs"> = {
    clock,
    historySize: settings.historySize,
    streamBuffer: settings.streamBuffer,
    streamBufferBytes: settings.streamBufferBytes,
    maxBatch: settings.maxBatch,
    ackTimeoutMs: settings.ackTimeoutMs,
    maxBacklog: settings.maxBacklog,
    expireAfterMs: settings.expireAfterMs,
    maxDeliveries: settings.maxDeliveries,
    maxParked: settings.maxParked,
    dedupeWindowMs: settings.dedupeWindowMs,
    dedupeMaxEntries: settings.dedupeMaxEntries,
    maxWaitMs: settings.maxWaitMs,
    maxPullBytes: settings.maxPullBytes,
    memoryBudgetBytes: settings.memoryBudgetBytes,
    maxStreams: settings.maxStreams,
    maxRequired: settings.maxRequired,
    maxWaitingPulls: settings.maxWaitingPulls,
    retainEvents: settings.retainEvents,
    retainMs: settings.retainMs,
    afterTurn: (callback) => void setImmediate(callback),
  };
  return options;
}

export function createBrokerServer(settings: Settings, clock: Clock = systemClock, engine: Engine = new LocalEngine(brokerOptionsOf(settings, clock))): BrokerServer {
  const broker = engine;
  const hub = new SseHub(settings.heartbeatMs, broker.memory.parts.streams);
  const app = new Hono<AppEnv>();
  if (settings.corsOrigins.length > 0) app.use(corsFor(settings.corsOrigins));
  if (settings.jwtSecret) app.use(accessControl(settings.jwtSecret));
  const metrics = new BrokerMetrics(broker);
  const bodies = { maxBytes: settings.maxBodyBytes, incoming: new IncomingBytes(settings.maxIncomingBytes) };
  app
    .route("/events/stream", streamRoutes(broker, hub, settings))
    .route("/events", eventRoutes(broker, bodies))
    .route("/metrics", metrics.routes())
    .route("/openapi.json", openApiRoutes(settings))
    .route("/", dashboardRoutes())
    .route("/subscriptions", subscriptionRoutes(broker, { ...settings, bodies }))
    .route("/healthz", healthRoutes(broker, Boolean(settings.jwtSecret)));
  app.notFound((c) => problemResponse(404, "not-found", `nothing is served at ${c.req.method} ${c.req.path}`));
  const countRefusal = (method: string, path: string, status: number, error: unknown) => {
    if (method === "POST" && path === "/events") metrics.countRefusal(status, error);
  };
  app.onError((error, c) => {
    const response = errorToResponse(error, c);
    countRefusal(c.req.method, c.req.path, response.status, error);
    return response;
  });
  const hosts = settings.jwtSecret ? undefined : [settings.host, ...settings.hosts];
  const refuseCrossSite = crossSiteRefusal({ allowedOrigins: settings.corsOrigins, hosts });
  return {
    fetch(request, bindings) {
      const refusal = refuseCrossSite(request);
      if (refusal === undefined) return app.fetch(request, bindings);
      countRefusal(request.method, getPath(request), refusal.status, refusal); // decoded as Hono routes it
      return httpProblemResponse(refusal);
    },
    engine,
    get broker(): Broker {
      if (engine instanceof LocalEngine) return engine.broker;
      throw new Error("this engine has no core of its own in this process");
    },
    async close() {
      await engine.close();
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
  const lines = [`event-broker listening on ${originOf(settings.host, port)} (state ${storageLine(settings)}; ${memoryLine(settings.memoryBudgetBytes)})`];
  if (!LOOPBACK.has(settings.host) && !settings.jwtSecret) {
    lines.push(`warning: listening on ${settings.host} with access control off; anyone who can reach it may publish and subscribe`);
  }
  return lines;
}

/** The memory budget and its parts: `memory budget 256 MiB: required 102 MiB, …`. */
function memoryLine(totalBytes: number): string {
  const mib = (bytes: number) => `${Math.round(bytes / 1_048_576)} MiB`;
  const parts = Object.values(new MemoryBudget(totalBytes).parts).map((part) => `${part.name} ${mib(part.limit)}`);
  return `memory budget ${mib(totalBytes)}: ${parts.join(", ")}`;
}
