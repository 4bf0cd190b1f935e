import type { z } from "zod";
import { ValidationError } from "./errors.ts";
import { toPointer } from "./event.ts";

/** Parses `input` with `schema`, or throws a ValidationError naming each bad field. */
export function parseOrThrow<S extends z.ZodType>(schema: S, input: unknown, pathPrefix = ""): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw new ValidationError(result.error.issues.map((issue) => ({
    path: pathPrefix + toPointer(issue.path),
    message: issue.message,
  })));
}
