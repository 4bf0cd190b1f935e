/** `/subscriptions`: create, list, pause, delete; pull, ack, nack and extend required ones. */
import { type Context, Hono } from "hono";
import { type Delivery, type Engine, MemoryBudgetError, parseOrThrow, type RequiredSpec, requiredSpecSchema, type SubscriptionView } from "../src/broker/mod.ts";
import { allowedTypes, assertReadable, assertVisible, type Caller, callerOf } from "./auth.ts";
import { type BodyLimits, readJsonBody } from "./body.ts";
import type { AppEnv } from "./env.ts";
import { HttpProblem } from "./problem.ts";
import { extendRequestSchema, patchRequestSchema, pullRequestSchema, seqRequestSchema } from "./schemas.ts";
import { ANSWER_CHUNK_BYTES, eventsAnswer, subscriptionView } from "./subscription-view.ts";

/** Most subscriptions one request may create. */
const MAX_CREATE = 100;

export interface SubscriptionRouteOptions {
  readonly maxWaitMs: number;
  readonly defaultWaitMs: number;
  readonly bodies: BodyLimits;
}

export function subscriptionRoutes(broker: Engine, options: SubscriptionRouteOptions) {
  const pullSchema = pullRequestSchema(options.maxWaitMs, options.defaultWaitMs);
  /** The subscription named in the path, if this caller may see it. */
  const visible = async (c: Context<AppEnv>): Promise<SubscriptionView> => assertVisible(callerOf(c), await broker.describe(c.req.param("id")!));
  /** The same, if this caller may also be handed its events. */
  const readable = async (c: Context<AppEnv>): Promise<SubscriptionView> => assertReadable(callerOf(c), await visible(c));
  const bodyOf = (c: Context<AppEnv>) => readJsonBody(c, options.bodies);
  const answers = broker.memory.parts.pulls;
  /** Events as `{"events":[…]}`; a large answer is streamed, and counted while the runtime holds it. */
  const eventsJson = (c: Context<AppEnv>, deliveries: readonly Delivery[], onAbandoned?: () => void) =>
    c.body(eventsAnswer(deliveries, answers, onAbandoned), 200, { "Content-Type": "application/json" });

  return new Hono<AppEnv>()
    .post("/", async (c) => {
      const body = await bodyOf(c);
      const caller = callerOf(c);
      const owner = { owner: caller?.sub };
      if (Array.isArray(body)) {
        if (body.length > MAX_CREATE) throw new HttpProblem(413, "batch-too-large", `at most ${MAX_CREATE} subscriptions may be created at once`);
        const specs = body.map((spec, index) => narrowed(caller, parseOrThrow(requiredSpecSchema, spec, `/${index}`)));
        return c.json((await broker.subscribeBatch(specs, owner)).map(subscriptionView), 201);
      }
      if (typeof body !== "object" || body === null) {
        throw new HttpProblem(400, "invalid", "the body must be a subscription object or an array of them", [{ path: "", message: "must be an object or an array" }]);
      }
      const created = await broker.subscribe(narrowed(caller, parseOrThrow(requiredSpecSchema, body)), owner);
      c.header("Location", `/subscriptions/${created.id}`);
      return c.json(subscriptionView(created), 201);
    })
    .get("/", async (c) => {
      const caller = callerOf(c);
      const mine = (await broker.list()).filter((sub) => !caller || sub.owner === caller.sub);
      return c.json({ subscriptions: mine.map(subscriptionView) });
    })
    .get("/:id", async (c) => c.json(subscriptionView(await visible(c))))
    .patch("/:id", async (c) => {
      const { paused } = parseOrThrow(patchRequestSchema, await bodyOf(c));
      return c.json(subscriptionView(await broker.setPaused((await visible(c)).id, paused)));
    })
    .delete("/:id", async (c) => {
      await broker.remove((await visible(c)).id);
      return c.body(null, 204);
    })
    .post("/:id/ack", async (c) => {
      const id = (await visible(c)).id;
      return c.json(await broker.ack(id, parseOrThrow(seqRequestSchema, await bodyOf(c)).seq));
    })
    .post("/:id/nack", async (c) => {
      const id = (await visible(c)).id;
      return c.json(await broker.nack(id, parseOrThrow(seqRequestSchema, await bodyOf(c)).seq));
    })
    .post("/:id/extend", async (c) => {
      const id = (await visible(c)).id;
      const leaseExpiresAt = await broker.extend(id, parseOrThrow(extendRequestSchema, await bodyOf(c)).ms);
      return c.json({ leaseExpiresAt: new Date(leaseExpiresAt).toISOString() });
    })
    .get("/:id/parked", async (c) => {
      const parked = await broker.parked((await readable(c)).id);
      return eventsJson(c, parked.map(({ event, deliveries }) => ({ events: [event], deliveries })));
    })
    .post("/:id/pull", async (c) => {
      const id = (await readable(c)).id;
      const request = parseOrThrow(pullSchema, await bodyOf(c));
      if (!answers.fits(ANSWER_CHUNK_BYTES)) throw new MemoryBudgetError("pull answers", answers.limit);
      c.env?.holdOpen?.(c.req.raw);
      const deliveries = await broker.pull(id, { ...request, signal: c.req.raw.signal });
      return eventsJson(c, deliveries, () => deliverAgain(broker, id, deliveries));
    });
}

/** A spec whose types are narrowed to what the caller may subscribe to. */
function narrowed(caller: Caller | undefined, spec: RequiredSpec): RequiredSpec {
  return { ...spec, types: allowedTypes(caller, spec.types ?? ["*"]) };
}

/** An answer the client did not take in full is not a delivery: its events come again on the next pull. */
function deliverAgain(broker: Engine, id: string, deliveries: readonly Delivery[]): void {
  const first = deliveries[0]?.events[0];
  if (first) void broker.nack(id, first.seq).catch(() => {}); // gone meanwhile: nothing to give back
}
