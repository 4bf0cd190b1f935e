// A leaner baseline for publishing: a bare Hono app whose Zod schema checks only what a quick
// hand-written alternative would (type, source, id, time, data), nothing more.
import { Hono } from "hono";
import { z } from "zod";
import { portArg, serve } from "./runtime.ts";

const eventSchema = z.object({
  type: z.string().min(1),
  source: z.string().min(1),
  id: z.string().min(1),
  time: z.iso.datetime().optional(),
  data: z.unknown().optional(),
});
const batchSchema = z.array(eventSchema);
const app = new Hono().post("/events", async (c) => {
  const body = await c.req.json();
  const result = Array.isArray(body) ? batchSchema.safeParse(body) : eventSchema.safeParse(body);
  if (!result.success) return c.json({ error: "invalid" }, 400);
  return c.json({ accepted: Array.isArray(body) ? body.length : 1 }, 202);
});
serve(portArg(), app.fetch);
