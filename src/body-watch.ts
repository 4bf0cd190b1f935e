/**
 * A request body read with a silence timer: it may take hours while bytes keep coming, but
 * when its client sends nothing for `idleMs` while the broker waits for it, the read fails
 * and the request is answered 408. The timer runs only while a read is waiting, so a
 * reader that pauses (backpressure) is never mistaken for a silent client.
 */
import { HttpProblem } from "../routes/problem.ts";

/** A copy of `request` whose body is watched. */
export function withBodyTimeout(request: Request, idleMs: number): Request {
  const init = { method: request.method, headers: request.headers, body: watched(request.body!, idleMs), signal: request.signal, duplex: "half" };
  return new Request(request.url, init as RequestInit);
}

function watched(source: ReadableStream<Uint8Array>, idleMs: number): ReadableStream<Uint8Array> {
  const reader = source.getReader();
  let silent = false;
  const fail = (controller: ReadableStreamDefaultController<Uint8Array>) => {
    const problem = new HttpProblem(408, "body-timeout", `the request body sent nothing for ${idleMs} ms`);
    silent = true;
    controller.error(problem);
    reader.cancel(problem).catch(() => {});
  };
  return new ReadableStream<Uint8Array>({
    pull: async (controller) => {
      const timer = setTimeout(() => fail(controller), idleMs);
      try {
        const read = await reader.read();
        if (silent) return;
        if (read.done) controller.close();
        else controller.enqueue(read.value);
      } finally {
        clearTimeout(timer);
      }
    },
    cancel: (reason) => reader.cancel(reason),
  }, { highWaterMark: 0 });
}
