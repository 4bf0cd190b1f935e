// The baseline for publishing: a bare Hono app that parses the body and Zod-validates it, nothing more.
import { Hono } from "hono";
import { z } from "zod";
import { eventInputSchema } from "../../src/broker/mod.ts";
import { portArg, serve } from "./runtime.ts";

/** The bare app with `eventSchema` for each event (the lean baseline passes its own). */
export function bareApp(eventSchema: z.ZodType): Hono {
  const batchSchema = z.array(eventSchema);
  return new Hono().post("/events", async (c) => {
    const body = await c.req.json();
    const result = Array.isArray(body) ? batchSchema.safeParse(body) : eventSchema.safeParse(body);
    if (!result.success) return c.json({ error: "invalid" }, 400);
    return c.json({ accepted: Array.isArray(body) ? body.length : 1 }, 202);
  });
}

if (import.meta.main) serve(portArg(), bareApp(eventInputSchema).fetch);
