/** `/subscriptions`: create, list, pause, delete; pull, ack, nack and extend required ones. */
import { type Context, Hono } from "hono";
import { type Broker, parseOrThrow, type RequiredSpec, requiredSpecSchema, type Subscription } from "../src/broker/mod.ts";
import { allowedTypes, assertReadable, assertVisible, type Caller, callerOf } from "./auth.ts";
import { readJsonBody } from "./body.ts";
import type { AppEnv } from "./env.ts";
import { HttpProblem } from "./problem.ts";
import { extendRequestSchema, patchRequestSchema, pullRequestSchema, seqRequestSchema } from "./schemas.ts";
import { pullBody, subscriptionView } from "./subscription-view.ts";

/** Most subscriptions one request may create. */
const MAX_CREATE = 100;

export interface SubscriptionRouteOptions {
  readonly maxWaitMs: number;
  readonly defaultWaitMs: number;
  readonly maxBodyBytes: number;
}

export function subscriptionRoutes(broker: Broker, options: SubscriptionRouteOptions) {
  const pullSchema = pullRequestSchema(options.maxWaitMs, options.defaultWaitMs);
  /** The subscription named in the path, if this caller may see it. */
  const visible = (c: Context<AppEnv>): Subscription => assertVisible(callerOf(c), broker.get(c.req.param("id")!));
  /** The same, if this caller may also be handed its events. */
  const readable = (c: Context<AppEnv>): Subscription => assertReadable(callerOf(c), visible(c));
  const bodyOf = (c: Context<AppEnv>) => readJsonBody(c, options.maxBodyBytes);
  const json = (c: Context<AppEnv>, body: string) => c.body(body, 200, { "Content-Type": "application/json" });

  return new Hono<AppEnv>()
    .post("/", async (c) => {
      const body = await bodyOf(c);
      const caller = callerOf(c);
      const owner = { owner: caller?.sub };
      if (Array.isArray(body)) {
        if (body.length > MAX_CREATE) throw new HttpProblem(413, "batch-too-large", `at most ${MAX_CREATE} subscriptions may be created at once`);
        const specs = body.map((spec, index) => narrowed(caller, parseOrThrow(requiredSpecSchema, spec, `/${index}`)));
        return c.json(broker.subscribeBatch(specs, owner).map(subscriptionView), 201);
      }
      if (typeof body !== "object" || body === null) {
        throw new HttpProblem(400, "invalid", "the body must be a subscription object or an array of them", [{ path: "", message: "must be an object or an array" }]);
      }
      const created = broker.subscribe({ kind: "required", ...narrowed(caller, parseOrThrow(requiredSpecSchema, body)) }, owner);
      c.header("Location", `/subscriptions/${created.id}`);
      return c.json(subscriptionView(created), 201);
    })
    .get("/", (c) => {
      const caller = callerOf(c);
      const mine = broker.list().filter((sub) => !caller || sub.owner === caller.sub);
      return c.json({ subscriptions: mine.map(subscriptionView) });
    })
    .get("/:id", (c) => c.json(subscriptionView(visible(c))))
    .patch("/:id", async (c) => {
      const { paused } = parseOrThrow(patchRequestSchema, await bodyOf(c));
      return c.json(subscriptionView(broker.setPaused(visible(c).id, paused)));
    })
    .delete("/:id", (c) => {
      broker.unsubscribe(visible(c).id);
      return c.body(null, 204);
    })
    .post("/:id/ack", async (c) => {
      const id = visible(c).id;
      const sub = broker.ack(id, parseOrThrow(seqRequestSchema, await bodyOf(c)).seq);
      return c.json({ ackedSeq: sub.ackedSeq, backlog: sub.backlog });
    })
    .post("/:id/nack", async (c) => {
      const id = visible(c).id;
      const sub = broker.nack(id, parseOrThrow(seqRequestSchema, await bodyOf(c)).seq);
      return c.json({ ackedSeq: sub.ackedSeq, backlog: sub.backlog });
    })
    .post("/:id/extend", async (c) => {
      const id = visible(c).id;
      const leaseExpiresAt = broker.extend(id, parseOrThrow(extendRequestSchema, await bodyOf(c)).ms);
      return c.json({ leaseExpiresAt: new Date(leaseExpiresAt).toISOString() });
    })
    .get("/:id/parked", (c) => {
      const sub = readable(c);
      const parked = sub.kind === "required" ? sub.parked : [];
      return json(c, pullBody(parked.map(({ event, deliveries }) => ({ events: [event], deliveries }))));
    })
    .post("/:id/pull", async (c) => {
      const id = readable(c).id;
      const request = parseOrThrow(pullSchema, await bodyOf(c));
      c.env?.holdOpen?.(c.req.raw);
      return json(c, pullBody(await broker.pull(id, { ...request, signal: c.req.raw.signal })));
    });
}

/** A spec whose types are narrowed to what the caller may subscribe to. */
function narrowed(caller: Caller | undefined, spec: RequiredSpec): RequiredSpec {
  return { ...spec, types: allowedTypes(caller, spec.types ?? ["*"]) };
}
