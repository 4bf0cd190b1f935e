// HTTP written by hand over TCP: requests no HTTP client sends (no Host, half a request).
import net from "node:net";

/** A connection that has sent some bytes, with what came back. */
export interface RawConnection {
  readonly socket: net.Socket;
  /** Everything received so far. */
  readonly received: () => string;
  /** Resolves once the server's first line (`HTTP/1.1 202 Accepted`) has arrived, or with "" if the connection ended before. */
  readonly statusLine: Promise<string>;
  /** Resolves once the connection has ended, with whether the server ended it (or reset it). */
  readonly closed: Promise<{ byServer: boolean }>;
  /** Ends the connection from this side. */
  close(): void;
}

/** Opens a connection to `url`'s host and port and writes `text` once connected. */
export function rawConnection(url: string, text = ""): RawConnection {
  const { hostname, port } = new URL(url);
  const socket = net.connect(Number(port), hostname);
  let data = "";
  let byServer = false;
  socket.setNoDelay(true);
  socket.on("connect", () => text && socket.write(text));
  socket.on("end", () => (byServer = true));
  socket.on("error", () => (byServer = true));
  const statusLine = new Promise<string>((resolve) => {
    socket.on("data", (chunk) => {
      data += chunk;
      if (data.includes("\r\n")) resolve(data.slice(0, data.indexOf("\r\n")));
    });
    socket.on("close", () => resolve(""));
  });
  const closed = new Promise<{ byServer: boolean }>((resolve) => socket.on("close", () => resolve({ byServer })));
  return { socket, received: () => data, statusLine, closed, close: () => socket.destroy() };
}

/** Sends `text` and resolves with everything received once the server closes the connection. */
export async function rawExchange(url: string, text: string): Promise<string> {
  const connection = rawConnection(url, text);
  await connection.closed;
  return connection.received();
}

/** The status code in a raw answer, or 0 when there was none. */
export function statusOf(answer: string): number {
  return Number(/^HTTP\/1\.[01] (\d{3})/.exec(answer)?.[1] ?? 0);
}

/** `/healthz`'s status, or 0 when it does not answer within `timeoutMs`. */
export async function healthStatus(url: string, timeoutMs = 2_000): Promise<number> {
  try {
    const response = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(timeoutMs) });
    await response.body?.cancel();
    return response.status;
  } catch {
    return 0;
  }
}
