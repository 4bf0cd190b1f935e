/** What a stream or a read selects, from its query: `types`, and attribute filters from `source`, `subject` and `filter`. */
import { filtersSchema, parseOrThrow, Selector, typePatternsSchema, ValidationError } from "../src/broker/mod.ts";
import { allowedTypes, type Caller } from "./auth.ts";
import { HttpProblem } from "./problem.ts";

/** The selector a query asks for, within what the caller may subscribe to; a bad filter is named by its parameter. */
export function selectorOf(query: { types?: string; source?: string; subject?: string; filter?: string }, caller: Caller | undefined): Selector {
  const types = allowedTypes(caller, parseOrThrow(typePatternsSchema, parseTypes(query.types), "/types"));
  const { filters, origins } = filtersOf(query);
  return namingParametersNow(origins, () => new Selector(types, parseOrThrow(filtersSchema, filters, "/filters")));
}

/**
 * `?source=` and `?subject=` as exact filters, and `?filter=` (one filter or an array, as
 * JSON), all ANDed; `origins` names the parameter each filter came from.
 */
export function filtersOf(query: { source?: string; subject?: string; filter?: string }): { filters: unknown[]; origins: string[] } {
  const filters: unknown[] = [];
  const origins: string[] = [];
  const add = (filter: unknown, origin: string) => {
    filters.push(filter);
    origins.push(origin);
  };
  if (query.source !== undefined) add({ exact: { source: query.source } }, "source");
  if (query.subject !== undefined) add({ exact: { subject: query.subject } }, "subject");
  if (query.filter !== undefined) {
    const parsed = parseFilterParameter(query.filter);
    if (Array.isArray(parsed)) parsed.forEach((filter, index) => add(filter, `filter/${index}`));
    else add(parsed, "filter");
  }
  return { filters, origins };
}

/** Runs `open`, naming a bad filter by the query parameter it came from (`filter/exact/Region`), not its place in the list. */
export async function namingParameters<T>(origins: readonly string[], open: () => Promise<T>): Promise<T> {
  try {
    return await open();
  } catch (error) {
    throw renamed(error, origins);
  }
}

function namingParametersNow<T>(origins: readonly string[], open: () => T): T {
  try {
    return open();
  } catch (error) {
    throw renamed(error, origins);
  }
}

function renamed(error: unknown, origins: readonly string[]): unknown {
  if (!(error instanceof ValidationError)) return error;
  return new ValidationError(error.issues.map((issue) => {
    const match = /^\/filters\/(\d+)(.*)$/.exec(issue.path);
    if (!match) return issue.path === "/filters" ? { ...issue, path: "filter" } : issue;
    return { ...issue, path: origins[Number(match[1])] + match[2] };
  }), error.message);
}

function parseFilterParameter(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpProblem(400, "invalid", "the filter parameter is not JSON", [{ path: "filter", message: 'must be a filter as JSON, for example {"prefix":{"subject":"orders/"}}' }]);
  }
}

/** `a,b.*` as a list; absent, empty or `*` means every type. */
export function parseTypes(types: string | undefined): string[] {
  const list = (types ?? "").split(",").map((type) => type.trim()).filter((type) => type !== "");
  return list.length > 0 ? list : ["*"];
}
