// A bare Deno.serve holding every request it gets with one kind of idle answer, for
// `bench/deno-idle.mjs`: `deno run -A --v8-flags=--expose-gc bench/servers/deno-idle-bodies.ts <port> <variant> [serve|per-connection]`.
// `per-connection` serves each accepted connection on its own, as src/deno.ts does.
// Each streaming body writes one first chunk, then nothing. `GET /mem` answers with
// `Deno.memoryUsage()` after a full collection.
const port = Number(Deno.args[0] ?? 9300);
const variant = Deno.args[1] ?? "stream";
const perConnection = Deno.args[2] === "per-connection";
const first = new TextEncoder().encode("retry: 1000\n\n");
const sse = { "content-type": "text/event-stream" };

const answers: Record<string, (request: Request) => Response | Promise<Response>> = {
  // A complete answer: what stays is the idle keep-alive connection alone.
  keepalive: () => new Response("ok\n\n"),
  // A request read and never answered: the connection and the request in flight.
  pending: () => new Promise<Response>(() => {}),
  // A ReadableStream without pull: one enqueue from start, then nothing.
  stream: () => new Response(new ReadableStream({ start: (c) => c.enqueue(first) }), { headers: sse }),
  // A byte stream (type "bytes"): enqueue takes its buffer over, so each stream gets a copy.
  bytes: () => new Response(new ReadableStream({ type: "bytes", start: (c) => c.enqueue(first.slice()) }), { headers: sse }),
  // The readable side of an identity TransformStream, written once.
  transform: () => {
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    void writable.getWriter().write(first);
    return new Response(readable, { headers: sse });
  },
  // As routes/sse.ts builds it: a pull source with highWaterMark 0.
  pull: () => {
    let started = false;
    return new Response(
      new ReadableStream({
        pull: (c) => {
          if (!started) c.enqueue(first);
          started = true;
        },
      }, { highWaterMark: 0 }),
      { headers: sse },
    );
  },
  // The same, with a listener on request.signal, as routes/stream.ts adds.
  "pull+signal": (request) => {
    request.signal.addEventListener("abort", () => {}, { once: true });
    return answers.pull(request);
  },
};
const answer = answers[variant];
if (!answer) throw new Error(`unknown variant ${variant}; one of ${Object.keys(answers).join(", ")}`);

function handler(request: Request): Response | Promise<Response> {
  if (new URL(request.url).pathname !== "/mem") return answer(request);
  (globalThis as { gc?: () => void }).gc?.();
  return Response.json(Deno.memoryUsage());
}

const listening = () => console.log(`listening on http://127.0.0.1:${port} (${variant}${perConnection ? ", per connection" : ""})`);
if (perConnection) {
  // deno-lint-ignore no-explicit-any
  const { serveHttpOnConnection } = (Deno as any)[(Deno as any).internal];
  const listener = Deno.listen({ hostname: "127.0.0.1", port });
  listening();
  for await (const connection of listener) serveHttpOnConnection(connection, new AbortController().signal, handler, () => new Response(null, { status: 500 }), () => {});
} else {
  Deno.serve({ port, hostname: "127.0.0.1", onListen: listening }, handler);
}
