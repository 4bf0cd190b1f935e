import type { Caller } from "./auth.ts";

/** What a runtime's entry point hands the routes with each request. */
export interface RuntimeBindings {
  /** Keeps this request's connection open however long it idles (Bun.serve closes idle ones after 10 s). */
  holdOpen?: (request: Request) => void;
}

export type AppEnv = { Bindings: RuntimeBindings; Variables: { caller?: Caller } };
