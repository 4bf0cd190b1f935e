/** `GET /openapi.json`: an OpenAPI 3.1 document generated from the schemas the routes validate with. */
import { Hono } from "hono";
import { z } from "zod";
import { eventInputSchema, requiredSpecSchema } from "../src/broker/mod.ts";
import type { AppEnv } from "./env.ts";
import * as api from "./schemas.ts";

type JsonSchema = Record<string, unknown>;

function jsonSchema(schema: z.ZodType, io: "input" | "output"): JsonSchema {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: "any" }) as JsonSchema;
  return rest;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: unknown) => ({ "application/json": { schema } });
const problems = (...statuses: number[]) =>
  Object.fromEntries(statuses.map((status) => [status, { description: "A problem (RFC 9457)", content: { "application/problem+json": { schema: ref("Problem") } } }]));
const ok = (status: number, description: string, schema?: unknown) => ({ [status]: schema === undefined ? { description } : { description, content: json(schema) } });
const idParameter = { name: "id", in: "path", required: true, schema: { type: "string" } };

const NDJSON_BODY = "One EventInput per line (`\\n` or `\\r\\n`; blank lines ignored), read and accepted as the lines arrive, in atomic groups of at most maxBatch. "
  + "maxBodyBytes bounds each line, not the body. A bad line is refused alone and listed in the answer; the others are accepted. "
  + "Also read as application/ndjson and application/jsonl. A 503 (shutdown) or 401 (token expired) mid-body carries the same summary as `summary`.";

/** The document for a broker with these limits. */
export function openApiDocument(options: { maxWaitMs: number; defaultWaitMs: number }) {
  const subscriptionPath = (summary: string, request: string, answer: JsonSchema) => ({
    post: {
      summary, parameters: [idParameter],
      requestBody: { required: false, content: json(ref(request)) },
      responses: { ...ok(200, summary, answer), ...problems(400, 404, 409) },
    },
  });
  return {
    openapi: "3.1.0",
    info: { title: "event-broker", version: "0.1.0", description: "Events over plain HTTP: publish, watch live over SSE, consume reliably with pull and ack." },
    paths: {
      "/events": {
        post: {
          summary: "Publish one event or an atomic batch; or stream events, one per line",
          requestBody: {
            required: true,
            content: {
              "application/json": { schema: { oneOf: [ref("EventInput"), { type: "array", items: ref("EventInput") }] } },
              "application/cloudevents+json": { schema: ref("EventInput") },
              "application/cloudevents-batch+json": { schema: { type: "array", items: ref("EventInput") } },
              "application/x-ndjson": { schema: { type: "string", description: NDJSON_BODY } },
            },
          },
          responses: {
            ...ok(200, "An NDJSON body ended: what was accepted and which lines were refused", ref("StreamSummary")),
            ...ok(202, "Accepted", ref("PublishResult")),
            ...problems(400, 401, 403, 413, 415, 503),
          },
        },
      },
      "/events/stream": {
        get: {
          summary: "Live events over Server-Sent Events",
          parameters: [
            ...["types", "since", "named", "source", "subject", "filter"].map((name) => ({ name, in: "query", required: false, schema: jsonSchema(api.streamQuerySchema.shape[name as "types"], "input") })),
            { name: "Last-Event-ID", in: "header", required: false, schema: { type: "string", pattern: "^\\d{1,15}$" } },
          ],
          responses: { 200: { description: "An event stream", content: { "text/event-stream": { schema: { type: "string" } } } }, ...problems(400, 401, 403, 503) },
        },
      },
      "/subscriptions": {
        post: {
          summary: "Create a required subscription, or several",
          requestBody: { required: false, content: json({ oneOf: [ref("SubscriptionRequest"), { type: "array", items: ref("SubscriptionRequest") }] }) },
          responses: { ...ok(201, "Created", { oneOf: [ref("Subscription"), { type: "array", items: ref("Subscription") }] }), ...problems(400, 401, 403, 413, 503) },
        },
        get: { summary: "List subscriptions", responses: ok(200, "Subscriptions", { type: "object", properties: { subscriptions: { type: "array", items: ref("Subscription") } } }) },
      },
      "/subscriptions/{id}": {
        get: { summary: "One subscription", parameters: [idParameter], responses: { ...ok(200, "The subscription", ref("Subscription")), ...problems(404) } },
        patch: { summary: "Pause or resume", parameters: [idParameter], requestBody: { required: true, content: json(ref("PatchRequest")) }, responses: { ...ok(200, "The subscription", ref("Subscription")), ...problems(400, 404) } },
        delete: { summary: "Delete (a stream's connection is closed)", parameters: [idParameter], responses: { ...ok(204, "Deleted"), ...problems(404) } },
      },
      "/subscriptions/{id}/pull": subscriptionPath("Long-poll for events", "PullRequest", ref("EventsAnswer")),
      "/subscriptions/{id}/ack": subscriptionPath("Acknowledge through a seq", "SeqRequest", ref("AckAnswer")),
      "/subscriptions/{id}/nack": subscriptionPath("Deliver again from a seq", "SeqRequest", ref("AckAnswer")),
      "/subscriptions/{id}/extend": subscriptionPath("Extend the current lease", "ExtendRequest", ref("ExtendAnswer")),
      "/subscriptions/{id}/parked": { get: { summary: "Parked events", parameters: [idParameter], responses: { ...ok(200, "Parked events", ref("EventsAnswer")), ...problems(404) } } },
      "/healthz": { get: { summary: "Health", responses: { ...ok(200, "Serving"), ...problems(503) } } },
      "/metrics": { get: { summary: "Prometheus metrics", responses: { 200: { description: "Text format", content: { "text/plain": { schema: { type: "string" } } } } } } },
    },
    components: {
      schemas: {
        EventInput: jsonSchema(eventInputSchema, "input"),
        SubscriptionRequest: jsonSchema(requiredSpecSchema, "input"),
        PullRequest: jsonSchema(api.pullRequestSchema(options.maxWaitMs, options.defaultWaitMs), "input"),
        SeqRequest: jsonSchema(api.seqRequestSchema, "input"),
        ExtendRequest: jsonSchema(api.extendRequestSchema, "input"),
        PatchRequest: jsonSchema(api.patchRequestSchema, "input"),
        PublishResult: jsonSchema(api.publishResultSchema, "output"),
        StreamSummary: jsonSchema(api.streamSummarySchema, "output"),
        Subscription: jsonSchema(api.subscriptionSchema, "output"),
        EventsAnswer: jsonSchema(api.eventsAnswerSchema, "output"),
        AckAnswer: jsonSchema(api.ackAnswerSchema, "output"),
        ExtendAnswer: jsonSchema(api.extendAnswerSchema, "output"),
        Problem: jsonSchema(api.problemSchema, "output"),
      },
    },
  };
}

export function openApiRoutes(options: { maxWaitMs: number; defaultWaitMs: number }) {
  const document = JSON.stringify(openApiDocument(options));
  return new Hono<AppEnv>().get("/", (c) => c.body(document, 200, { "Content-Type": "application/json" }));
}
