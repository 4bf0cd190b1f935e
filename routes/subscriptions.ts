/** `/subscriptions`: create, list, pause, delete, and pull/ack required subscriptions. */
import { Hono } from "hono";
import { z } from "zod";
import { type Broker, parseOrThrow } from "../src/broker/mod.ts";
import { readJsonBody } from "./body.ts";
import type { AppEnv } from "./env.ts";
import { HttpProblem } from "./problem.ts";
import { pullBody, subscriptionView } from "./subscription-view.ts";

const seq = z.number({ error: "must be a seq" }).int("must be a whole number").min(0, "must not be negative");

const patchSchema = z.strictObject({ paused: z.boolean({ error: "must be true or false" }) });
const seqSchema = z.strictObject({ seq });
const extendSchema = z.strictObject({
  ms: z.number({ error: "must be a number of milliseconds" }).int("must be a whole number").min(1, "must be at least 1").max(86_400_000, "must be at most 86400000"),
});

/** Most subscriptions one request may create. */
const MAX_CREATE = 100;

export interface SubscriptionRouteOptions {
  readonly maxWaitMs: number;
  readonly defaultWaitMs: number;
}

export function subscriptionRoutes(broker: Broker, options: SubscriptionRouteOptions) {
  const pullSchema = z.strictObject({
    max: z.number({ error: "must be a number of events" }).int("must be a whole number").min(1, "must be at least 1").max(10_000, "must be at most 10000").default(100),
    waitMs: z.number({ error: "must be a number of milliseconds" }).int("must be a whole number").min(0, "must not be negative").max(options.maxWaitMs, `must be at most ${options.maxWaitMs}`).default(options.defaultWaitMs),
    ack: seq.optional(),
  });

  return new Hono<AppEnv>()
    .post("/", async (c) => {
      const body = await readJsonBody(c);
      if (Array.isArray(body)) {
        if (body.length > MAX_CREATE) throw new HttpProblem(413, "batch-too-large", `at most ${MAX_CREATE} subscriptions may be created at once`);
        const created = broker.subscribeBatch(body);
        return c.json(created.map(subscriptionView), 201);
      }
      if (typeof body !== "object" || body === null) throw new HttpProblem(400, "invalid", "the body must be a subscription object or an array of them", [{ path: "", message: "must be an object or an array" }]);
      const created = broker.subscribe({ ...body, kind: "required" });
      c.header("Location", `/subscriptions/${created.id}`);
      return c.json(subscriptionView(created), 201);
    })
    .get("/", (c) => c.json({ subscriptions: broker.list().map(subscriptionView) }))
    .get("/:id", (c) => c.json(subscriptionView(broker.get(c.req.param("id")))))
    .patch("/:id", async (c) => {
      const { paused } = parseOrThrow(patchSchema, await readJsonBody(c));
      return c.json(subscriptionView(broker.setPaused(c.req.param("id"), paused)));
    })
    .delete("/:id", (c) => {
      broker.get(c.req.param("id"));
      broker.unsubscribe(c.req.param("id"));
      return c.body(null, 204);
    })
    .post("/:id/ack", async (c) => {
      const { seq } = parseOrThrow(seqSchema, await readJsonBody(c));
      const sub = broker.ack(c.req.param("id"), seq);
      return c.json({ ackedSeq: sub.ackedSeq, backlog: sub.backlog });
    })
    .post("/:id/nack", async (c) => {
      const { seq } = parseOrThrow(seqSchema, await readJsonBody(c));
      const sub = broker.nack(c.req.param("id"), seq);
      return c.json({ ackedSeq: sub.ackedSeq, backlog: sub.backlog });
    })
    .post("/:id/extend", async (c) => {
      const { ms } = parseOrThrow(extendSchema, await readJsonBody(c));
      const leaseExpiresAt = broker.extend(c.req.param("id"), ms);
      return c.json({ leaseExpiresAt: new Date(leaseExpiresAt).toISOString() });
    })
    .get("/:id/parked", (c) => {
      const sub = broker.get(c.req.param("id"));
      if (sub.kind !== "required") return c.json({ events: [] });
      const deliveries = sub.parked.map(({ event, deliveries }) => ({ events: [event], deliveries }));
      return c.body(pullBody(deliveries), 200, { "Content-Type": "application/json" });
    })
    .post("/:id/pull", async (c) => {
      const id = c.req.param("id");
      broker.get(id);
      const request = parseOrThrow(pullSchema, await readJsonBody(c));
      c.env?.holdOpen?.(c.req.raw);
      const deliveries = await broker.pull(id, { ...request, signal: c.req.raw.signal });
      return c.body(pullBody(deliveries), 200, { "Content-Type": "application/json" });
    });
}
