/** Every error answer is built here, as RFC 9457 `application/problem+json`. */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { BacklogFullError, BrokerError, type BrokerErrorCode, type FieldIssue, ForbiddenTypeError, MemoryBudgetError, ValidationError } from "../src/broker/mod.ts";

/** An error at the HTTP edge that is not the core's: bad JSON, unreadable content type. */
export class HttpProblem extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    readonly detail: string,
    readonly errors?: readonly FieldIssue[],
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
  }
}

const STATUS_OF_CORE_ERROR: Record<BrokerErrorCode, ContentfulStatusCode> = {
  "invalid": 400,
  "batch-too-large": 413,
  "backlog-full": 503,
  "memory-full": 503,
  "too-many-subscriptions": 503,
  "too-many-pulls": 503,
  "not-found": 404,
  "forbidden": 403,
  "not-required": 409,
  "never-delivered": 409,
  "storage-unavailable": 503,
  "closed": 503,
};

const TITLES: Record<string, string> = {
  "invalid": "Invalid input",
  "invalid-json": "Invalid JSON",
  "batch-too-large": "Batch too large",
  "body-too-large": "Body too large",
  "incoming-full": "Too many bodies arriving",
  "unsupported-media-type": "Unsupported content type",
  "backlog-full": "Subscription backlog full",
  "memory-full": "Memory budget spent",
  "too-many-subscriptions": "Too many subscriptions",
  "too-many-pulls": "Too many waiting pulls",
  "body-timeout": "Request body timed out",
  "aborted": "Request aborted",
  "not-found": "Not found",
  "not-required": "Not a required subscription",
  "never-delivered": "Never delivered",
  "closed": "Shutting down",
  "storage-unavailable": "Storage unavailable",
  "unauthorized": "Unauthorized",
  "forbidden": "Forbidden",
};

/** Seconds a refused publisher should wait before trying again. */
const RETRY_AFTER_SECONDS = "1";

/** Refusals that close the connection after the answer: each open connection holds a file descriptor. */
const CLOSES_CONNECTION = new Set(["too-many-subscriptions", "too-many-pulls", "body-timeout", "closed", "incoming-full"]);

export function problemResponse(status: number, code: string, detail: string, extra: Record<string, unknown> = {}, extraHeaders: Record<string, string> = {}): Response {
  const body = { type: `/problems/${code}`, title: TITLES[code] ?? "Error", status, detail, ...extra };
  const headers: Record<string, string> = { "Content-Type": "application/problem+json", ...extraHeaders };
  if (status === 503) headers["Retry-After"] = RETRY_AFTER_SECONDS;
  if (CLOSES_CONNECTION.has(code)) headers["Connection"] = "close";
  return new Response(JSON.stringify(body), { status, headers });
}

/** The answer an HttpProblem describes. */
export function httpProblemResponse(problem: HttpProblem): Response {
  return problemResponse(problem.status, problem.code, problem.detail, problem.errors ? { errors: problem.errors } : {}, problem.headers);
}

/** What reading a request throws when its client has gone: Bun's AbortError, Deno's BadResource. */
const CLIENT_GONE = new Set(["AbortError", "BadResource"]);

/** The one place any thrown error becomes an answer. */
export function errorToResponse(error: unknown, c: Context): Response {
  if (error instanceof HttpProblem) return httpProblemResponse(error);
  if (error instanceof BrokerError) {
    const extra: Record<string, unknown> = {};
    if (error instanceof ValidationError) extra.errors = error.issues;
    if (error instanceof BacklogFullError) extra.subscription = error.subscriptionId;
    if (error instanceof MemoryBudgetError && error.subscriptionId) extra.subscription = error.subscriptionId;
    if (error instanceof ForbiddenTypeError) extra.errors = [{ path: error.path, message: "is a type this token may not publish" }];
    return problemResponse(STATUS_OF_CORE_ERROR[error.code], error.code, error.message, extra);
  }
  if (error instanceof HTTPException) return problemResponse(error.status, "http", error.message || "request refused");
  if (CLIENT_GONE.has((error as { name?: string } | null)?.name ?? "")) {
    // One line: nothing to debug (Bun 1.4 prints this DOMException as 32 lines, Deno adds a stack).
    console.error(`${c.req.method} ${c.req.path}: the client left before its request was read (${String(error)})`);
    return problemResponse(400, "aborted", "the request ended before its body arrived");
  }
  const reason = error instanceof Error && error.stack ? error.stack : String(error);
  console.error(`${c.req.method} ${c.req.path} failed: ${reason}`);
  return problemResponse(500, "internal", "the broker failed to handle this request");
}
