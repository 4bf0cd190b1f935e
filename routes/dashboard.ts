/** `GET /`: the live dashboard, static files read once at start (no build step). */
import { readFileSync } from "node:fs";
import { Hono } from "hono";
import type { AppEnv } from "./env.ts";

const FILES: Record<string, string> = {
  "index.html": "text/html; charset=utf-8",
  "dashboard.js": "text/javascript; charset=utf-8",
  "dashboard.css": "text/css; charset=utf-8",
};

export function dashboardRoutes() {
  const files = new Map(Object.entries(FILES).map(([name, type]) => [name, { type, body: readFileSync(new URL(`./dashboard/${name}`, import.meta.url), "utf8") }]));
  const serve = (name: string) => {
    const file = files.get(name);
    return file ? new Response(file.body, { headers: { "Content-Type": file.type, "Cache-Control": "no-cache" } }) : undefined;
  };
  return new Hono<AppEnv>()
    .get("/", () => serve("index.html")!)
    .get("/dashboard/:file", (c) => serve(c.req.param("file")) ?? c.notFound());
}
