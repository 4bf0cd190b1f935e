import type { z } from "zod";
import { type FieldIssue, ValidationError } from "./errors.ts";
import { toPointer } from "./event.ts";

/** Parses `input` with `schema`, or throws a ValidationError naming each bad field. */
export function parseOrThrow<S extends z.ZodType>(schema: S, input: unknown, pathPrefix = ""): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw new ValidationError(result.error.issues.flatMap((issue) => fieldIssues(issue, pathPrefix)));
}

/** Zod reports unknown keys as one issue on the object; name each key instead. */
function fieldIssues(issue: z.core.$ZodIssue, pathPrefix: string): FieldIssue[] {
  const path = pathPrefix + toPointer(issue.path);
  if (issue.code === "unrecognized_keys") {
    return issue.keys.map((key) => ({ path: path + toPointer([key]), message: "is not a known field" }));
  }
  return [{ path, message: issue.message }];
}
