// The fan-out baseline: Hono's streamSSE, each event written to each stream with writeSSE.
import { Hono } from "hono";
import { type SSEStreamingApi, streamSSE } from "hono/streaming";
import { portArg, serve } from "./runtime.ts";

const streams = new Set<SSEStreamingApi>();
let seq = 0;
const app = new Hono()
  .get("/events/stream", (c) =>
    streamSSE(c, async (stream) => {
      streams.add(stream);
      await stream.write(": connected\n\n"); // the client waits for a first frame, as it does for broker.subscribed
      stream.onAbort(() => {
        streams.delete(stream);
      });
      await new Promise<void>((resolve) => stream.onAbort(resolve));
    }))
  .post("/events", async (c) => {
    const events: unknown[] = [await c.req.json()].flat();
    for (const event of events) {
      const data = JSON.stringify({ ...(event as object), seq: ++seq });
      for (const stream of streams) void stream.writeSSE({ id: String(seq), data });
    }
    return c.json({ accepted: events.length }, 202);
  })
  .get("/subscriptions", (c) => c.json({ subscriptions: [...streams].map(() => ({ kind: "stream", dropped: 0 })) }));
serve(portArg(), app.fetch);
