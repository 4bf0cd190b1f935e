// A leaner baseline for publishing: the same bare app, whose Zod schema checks only what a
// quick hand-written alternative would (type, source, id, time, data), nothing more.
import { z } from "zod";
import { bareApp } from "./baseline-publish.ts";
import { portArg, serve } from "./runtime.ts";

const leanEventSchema = z.object({
  type: z.string().min(1),
  source: z.string().min(1),
  id: z.string().min(1),
  time: z.iso.datetime().optional(),
  data: z.unknown().optional(),
});
serve(portArg(), bareApp(leanEventSchema).fetch);
