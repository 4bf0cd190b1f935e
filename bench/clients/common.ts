import { connect, type Socket } from "node:net";

export const arg = (index: number, fallback: string) => process.argv[2 + index] ?? fallback;

/** Prints the one JSON line the orchestrator reads. */
export function report(result: Record<string, unknown>): void {
  console.log(`RESULT ${JSON.stringify(result)}`);
}

/** Times `total` acknowledged events, starting once the first `warmup` are acknowledged (then calls `onStart`). */
export class Stopwatch {
  #acked = 0;
  #started = performance.now();

  constructor(readonly warmup: number, readonly total: number, private readonly onStart = () => {}) {}

  /** Events to publish in all. */
  get events(): number {
    return this.warmup + this.total;
  }

  get done(): boolean {
    return this.#acked >= this.events;
  }

  count(acked: number): void {
    const warm = this.#acked >= this.warmup;
    this.#acked += acked;
    if (!warm && this.#acked >= this.warmup) {
      this.#started = performance.now();
      this.onStart();
    }
  }

  result(): Record<string, number> {
    const seconds = (performance.now() - this.#started) / 1000;
    const timed = this.#acked - this.warmup;
    return { eventsPerSecond: Math.round(timed / seconds), acked: timed, seconds };
  }
}

/** CPU seconds a server has used so far, in all and in the kernel. */
export interface CpuSeconds {
  readonly total: number;
  readonly system: number;
}

/** event-broker's CPU seconds, from its /metrics (NaN for a server without them). */
export async function brokerCpuSeconds(url: string): Promise<CpuSeconds> {
  const lines = (await (await fetch(`${url}/metrics`)).text()).split("\n");
  const value = (name: string) => Number(lines.find((line) => line.startsWith(`${name} `))?.split(" ")[1] ?? Number.NaN);
  return { total: value("process_cpu_seconds_total"), system: value("process_cpu_system_seconds_total") };
}

/** How busy the server and this client were from `start()` to `stop()`, each as a share of one core. */
export class BusyMeter {
  #start: Promise<{ at: number; client: NodeJS.CpuUsage; server: CpuSeconds }> | undefined;

  constructor(private readonly serverCpuSeconds: () => Promise<CpuSeconds>) {}

  async start(): Promise<void> {
    this.#start ??= this.serverCpuSeconds().then((server) => ({ at: performance.now(), client: process.cpuUsage(), server }));
    await this.#start;
  }

  async stop(): Promise<{ serverCpuShare: number; serverKernelShare: number; clientCpuShare: number }> {
    const start = await this.#start!;
    const client = process.cpuUsage(start.client);
    const server = await this.serverCpuSeconds();
    const seconds = (performance.now() - start.at) / 1000;
    const share = (used: number) => Number((used / seconds).toFixed(2));
    return {
      serverCpuShare: share(server.total - start.server.total),
      serverKernelShare: share(server.system - start.server.system),
      clientCpuShare: share((client.user + client.system) / 1e6),
    };
  }
}

export function eventsJson(type: string, count: number, idPrefix: string, data: string): string {
  const events: string[] = [];
  for (let i = 0; i < count; i++) {
    events.push(`{"specversion":"1.0","id":"${idPrefix}-${i}","source":"/bench/producer","type":"${type}","time":"2026-11-28T15:00:00.000Z","datacontenttype":"application/json","data":${data}}`);
  }
  return `[${events.join(",")}]`;
}

export async function post(url: string, body: string): Promise<Response> {
  return await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body });
}

/** A raw SSE connection: counts frames with an id, and hands each chunk to `onChunk`. */
export function openRawStream(url: string, path: string, onChunk: (chunk: Buffer) => void): Promise<Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(`GET ${path} HTTP/1.1\r\nHost: ${hostname}\r\nAccept: text/event-stream\r\n\r\n`));
    let ready = false;
    socket.on("data", (chunk: Buffer) => {
      if (!ready && chunk.includes("\n\n")) {
        ready = true;
        resolve(socket);
      }
      onChunk(chunk);
    });
    socket.on("error", reject);
  });
}

/** Occurrences of `needle` in `chunk`. */
export function countIn(chunk: Buffer, needle: Buffer): number {
  let count = 0;
  for (let at = chunk.indexOf(needle); at !== -1; at = chunk.indexOf(needle, at + needle.length)) count++;
  return count;
}
