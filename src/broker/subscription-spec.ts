/** What a caller asks for when subscribing, validated with Zod. */
import { z } from "zod";
import { filtersSchema } from "./filters.ts";
import { isTypePattern, TYPE_PATTERN_RULE } from "./type-pattern.ts";

export const typePatternsSchema = z
  .array(z.string({ error: "must be a string" }).refine(isTypePattern, TYPE_PATTERN_RULE), {
    error: "must be an array of type patterns",
  })
  .min(1, "must name at least one type pattern")
  .max(64, "may name at most 64 type patterns");

const wholeMs = (max: number) =>
  z.number({ error: "must be a number of milliseconds" }).int("must be a whole number").min(0, "must not be negative").max(max, `must be at most ${max}`);

/** A required subscription: every matching event, in order, pulled and acknowledged. */
export const requiredSpecSchema = z.strictObject({
  types: typePatternsSchema.default(["*"]),
  /** CloudEvents Subscriptions API filters, ANDed with each other and with `types`. */
  filters: filtersSchema.optional(),
  name: z.string({ error: "must be a string" }).min(1, "must not be empty").max(128, "must be at most 128 characters").optional(),
  ackTimeoutMs: wholeMs(86_400_000).min(1, "must be at least 1").optional(),
  maxBacklog: z.number({ error: "must be a number of events" }).int("must be a whole number").min(1, "must be at least 1").max(10_000_000, "must be at most 10000000").optional(),
  expireAfterMs: wholeMs(2_147_483_647).optional(),
  maxDeliveries: z.number({ error: "must be a number of deliveries" }).int("must be a whole number").min(0, "must not be negative").max(1_000_000, "must be at most 1000000").optional(),
}, { error: "must be a subscription object" });

export type RequiredSpec = z.input<typeof requiredSpecSchema>;

/** A live stream: matching events as they come, optionally resumed after a seq. */
export const streamSpecSchema = z.strictObject({
  types: typePatternsSchema.default(["*"]),
  filters: filtersSchema.optional(),
  since: z.number({ error: "must be a seq" }).int("must be a whole number").min(0, "must not be negative").optional(),
});

export type StreamSpec = z.input<typeof streamSpecSchema>;
