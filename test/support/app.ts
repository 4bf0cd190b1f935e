import { type SettingsInput, settingsSchema } from "../../src/config.ts";
import { createBrokerServer } from "../../src/server.ts";
import { FakeClock } from "./fake-clock.ts";

/** The whole HTTP app in-process, on a fake clock; call `close()` at the end. */
export function testApp(overrides: SettingsInput = {}) {
  const clock = new FakeClock();
  const server = createBrokerServer(settingsSchema.parse(overrides), clock);
  const request = (path: string, init?: RequestInit) => server.app.request(`http://broker.test${path}`, init);
  const post = (path: string, body: unknown, contentType = "application/json") =>
    request(path, {
      method: "POST",
      headers: { "content-type": contentType },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
  return { ...server, clock, request, post };
}

/** Asserts a problem+json answer and returns its body. */
export async function problemOf(response: Response, status: number): Promise<Record<string, unknown> & { errors?: { path: string; message: string }[] }> {
  const body = await response.json();
  if (response.status !== status) throw new Error(`expected ${status}, got ${response.status}: ${JSON.stringify(body)}`);
  if (!response.headers.get("content-type")?.startsWith("application/problem+json")) {
    throw new Error(`not a problem+json answer: ${response.headers.get("content-type")}`);
  }
  for (const field of ["type", "title", "status", "detail"]) {
    if (!(field in body)) throw new Error(`problem lacks ${field}: ${JSON.stringify(body)}`);
  }
  return body;
}
