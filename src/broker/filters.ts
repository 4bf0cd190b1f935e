/**
 * Attribute filters: the CloudEvents Subscriptions API dialects `exact`, `prefix`,
 * `suffix`, `all`, `any` and `not`, on any context attribute, extensions included. A
 * subscription's filters are ANDed with each other and with its types; the type index
 * makes the first cut, so filters only run on events of the types it selects.
 */
import { z } from "zod";

/** One filter expression. */
export type Filter =
  | { readonly exact: Readonly<Record<string, string>> }
  | { readonly prefix: Readonly<Record<string, string>> }
  | { readonly suffix: Readonly<Record<string, string>> }
  | { readonly all: readonly Filter[] }
  | { readonly any: readonly Filter[] }
  | { readonly not: Filter };

/** Context attributes of an event, as its producer sent them or as the broker set them. */
export type Attributes = Readonly<Record<string, unknown>>;

/** Filters compiled once: `key` is the same for the same filters, so subscriptions with equal filters share work. */
export interface CompiledFilters {
  readonly key: string;
  readonly test: (attributes: Attributes) => boolean;
}

const DIALECTS = ["exact", "prefix", "suffix", "all", "any", "not"] as const;
const MAX_LIST = 16;
const MAX_DEPTH = 8;

const ATTRIBUTE_NAME = /^[a-z0-9]{1,20}$/;

const attributeValues = z
  .record(z.string(), z.string({ error: "must be a string: attributes are compared as text" }).max(1_024, "must be at most 1024 characters"), {
    error: "must be an object of attribute names to strings",
  })
  .superRefine((values, ctx) => {
    for (const name of Object.keys(values)) {
      if (!ATTRIBUTE_NAME.test(name) || name === "data" || name === "data_base64") {
        ctx.addIssue({ code: "custom", path: [name], message: "is not a context attribute name: 1-20 lowercase letters or digits, not data" });
      }
    }
  })
  .refine((values) => Object.keys(values).length >= 1 && Object.keys(values).length <= MAX_LIST, `must name 1 to ${MAX_LIST} attributes`);

/** One filter expression: an object with exactly one of the dialects. */
export const filterSchema = z
  .strictObject({
    exact: attributeValues.optional(),
    prefix: attributeValues.optional(),
    suffix: attributeValues.optional(),
    get all() {
      return z.array(filterSchema, { error: "must be an array of filters" }).min(1, "must hold a filter").max(MAX_LIST, `may hold at most ${MAX_LIST} filters`).optional();
    },
    get any() {
      return z.array(filterSchema, { error: "must be an array of filters" }).min(1, "must hold a filter").max(MAX_LIST, `may hold at most ${MAX_LIST} filters`).optional();
    },
    get not() {
      return filterSchema.optional();
    },
  }, { error: "must be a filter object" })
  .refine((filter) => DIALECTS.filter((dialect) => filter[dialect] !== undefined).length === 1, `must hold exactly one of ${DIALECTS.join(", ")}`)
  .refine((filter) => depthOf(filter as Filter) <= MAX_DEPTH, `must nest at most ${MAX_DEPTH} deep`) as unknown as z.ZodType<Filter>;

/** A subscription's filters: all must hold. Nesting is measured before Zod walks it, which a deep enough one would overflow. */
export const filtersSchema = z
  .unknown()
  .superRefine((value, ctx) => {
    if (nestedDeeperThan(value, 2 * MAX_DEPTH + 2)) ctx.addIssue({ code: "custom", message: `must nest at most ${MAX_DEPTH} deep` });
  })
  .pipe(z.array(filterSchema, { error: "must be an array of filters" }).max(MAX_LIST, `may hold at most ${MAX_LIST} filters`));

/** The filters as one test, or undefined when there are none. */
export function compileFilters(filters: readonly Filter[] | undefined): CompiledFilters | undefined {
  if (!filters || filters.length === 0) return undefined;
  const tests = filters.map(compile);
  return { key: JSON.stringify(filters), test: (attributes) => tests.every((test) => test(attributes)) };
}

function compile(filter: Filter): (attributes: Attributes) => boolean {
  if ("exact" in filter) return every(filter.exact, (value, wanted) => value === wanted);
  if ("prefix" in filter) return every(filter.prefix, (value, wanted) => value.startsWith(wanted));
  if ("suffix" in filter) return every(filter.suffix, (value, wanted) => value.endsWith(wanted));
  if ("all" in filter) {
    const tests = filter.all.map(compile);
    return (attributes) => tests.every((test) => test(attributes));
  }
  if ("any" in filter) {
    const tests = filter.any.map(compile);
    return (attributes) => tests.some((test) => test(attributes));
  }
  const inner = compile(filter.not);
  return (attributes) => !inner(attributes);
}

/** A test that every named attribute is present and its text satisfies `holds`. */
function every(wanted: Readonly<Record<string, string>>, holds: (value: string, wanted: string) => boolean): (attributes: Attributes) => boolean {
  const entries = Object.entries(wanted);
  return (attributes) =>
    entries.every(([name, expected]) => {
      const value = textOf(attributes[name]);
      return value !== undefined && holds(value, expected);
    });
}

/** An attribute's canonical text (CloudEvents: integers in decimal, booleans as true/false). */
function textOf(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return undefined;
}

function depthOf(filter: Filter): number {
  if ("all" in filter && filter.all) return 1 + Math.max(0, ...filter.all.map(depthOf));
  if ("any" in filter && filter.any) return 1 + Math.max(0, ...filter.any.map(depthOf));
  if ("not" in filter && filter.not) return 1 + depthOf(filter.not);
  return 1;
}

/** Whether `value` holds objects or arrays nested more than `limit` deep, walked no deeper than that. */
function nestedDeeperThan(value: unknown, limit: number): boolean {
  if (typeof value !== "object" || value === null) return false;
  if (limit === 0) return true;
  return Object.values(value).some((inner) => nestedDeeperThan(inner, limit - 1));
}
